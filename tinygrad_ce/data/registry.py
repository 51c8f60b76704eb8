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
from .files import load_digits, load_mnist, load_mnist_sample
from .text import CORPORA, CorpusInfo, load_corpus  # noqa: F401  (kind "text": see text.py)

KINDS = ("points2d", "images", "text")
# training defaults of a data set that does not say otherwise
DEFAULT_PRESETS: Mapping[str, Any] = MappingProxyType(
    {"hidden": (64, 64), "epochs": 100, "test_size": 0.0, "standardize": False}
)
# what ``--model cnn`` changes for an image set that does not say otherwise (models.CNN's head)
DEFAULT_CNN_PRESETS: Mapping[str, Any] = MappingProxyType(
    {"hidden": (120, 84), "epochs": 3, "batch_norm": True}
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
    image_shape : (C, H, W) or None
        For images: the shape each row of X has as an image (``X.reshape(-1, *image_shape)``
        is what a CNN takes).
    cnn_presets : mapping
        For images: what training a CNN changes, over :data:`DEFAULT_CNN_PRESETS` (``hidden``:
        the fully connected widths after the conv blocks, ``epochs``, ``batch_norm``).
    needs_data_dir : bool
        True when the files come from a folder the user gives (``data_dir=...``).
    """

    name: str
    loader: Callable[..., tuple[np.ndarray, np.ndarray]]
    n_features: int
    n_classes: int
    description: str
    kind: str = "points2d"
    presets: Mapping[str, Any] = field(default_factory=dict)
    image_shape: tuple[int, int, int] | None = None
    cnn_presets: Mapping[str, Any] = field(default_factory=dict)
    needs_data_dir: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"{self.name}: kind must be one of {KINDS}, got {self.kind!r}")
        for given, defaults in (
            (self.presets, DEFAULT_PRESETS),
            (self.cnn_presets, DEFAULT_CNN_PRESETS),
        ):
            unknown = set(given) - set(defaults)
            if unknown:
                raise ValueError(f"{self.name}: unknown presets {sorted(unknown)}")
        object.__setattr__(self, "presets", MappingProxyType({**DEFAULT_PRESETS, **self.presets}))
        cnn = MappingProxyType({**DEFAULT_CNN_PRESETS, **self.cnn_presets})
        object.__setattr__(self, "cnn_presets", cnn)

    @property
    def is_2d(self) -> bool:
        """True when the points are 2-D, so a decision boundary can be drawn."""
        return self.kind == "points2d" and self.n_features == 2

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


_MNIST_PRESETS = {"hidden": (128,), "epochs": 5, "test_size": 0.1, "standardize": True}


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
        image_shape=(1, 8, 8),
        cnn_presets={"hidden": (64,), "epochs": 30},
    ),
    DatasetInfo(
        "mnist5k",
        _mnist_sample,
        784,
        10,
        "5,000 MNIST digits, 28x28, bundled (CC BY-SA 3.0)",
        kind="images",
        presets={"hidden": (128,), "epochs": 20, "test_size": 0.2, "standardize": True},
        image_shape=(1, 28, 28),
        cnn_presets={"epochs": 10},
    ),
    *(
        DatasetInfo(
            name,
            _mnist_files,
            784,
            10,
            f"{title} training split from IDX files in --data-dir",
            kind="images",
            presets=_MNIST_PRESETS,
            image_shape=(1, 28, 28),
            needs_data_dir=True,
        )
        for name, title in (("mnist", "MNIST"), ("fashion-mnist", "Fashion-MNIST"))
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
