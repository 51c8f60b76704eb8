"""Data sets known by name (for the command line and notebooks): DATASETS, load_dataset."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import synthetic
from .files import load_digits
from .text import CORPORA, CorpusInfo, load_corpus  # noqa: F401  (kind "text": see text.py)


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
    """

    name: str
    loader: Callable[..., tuple[np.ndarray, np.ndarray]]
    n_features: int
    n_classes: int
    description: str

    @property
    def is_2d(self) -> bool:
        """True when the points are 2-D, so a decision boundary can be drawn."""
        return self.n_features == 2

    def __call__(self, seed: int = 0, **kwargs: Any) -> tuple[np.ndarray, np.ndarray]:
        return self.loader(seed=seed, **kwargs)


def _digits(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    return load_digits()  # fixed data: the seed has nothing to choose


_ENTRIES = [  # name, loader, n_features, n_classes, description
    ("spiral", synthetic.spiral, 2, 3, "3 interleaved spiral arms, 300 points (CS231n)"),
    ("moons", synthetic.moons, 2, 2, "2 interlocking half circles, 300 points"),
    ("circles", synthetic.circles, 2, 2, "a ring inside a ring, 300 points"),
    ("blobs", synthetic.blobs, 2, 3, "3 Gaussian clusters, 300 points (nearly linear)"),
    ("xor", synthetic.xor, 2, 2, "XOR of the signs of x and y, 300 points"),
    ("digits", _digits, 64, 10, "1,797 handwritten 8x8 digits, pixels 0..16 (UCI, CC BY 4.0)"),
]
DATASETS: dict[str, DatasetInfo] = {entry[0]: DatasetInfo(*entry) for entry in _ENTRIES}
# Text corpora (kind "text") are one string each, not (X, y) arrays: they live in CORPORA
# (name -> CorpusInfo, ``CORPORA["pydoc"]()`` is the text) and load with ``load_corpus``.


def load_dataset(name: str, seed: int = 0, **kwargs: Any) -> tuple[np.ndarray, np.ndarray]:
    """Load a data set by name; see ``DATASETS`` for the names and what each one is.

    Parameters
    ----------
    name : str
        One of ``DATASETS`` (spiral, moons, circles, blobs, xor, digits).
    seed : int
        Seed for the generated sets (digits ignores it).
    **kwargs
        Passed to the generator, e.g. ``noise=0.3``.

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
