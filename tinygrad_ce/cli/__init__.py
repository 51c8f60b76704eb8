"""The ``tinygrad-ce`` command (also ``python -m tinygrad_ce``).

Each subcommand lives in its own module of this package and exposes ``register(subparsers)``,
which adds its parser and sets ``func`` (called with the parsed arguments, returning an exit
code). Bad arguments end with a one-line error and exit code 2, as argparse does; a failure
while running (a file that cannot be written, no memory) with a one-line error and exit code 1.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

SUBCOMMANDS = ("train", "compare", "graph", "word2vec", "generate")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tinygrad-ce",
        description=(
            "tinygrad_ce: a small autodiff engine built to show how gradients flow through "
            "softmax cross-entropy. Train a model, compare the fused and unfused loss, draw "
            "the graph."
        ),
    )
    from tinygrad_ce import __version__

    parser.add_argument("--version", action="version", version=f"tinygrad-ce {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        try:
            module = importlib.import_module(f"tinygrad_ce.cli.{name}")
        except ModuleNotFoundError as err:  # a subcommand still being written
            if err.name != f"tinygrad_ce.cli.{name}":
                raise
            continue
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``tinygrad-ce ARGV``; returns the exit code (argparse exits 2 on bad arguments)."""
    try:
        return _main(argv)
    except BrokenPipeError:  # `tinygrad-ce ... | head`: the reader left; stop quietly
        _stdout_to_devnull()
        return 1


def _main(argv: list[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    try:
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # a closed pipe shows up here, not as a traceback at exit
        return code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except MemoryError as err:
        print(f"tinygrad-ce {args.command}: error: out of memory: {err}", file=sys.stderr)
        return 1


def _stdout_to_devnull() -> None:
    """Point stdout at /dev/null so that the final flush at exit cannot fail again."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError):  # not a real file (a captured stream in tests)
        pass


if __name__ == "__main__":
    sys.exit(main())
