"""Getting arrays ready for training: split, standardize, one-hot encode, cut into batches.

Everything works on numpy arrays (a ``Tensor`` is accepted and unwrapped); wrap a batch in
``Tensor(...)`` yourself when it goes into a model.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np

from ..tensor import Tensor


def _array(a: Any, name: str) -> np.ndarray:
    arr = a.data if isinstance(a, Tensor) else np.asarray(a)
    if arr.ndim == 0:
        raise ValueError(f"{name} must have at least one dimension (one row per example)")
    return arr


def _pair(X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    X, y = _array(X, "X"), _array(y, "y")
    if len(X) != len(y):
        raise ValueError(f"X and y must have the same number of rows, got {X.shape} and {y.shape}")
    return X, y


class DataLoader:
    """Iterate over ``(X_batch, y_batch)`` pairs of numpy arrays, optionally shuffled.

    Each ``for`` loop over the loader is one epoch. With ``shuffle=True`` every epoch uses a new
    order, drawn from a generator seeded once with ``seed``: two loaders with the same seed give
    the same sequence of epochs.

    Parameters
    ----------
    X : array_like, shape (N, ...)
    y : array_like, shape (N, ...)
    batch_size : int
        Rows per batch; the last batch is smaller unless ``drop_last``.
    shuffle : bool
        Shuffle the rows at the start of each epoch.
    seed : int, optional
        Seed for the shuffling (None: different every run).
    drop_last : bool
        Skip the final incomplete batch.

    Examples
    --------
    >>> loader = DataLoader(np.zeros((10, 2)), np.arange(10), batch_size=4)
    >>> len(loader), [len(yb) for _, yb in loader]
    (3, [4, 4, 2])
    """

    def __init__(
        self,
        X: Any,
        y: Any,
        batch_size: int = 32,
        shuffle: bool = False,
        seed: int | None = None,
        drop_last: bool = False,
    ) -> None:
        self.X, self.y = _pair(X, y)
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
            raise TypeError(f"batch_size must be an int, got {batch_size!r}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self._rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        """Number of batches per epoch."""
        n = len(self.X)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        n = len(self.X)
        order = self._rng.permutation(n) if self.shuffle else np.arange(n)
        for b in range(len(self)):
            idx = order[b * self.batch_size : (b + 1) * self.batch_size]
            yield self.X[idx], self.y[idx]  # fancy indexing: copies, safe to modify

    def __repr__(self) -> str:
        return (
            f"DataLoader(n={len(self.X)}, batch_size={self.batch_size}, shuffle={self.shuffle}, "
            f"drop_last={self.drop_last}, batches={len(self)})"
        )


def _test_count(n: int, test_size: float) -> int:
    if isinstance(test_size, (int, np.integer)) and not isinstance(test_size, bool):
        count = int(test_size)
    elif isinstance(test_size, (float, np.floating)) and 0 < test_size < 1:
        count = round(n * test_size)
    else:
        raise ValueError(
            f"test_size must be a fraction in (0, 1) or a number of rows, got {test_size!r}"
        )
    if not 1 <= count <= n - 1:
        raise ValueError(
            f"test_size={test_size!r} gives {count} test rows out of {n}; both the train and "
            "the test part need at least one row"
        )
    return count


def train_test_split(
    X: Any, y: Any, test_size: float = 0.2, seed: int = 0, stratify: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Shuffle the rows and split them into a training and a test part.

    Parameters
    ----------
    X : array_like, shape (N, ...)
    y : array_like, shape (N,)
    test_size : float or int
        Fraction of rows (0 < f < 1) or number of rows for the test part.
    seed : int
        Seed of the shuffle.
    stratify : bool
        Keep each class's share (about) the same in both parts: every class is split on its own,
        so with ``y`` labels the class proportions match to within one row per class.

    Returns
    -------
    X_train, X_test, y_train, y_test : ndarray
        In that order (as scikit-learn's ``train_test_split``).
    """
    X, y = _pair(X, y)
    n = len(X)
    n_test = _test_count(n, test_size)
    rng = np.random.default_rng(seed)
    if not stratify:
        order = rng.permutation(n)
        test, train = order[:n_test], order[n_test:]
    else:
        if y.ndim != 1:
            raise ValueError(f"stratify=True needs 1-D class labels y, got shape {y.shape}")
        test_parts, train_parts = [], []
        fraction = n_test / n
        for label in np.unique(y):
            members = rng.permutation(np.flatnonzero(y == label))
            k = round(len(members) * fraction)
            test_parts.append(members[:k])
            train_parts.append(members[k:])
        test = rng.permutation(np.concatenate(test_parts))
        train = rng.permutation(np.concatenate(train_parts))
        if len(test) == 0 or len(train) == 0:
            raise ValueError(
                f"stratified split with test_size={test_size!r} left one part empty; "
                "use a larger data set or test_size"
            )
    return X[train], X[test], y[train], y[test]


