"""Writing results safely: atomic files and strict JSON.

* :func:`write_atomic`: write under a temporary name in the same folder, then ``os.replace``
  it into place, so a reader (or a crash) never sees half a file;
* :func:`jsonable` / :func:`dumps_json`: strict JSON (no ``NaN``/``Infinity``, which are not
  JSON): non-finite floats become ``null``.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import numpy as np

__all__ = ["dumps_json", "jsonable", "replace_atomic", "write_atomic", "write_json"]


def replace_atomic(path: str | os.PathLike, make: Callable[[Path], Any]) -> Path:
    """Call ``make(tmp)`` to create the file ``tmp`` beside ``path``, then move it to ``path``.

    ``tmp`` is ``.NAME.PID.tmp`` in the same folder (so the final ``os.replace`` is atomic);
    it is removed if ``make`` or the move fails. Returns ``path`` as a Path.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        make(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.lexists(tmp):
            os.remove(tmp)
    return path


def write_atomic(path: str | os.PathLike, write: Callable[[IO[bytes]], Any]) -> Path:
    """Call ``write(f)`` on a new binary file beside ``path``, then move it to ``path`` (see
    :func:`replace_atomic`)."""

    def make(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())

    return replace_atomic(path, make)


def jsonable(value: Any) -> Any:
    """``value`` with non-finite floats as None and numpy scalars/arrays as Python values."""
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def dumps_json(value: Any) -> str:
    """Strict, indented JSON text of ``value`` (non-finite numbers as null), with a newline."""
    return json.dumps(jsonable(value), indent=2, allow_nan=False) + "\n"


def write_json(path: str | os.PathLike, value: Any) -> Path:
    """Write ``value`` as strict JSON to ``path``, atomically."""
    text = dumps_json(value).encode("utf-8")
    return write_atomic(path, lambda f: f.write(text))
