"""Bring each notebook's ``.ipynb`` up to date with its ``.py`` source, then re-execute it.

Usage::

    python scripts/run_notebooks.py          # all four, about 30 seconds
    python scripts/run_notebooks.py 01 03    # only the notebooks whose names start so

For each ``notebooks/NN_*.py``: ``jupytext --sync`` copies its cells into the paired ``.ipynb``
(cell ids and metadata are kept), then nbclient runs the notebook from a fresh ``python3``
kernel in ``notebooks/``, as ``tests/test_notebooks.py`` does, and the outputs are saved. It is
``jupytext --sync`` followed by ``jupyter execute --inplace``, minus the per-cell timestamps
that ``jupyter execute`` would store (they would change every line of metadata on every run).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import nbformat
from jupytext.cli import jupytext as jupytext_cli
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"


def run(source: Path) -> None:
    jupytext_cli(["--sync", "--quiet", str(source)])
    path = source.with_suffix(".ipynb")
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    client = NotebookClient(
        nb,
        timeout=300,
        kernel_name="python3",
        record_timing=False,
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    client.execute()
    nbformat.write(nb, path)
    print(f"{path.name}: executed in {time.perf_counter() - start:.1f} s")


def main(prefixes: list[str]) -> int:
    # the kernel imports tinygrad_ce from this checkout even when another copy is installed
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.getenv("PYTHONPATH")]))
    for source in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.py")):
        if not prefixes or source.name.startswith(tuple(prefixes)):
            run(source)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
