"""Data sets known by name (for the command line and notebooks): DATASETS, load_dataset.

Each entry also declares its kind ("points2d", "images", "text": which figures fit it) and its
training presets (hidden sizes, epochs, held-out fraction, standardization), so that
``tinygrad_ce.run`` and ``tinygrad-ce train`` need no data-set-specific code.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from . import synthetic
from .files import load_digits
from .text import CORPORA, CorpusInfo, load_corpus  # noqa: F401  (kind "text": see text.py)

KINDS = ("points2d", "images", "text")
# training defaults of a data set that does not say otherwise
DEFAULT_PRESETS: Mapping[str, Any] = MappingProxyType(
    {"hidden": (64, 64), "epochs": 100, "test_size": 0.0, "standardize": False}
)


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
    kind : "points2d", "images" or "text"
        What the rows are: 2-D points (a decision boundary can be drawn), flattened images
        (shown as a grid), or text.
    presets : mapping
        Training defaults for this set, over :data:`DEFAULT_PRESETS`: ``hidden`` (list of
        sizes), ``epochs``, ``test_size`` (held-out fraction, stratified), ``standardize``.
    """

    name: str
    loader: Callable[..., tuple[np.ndarray, np.ndarray]]
    n_features: int
    n_classes: int
    description: str
    kind: str = "points2d"
    presets: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"{self.name}: kind must be one of {KINDS}, got {self.kind!r}")
        unknown = set(self.presets) - set(DEFAULT_PRESETS)
        if unknown:
            raise ValueError(f"{self.name}: unknown presets {sorted(unknown)}")
        merged = MappingProxyType({**DEFAULT_PRESETS, **self.presets})
        object.__setattr__(self, "presets", merged)

    @property
    def is_2d(self) -> bool:
        """True when the points are 2-D, so a decision boundary can be drawn."""
        return self.kind == "points2d" and self.n_features == 2

    def __call__(self, seed: int = 0, **kwargs: Any) -> tuple[np.ndarray, np.ndarray]:
        return self.loader(seed=seed, **kwargs)


def _digits(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    return load_digits()  # fixed data: the seed has nothing to choose


_ENTRIES = [
    DatasetInfo("spiral", synthetic.spiral, 2, 3, "3 interleaved spiral arms, 300 points (CS231n)"),
    DatasetInfo("moons", synthetic.moons, 2, 2, "2 interlocking half circles, 300 points"),
    DatasetInfo("circles", synthetic.circles, 2, 2, "a ring inside a ring, 300 points"),
    DatasetInfo("blobs", synthetic.blobs, 2, 3, "3 Gaussian clusters, 300 points (nearly linear)"),
    DatasetInfo("xor", synthetic.xor, 2, 2, "XOR of the signs of x and y, 300 points"),
    DatasetInfo(
        "digits",
        _digits,
        64,
        10,
        "1,797 handwritten 8x8 digits, pixels 0..16 (UCI, CC BY 4.0)",
        kind="images",
        presets={"hidden": (128,), "epochs": 30, "test_size": 0.2, "standardize": True},
    ),
]
DATASETS: dict[str, DatasetInfo] = {info.name: info for info in _ENTRIES}
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
