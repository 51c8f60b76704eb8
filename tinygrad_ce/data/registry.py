"""Data sets known by name (for the command line and notebooks): DATASETS, load_dataset."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import synthetic
from .files import load_digits, load_mnist, load_mnist_sample


@dataclass(frozen=True)
class DatasetInfo:
    """What a named data set is, and how to load it.

    Calling the entry loads it: ``DATASETS["moons"](seed=1)`` or
    ``DATASETS["moons"](seed=1, noise=0.3)`` (keyword arguments go to the generator).

    Attributes
    ----------
    name : str
    loader : callable
        ``loader(seed=seed, **kwargs) -> (X, y)``.
    n_features : int
        Columns of X (2 for the generated sets, 64 for digits).
    n_classes : int
        Number of classes with the default arguments.
    description : str
        One line for help texts.
    image_shape : (C, H, W) or None
        For images: the shape each row of X has as an image (``X.reshape(-1, *image_shape)``
        is what a CNN takes).
    needs_data_dir : bool
        True when the files come from a folder the user gives (``data_dir=...``).
    """

    name: str
    loader: Callable[..., tuple[np.ndarray, np.ndarray]]
    n_features: int
    n_classes: int
    description: str
    image_shape: tuple[int, int, int] | None = None
    needs_data_dir: bool = False

    @property
    def is_2d(self) -> bool:
        """True when the points are 2-D, so a decision boundary can be drawn."""
        return self.n_features == 2

    def __call__(self, seed: int = 0, **kwargs: Any) -> tuple[np.ndarray, np.ndarray]:
        return self.loader(seed=seed, **kwargs)


def _digits(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    return load_digits()  # fixed data: the seed has nothing to choose


def _mnist_sample(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    return load_mnist_sample()


def _mnist_files(seed: int = 0, data_dir: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """The training split of MNIST (or Fashion-MNIST: same file names) from ``data_dir``."""
    if data_dir is None:
        raise ValueError(
            "this data set is read from IDX files you have: pass data_dir=FOLDER "
            "(--data-dir FOLDER on the command line); nothing is downloaded"
        )
    return load_mnist(data_dir, kind="train")


_ENTRIES = [  # name, loader, n_features, n_classes, description
    ("spiral", synthetic.spiral, 2, 3, "3 interleaved spiral arms, 300 points (CS231n)"),
    ("moons", synthetic.moons, 2, 2, "2 interlocking half circles, 300 points"),
    ("circles", synthetic.circles, 2, 2, "a ring inside a ring, 300 points"),
    ("blobs", synthetic.blobs, 2, 3, "3 Gaussian clusters, 300 points (nearly linear)"),
    ("xor", synthetic.xor, 2, 2, "XOR of the signs of x and y, 300 points"),
    ("digits", _digits, 64, 10, "1,797 handwritten 8x8 digits, pixels 0..16 (UCI, CC BY 4.0)",
     (1, 8, 8)),
    ("mnist5k", _mnist_sample, 784, 10, "5,000 MNIST digits, 28x28, bundled (CC BY-SA 3.0)",
     (1, 28, 28)),
    ("mnist", _mnist_files, 784, 10, "MNIST training split from IDX files in --data-dir",
     (1, 28, 28), True),
    ("fashion-mnist", _mnist_files, 784, 10, "Fashion-MNIST training split from IDX files in "
     "--data-dir", (1, 28, 28), True),
]  # fmt: skip
DATASETS: dict[str, DatasetInfo] = {entry[0]: DatasetInfo(*entry) for entry in _ENTRIES}


def load_dataset(name: str, seed: int = 0, **kwargs: Any) -> tuple[np.ndarray, np.ndarray]:
    """Load a data set by name; see ``DATASETS`` for the names and what each one is.

    Parameters
    ----------
    name : str
        One of ``DATASETS`` (spiral, moons, circles, blobs, xor, digits, mnist5k; mnist and
        fashion-mnist need ``data_dir=FOLDER``).
    seed : int
        Seed for the generated sets (digits ignores it).
    **kwargs
        Passed to the generator, e.g. ``noise=0.3``, or ``data_dir=`` for the IDX sets.

    Returns
    -------
    X : ndarray, float32, shape (N, D)
    y : ndarray, int64, shape (N,)
    """
    try:
        info = DATASETS[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown data set {name!r}; choose one of: {', '.join(DATASETS)}"
        ) from None
    return info(seed, **kwargs)
