"""What the example scripts share: reading their command line and choosing where to write.

Not an example itself. A script imports it as ``from _common import ...``, which works when the
script is run as ``python examples/<script>.py`` (Python puts the script's folder on the path).
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import NoReturn


def fail(message: str) -> NoReturn:
    """Print ``<script>: error: <message>`` on one line to stderr and exit with status 2."""
    print(f"{Path(sys.argv[0]).name}: error: {message}", file=sys.stderr)
    raise SystemExit(2)


def read_args(argv: list[str], doc: str, max_args: int = 0) -> list[str]:
    """The positional arguments, after handling ``-h``/``--help`` and rejecting anything else.

    ``-h`` or ``--help`` prints ``doc`` (the script's docstring: what it does and how to run it)
    and exits 0. Another argument starting with ``-``, or more than ``max_args`` arguments, is
    a one-line error (exit 2).
    """
    if any(a in ("-h", "--help") for a in argv):
        try:
            print(doc.strip(), flush=True)
        except BrokenPipeError:  # `script --help | head`: stop quietly
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise SystemExit(0)
    for arg in argv:
        if arg.startswith("-"):
            fail(f"unrecognized option {arg!r} (see --help)")
    if len(argv) > max_args:
        takes = "no arguments" if max_args == 0 else f"at most {max_args} argument"
        takes += "s" if max_args > 1 else ""
        fail(f"takes {takes}, got {len(argv)}: {' '.join(argv)} (see --help)")
    return argv


def output_dir(argv: list[str], doc: str, prefix: str) -> Path:
    """Where a script writes: its one argument, else ``$TINYGRAD_CE_OUT``, else a new temp dir.

    The directory is created if needed (a one-line error, exit 2, if it cannot be: the path is
    a file, or not writable). A new temporary directory is named ``<prefix>...``.
    """
    args = read_args(argv, doc, max_args=1)
    chosen = args[0] if args else os.environ.get("TINYGRAD_CE_OUT")
    if not chosen:
        return Path(tempfile.mkdtemp(prefix=prefix))
    path = Path(chosen)
    if path.exists() and not path.is_dir():
        fail(f"output directory {str(path)!r} is an existing file, not a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        fail(f"cannot create output directory {str(path)!r}: {err.strerror or err}")
    if not os.access(path, os.W_OK):
        fail(f"output directory {str(path)!r} is not writable")
    return path
