"""Argument checks shared by the subcommands: numbers, output files and output folders.

The ``*_int`` / ``*_float`` functions are argparse ``type=`` converters (argparse turns their
``ArgumentTypeError`` into ``tinygrad-ce CMD: error: argument --x: <message>``, exit 2). The
``check_*`` functions take the subcommand's ``parser.error`` and call it with a one-line
message when a path cannot be used, before any work is done.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

Error = Callable[[str], NoReturn]


def _number(text: str, kind: type, what: str) -> float:
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None


def positive_int(text: str) -> int:
    """An integer >= 1."""
    value = int(_number(text, int, "a positive integer"))
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def non_negative_int(text: str) -> int:
    """An integer >= 0 (a seed)."""
    value = int(_number(text, int, "an integer >= 0"))
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {value}")
    return value


def positive_float(text: str) -> float:
    """A finite number > 0."""
    value = _number(text, float, "a positive number")
    if not value > 0 or not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a positive finite number, got {text}")
    return value


def check_output_file(error: Error, option: str, path: str, suffixes: tuple[str, ...]) -> Path:
    """``path`` as a Path if a file can be written there: known suffix, folder exists."""
    out = Path(path)
    if out.suffix.lower() not in suffixes:
        choices = f"{', '.join(suffixes[:-1])} or {suffixes[-1]}"
        error(f"{option} {path!r}: the file name must end in {choices}")
    if out.is_dir():
        error(f"{option} {path!r} is a directory, not a file name")
    parent = out.parent
    if not parent.exists():
        error(f"{option} {path!r}: directory {str(parent)!r} does not exist")
    if not parent.is_dir():
        error(f"{option} {path!r}: {str(parent)!r} is a file, not a directory")
    if not os.access(parent, os.W_OK):
        error(f"{option} {path!r}: directory {str(parent)!r} is not writable")
    return out


def run_and_report(command: str, run: Any, config: Any, error: Error, report: Any) -> int:
    """Run a training ``config`` with the library's ``run(config, echo=...)`` and print what
    happened: a bad setting is ``error`` (exit 2), an unwritable file one line and exit 1, a
    diverged run its message and exit 1, a complete run ``report(result)`` and exit 0."""
    from tinygrad_ce.run import ConfigError, RunError

    try:
        result = run(config, echo=_echo)
    except ConfigError as err:
        error(err.format("--" + err.option.replace("_", "-")))
    except RunError as err:
        print(f"{command}: error: {err}", file=sys.stderr)
        return 1
    if result.status != "complete":
        print(f"{command}: error: {result.message}", file=sys.stderr)
        print(f"wrote {result.files['metrics']} (status {result.status!r})")
        return 1
    report(result)
    return 0


def _echo(line: str) -> None:
    print(line)
    sys.stdout.flush()


def check_output_dir(error: Error, option: str, path: str) -> Path:
    """``path`` as a Path if it is, or can become, a writable folder (nothing is created)."""
    out = Path(path)
    if out.exists() and not out.is_dir():
        error(f"{option} {path!r} is a file, not a folder")
    existing = out
    while not existing.exists():  # the nearest part of the path that exists must be a folder
        existing = existing.parent
    if not existing.is_dir():
        error(f"{option} {path!r}: {str(existing)!r} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        error(f"{option} {path!r}: {str(existing)!r} is not writable")
    return out
