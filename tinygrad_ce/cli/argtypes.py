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
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

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
