"""Small generated 2-D classification problems for teaching.

Every generator takes a ``seed``, returns ``(X, y)`` with ``X`` float32 of shape (N, 2) and ``y``
int64 of shape (N,), splits the points between the classes as evenly as possible, and shuffles
them (so the first rows are not all one class). The same seed always gives the same data.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

import numpy as np

Data = tuple[np.ndarray, np.ndarray]
_Gen = TypeVar("_Gen", bound=Callable[..., Data])

# docstring entries every generator shares, filled in by @_shared_doc where {name} stands
_DOC_ENTRIES = {
    "noise": (
        "noise : float\n        Standard deviation of Gaussian noise added to each coordinate."
    ),
    "seed": "seed : int\n        Seed of the random generator.",
    "X": "X : ndarray, float32, shape (n, 2)",
}


def _shared_doc(fn: _Gen) -> _Gen:
    """Fill the ``{noise}``, ``{seed}`` and ``{X}`` entries of ``fn``'s docstring."""
    fn.__doc__ = (fn.__doc__ or "").format(**_DOC_ENTRIES)
    return fn


def _check_count(name: str, value: int, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_noise(noise: float, name: str = "noise") -> float:
    if not np.isfinite(noise) or noise < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {noise!r}")
    return float(noise)


def _split(n: int, parts: int) -> list[int]:
    """Split ``n`` into ``parts`` counts that differ by at most one."""
    return [n // parts + (i < n % parts) for i in range(parts)]


def _finish(rng: np.random.Generator, points: Sequence[np.ndarray], noise: float = 0.0) -> Data:
    """Stack per-class point arrays, add Gaussian noise, shuffle; class ``k`` is ``points[k]``."""
    X = np.concatenate(points, axis=0)
    y = np.concatenate([np.full(len(p), k, dtype=np.int64) for k, p in enumerate(points)])
    if noise > 0:
        X = X + noise * rng.standard_normal(X.shape)
    order = rng.permutation(len(X))
    return X[order].astype(np.float32), y[order]


@_shared_doc
def spiral(n_per_class: int = 100, classes: int = 3, noise: float = 0.2, seed: int = 0) -> Data:
    """Interleaved spiral arms, one per class (the CS231n toy problem); not linearly separable.

    Arm ``k`` runs from the origin out to radius 1 while its angle turns by 4 radians; the arms
    start ``2*pi/classes`` apart and ``noise`` jitters the angle (in radians).

    Parameters
    ----------
    n_per_class : int
        Points per arm; N = n_per_class * classes.
    classes : int
        Number of arms (classes), >= 1.
    noise : float
        Standard deviation of the angular jitter.
    {seed}

    Returns
    -------
    X : ndarray, float32, shape (N, 2)
    y : ndarray, int64, shape (N,), values 0..classes-1
    """
    n_per_class = _check_count("n_per_class", n_per_class, 1)
    classes = _check_count("classes", classes, 1)
    noise = _check_noise(noise)
    rng = np.random.default_rng(seed)
    radius = np.linspace(0.0, 1.0, n_per_class)
    arms = []
    for k in range(classes):
        angle = 2 * np.pi * k / classes + 4.0 * radius
        angle = angle + noise * rng.standard_normal(n_per_class)
        arms.append(np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1))
    return _finish(rng, arms)


@_shared_doc
def moons(n: int = 300, noise: float = 0.1, seed: int = 0) -> Data:
    """Two interlocking half circles: class 0 arcs over the top, class 1 under the bottom.

    Parameters
    ----------
    n : int
        Total number of points (>= 2), split evenly between the two classes.
    {noise}
    {seed}

    Returns
    -------
    {X}
    y : ndarray, int64, shape (n,), values 0 or 1
    """
    n = _check_count("n", n, 2)
    noise = _check_noise(noise)
    rng = np.random.default_rng(seed)
    n0, n1 = _split(n, 2)
    t0 = np.linspace(0.0, np.pi, n0)
    t1 = np.linspace(0.0, np.pi, n1)
    upper = np.stack([np.cos(t0), np.sin(t0)], axis=1)
    lower = np.stack([1.0 - np.cos(t1), 0.5 - np.sin(t1)], axis=1)
    return _finish(rng, [upper, lower], noise)


@_shared_doc
def circles(n: int = 300, noise: float = 0.05, factor: float = 0.5, seed: int = 0) -> Data:
    """A ring of radius 1 (class 0) around a ring of radius ``factor`` (class 1).

    Parameters
    ----------
    n : int
        Total number of points (>= 2), split evenly between the two rings.
    {noise}
    factor : float
        Radius of the inner ring, strictly between 0 and 1.
    {seed}

    Returns
    -------
    {X}
    y : ndarray, int64, shape (n,), values 0 or 1
    """
    n = _check_count("n", n, 2)
    noise = _check_noise(noise)
    if not 0 < factor < 1:
        raise ValueError(f"factor (inner radius / outer radius) must be in (0, 1), got {factor!r}")
    rng = np.random.default_rng(seed)
    rings = []
    for radius, count in zip((1.0, float(factor)), _split(n, 2), strict=True):
        t = np.linspace(0.0, 2 * np.pi, count, endpoint=False)
        rings.append(radius * np.stack([np.cos(t), np.sin(t)], axis=1))
    return _finish(rng, rings, noise)


@_shared_doc
def blobs(n: int = 300, centers: int | np.ndarray = 3, std: float = 1.0, seed: int = 0) -> Data:
    """Isotropic Gaussian clusters, one per class.

    With an integer ``centers = K`` the centres sit evenly on a circle of radius ``max(4, K)``
    (turned by a random angle), so with ``std = 1`` neighbouring clusters barely overlap; raise
    ``std`` to make the problem harder. An array gives the centres explicitly.

    Parameters
    ----------
    n : int
        Total number of points, split evenly between the clusters (>= number of clusters).
    centers : int or array_like, shape (K, 2)
        Number of clusters, or their centres.
    std : float
        Standard deviation of each cluster along each axis.
    {seed}

    Returns
    -------
    {X}
    y : ndarray, int64, shape (n,), values 0..K-1
    """
    std = _check_noise(std, "std")
    rng = np.random.default_rng(seed)
    if isinstance(centers, (int, np.integer)) and not isinstance(centers, bool):
        k = _check_count("centers", centers, 1)
        angle = rng.uniform(0, 2 * np.pi) + 2 * np.pi * np.arange(k) / k
        means = max(4.0, float(k)) * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    else:
        means = np.asarray(centers, dtype=np.float64)
        if means.ndim != 2 or means.shape[1] != 2 or len(means) == 0:
            raise ValueError(
                f"centers must be an int or an array of shape (K, 2), got shape {means.shape}"
            )
    n = _check_count("n", n, len(means))
    clusters = [
        mean + std * rng.standard_normal((count, 2))
        for mean, count in zip(means, _split(n, len(means)), strict=True)
    ]
    return _finish(rng, clusters)


@_shared_doc
def xor(n: int = 300, noise: float = 0.1, seed: int = 0) -> Data:
    """Four quadrant clusters labelled ``(x > 0) XOR (y > 0)``: the classic non-linear problem.

    Each point is drawn uniformly from ``0.1 <= |x|, |y| <= 1`` in its quadrant (so ``noise=0``
    leaves a clean gap along the axes), then Gaussian noise is added.

    Parameters
    ----------
    n : int
        Total number of points (>= 4), split evenly between the four quadrants.
    {noise}
    {seed}

    Returns
    -------
    {X}
    y : ndarray, int64, shape (n,), 1 where exactly one coordinate is positive
    """
    n = _check_count("n", n, 4)
    noise = _check_noise(noise)
    rng = np.random.default_rng(seed)
    signs = [(1, 1), (-1, -1), (1, -1), (-1, 1)]  # first two -> class 0, last two -> class 1
    counts = _split(n, 4)
    quads = [
        np.asarray(s) * rng.uniform(0.1, 1.0, (c, 2)) for s, c in zip(signs, counts, strict=True)
    ]
    return _finish(rng, [np.concatenate(quads[:2]), np.concatenate(quads[2:])], noise)