class Standardizer:
    """Shift and scale each feature (column) to mean 0 and standard deviation 1.

    Fit on the training data only, then apply the same transform to validation and test data.
    A constant feature (std 0) is only shifted, never divided by zero. Floating inputs keep
    their dtype; integer inputs become float32.

    Attributes
    ----------
    mean : ndarray, shape (D,) (or the trailing shape of X)
    std : ndarray, same shape; zeros replaced by 1

    Examples
    --------
    >>> s = Standardizer().fit(np.array([[0.0, 5.0], [2.0, 5.0]]))
    >>> s.transform(np.array([[1.0, 5.0]]))
    array([[0., 0.]])
    """

    def __init__(self) -> None:
        self.mean: np.ndarray | None = None
        self.std: np.ndarray | None = None

    def fit(self, X: Any) -> Standardizer:
        """Compute the per-feature mean and std of ``X`` (shape (N, ...), N >= 1)."""
        X = _array(X, "X")
        if len(X) == 0:
            raise ValueError("cannot fit a Standardizer on an empty array")
        X64 = X.astype(np.float64)
        self.mean = X64.mean(axis=0)
        std = X64.std(axis=0)
        self.std = np.where(std > 0, std, 1.0)
        return self

    def _check(self, X: Any) -> np.ndarray:
        if self.mean is None or self.std is None:
            raise RuntimeError("Standardizer is not fitted: call fit(X_train) first")
        X = _array(X, "X")
        if X.shape[1:] != self.mean.shape:
            raise ValueError(
                f"Standardizer was fitted on rows of shape {self.mean.shape}, "
                f"got X of shape {X.shape}"
            )
        return X

    @staticmethod
    def _out_dtype(X: np.ndarray) -> np.dtype:
        return X.dtype if X.dtype.kind == "f" else np.dtype(np.float32)

    def transform(self, X: Any) -> np.ndarray:
        """Return ``(X - mean) / std``; shape as ``X``."""
        X = self._check(X)
        return ((X - self.mean) / self.std).astype(self._out_dtype(X))

    def fit_transform(self, X: Any) -> np.ndarray:
        """``fit(X)`` then ``transform(X)``."""
        return self.fit(X).transform(X)

    def inverse_transform(self, Z: Any) -> np.ndarray:
        """Undo ``transform``: return ``Z * std + mean``."""
        Z = self._check(Z)
        return (Z * self.std + self.mean).astype(self._out_dtype(Z))

    def __repr__(self) -> str:
        state = "unfitted" if self.mean is None else f"features={self.mean.shape}"
        return f"Standardizer({state})"


def standardize(train: Any, *others: Any) -> tuple[np.ndarray, ...]:
    """Standardize ``train`` with its own statistics and the other arrays with the same ones.

    ``X_train, X_test = standardize(X_train, X_test)``; see ``Standardizer``.
    """
    scaler = Standardizer().fit(train)
    return (scaler.transform(train), *(scaler.transform(o) for o in others))


def one_hot(y: Any, classes: int) -> np.ndarray:
    """One-hot encode integer labels.

    Parameters
    ----------
    y : array_like of int, shape (N,)
        Labels in ``0 .. classes-1``.
    classes : int
        Number of classes C.

    Returns
    -------
    ndarray, float32, shape (N, C)
        Row ``i`` is 1 at column ``y[i]`` and 0 elsewhere.
    """
    y = _array(y, "y")
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D class labels, got shape {y.shape}")
    if y.dtype.kind not in "iu":
        if y.dtype.kind == "f" and np.all(np.isfinite(y)) and np.all(y == np.round(y)):
            y = y.astype(np.int64)
        else:
            raise TypeError(f"y must hold integer class labels, got dtype {y.dtype}")
    if classes < 1:
        raise ValueError(f"classes must be >= 1, got {classes}")
    if len(y) and (y.min() < 0 or y.max() >= classes):
        raise ValueError(f"labels must be in 0..{classes - 1}, got min {y.min()}, max {y.max()}")
    out = np.zeros((len(y), classes), dtype=np.float32)
    out[np.arange(len(y)), y] = 1.0
    return out
