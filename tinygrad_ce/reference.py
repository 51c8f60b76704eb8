"""Hand-written references for softmax cross-entropy, to measure the engine against.

* :func:`numpy_forward` / :func:`numpy_backward`: mean cross-entropy by log-sum-exp and its
  gradient ``(softmax - onehot) / N``, written the way one would by hand;
* :func:`numpy_tuned_forward` / :func:`numpy_tuned_backward`: the same maths written for
  speed (the floor for any numpy implementation);
* :func:`naive_cross_entropy`: the textbook formula with no max shift, from Tensor ops (the
  thing that overflows).

``compare`` and ``benchmarks/bench_cross_entropy.py`` use them; the loss itself always comes
from :mod:`tinygrad_ce.functional`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .tensor import Tensor

__all__ = [
    "naive_cross_entropy",
    "numpy_backward",
    "numpy_forward",
    "numpy_tuned_backward",
    "numpy_tuned_forward",
]


def numpy_forward(z: np.ndarray, y: np.ndarray) -> tuple[Any, tuple]:
    """Mean cross-entropy of logits ``z`` (N, C) and labels ``y`` (N,), by log-sum-exp.

    Returns the loss (a numpy scalar of ``z``'s dtype) and what the backward needs:
    ``exp(z - max)`` and its row sums.
    """
    m = z.max(axis=1, keepdims=True)
    e = np.exp(z - m)
    s = e.sum(axis=1, keepdims=True)
    rows = np.arange(len(y))
    loss = np.mean(np.log(s[:, 0]) + m[:, 0] - z[rows, y])
    return loss, (e, s, y)


def numpy_backward(saved: tuple) -> np.ndarray:
    """The gradient ``(softmax - onehot) / N`` from what :func:`numpy_forward` kept."""
    e, s, y = saved
    grad = e / s
    grad[np.arange(len(y)), y] -= 1.0
    grad /= len(y)
    return grad


def numpy_tuned_forward(z: np.ndarray, y: np.ndarray) -> tuple[Any, tuple]:
    """The same as :func:`numpy_forward`, written for speed: ``exp`` in place, no temporaries,
    row sums as a BLAS matrix-vector product with ones."""
    m = z.max(axis=1, keepdims=True)
    e = np.subtract(z, m)
    rows = np.arange(len(y))
    picked = e[rows, y]
    np.exp(e, out=e)
    s = e @ np.ones(e.shape[1], e.dtype)
    loss = (np.log(s) - picked).sum() * (1.0 / len(y))
    return loss, (e, s, y)


def numpy_tuned_backward(saved: tuple) -> np.ndarray:
    """``e * (1 / (N s))`` in place in the forward's buffer, then ``-1/N`` at the labels."""
    e, s, y = saved
    n = len(y)
    e *= (1.0 / n / s).reshape(-1, 1)
    e[np.arange(n), y] -= 1.0 / n
    return e


def naive_cross_entropy(logits: Tensor, y: np.ndarray) -> Tensor:
    """The textbook formula ``mean(-log(exp(z_y) / sum(exp(z))))`` with no max shift.

    Built from Tensor ops so that it has a gradient too. ``exp`` overflows once logits pass
    about 88 (float32) or 709 (float64), and tiny probabilities underflow to 0 (log 0 = -inf).
    """
    e = logits.exp()
    p = e / e.sum(axis=-1, keepdims=True)
    return -(p[np.arange(len(y)), y].log()).mean()
