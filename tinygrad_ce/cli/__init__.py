"""The ``tinygrad-ce`` command (also ``python -m tinygrad_ce``).

Each subcommand lives in its own module of this package and exposes ``register(subparsers)``,
which adds its parser and sets ``func`` (called with the parsed arguments, returning an exit
code). Bad arguments end with a one-line error and exit code 2, as argparse does.
"""

from __future__ import annotations

import argparse
import importlib
import sys

SUBCOMMANDS = ("train", "compare", "graph")


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
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
