"""Functional API (imported as ``F``): activations, softmax family and the losses.

Everything here takes and returns Tensors and is composed of the primitive ops in ``ops/``
(``cross_entropy(fused=True)`` records the one fused ``ops.SoftmaxCrossEntropy`` node).

The cross-entropy story in one place
------------------------------------
For logits ``z`` (classes on the last axis) and a target row ``t``::

    log p  = z - logsumexp(z)                       (log_softmax)
    loss   = -sum_c t_c log p_c = sum(t) * logsumexp(z) - sum_c t_c z_c
    dloss/dz = sum(t) * softmax(z) - t              (= softmax(z) - t when t sums to 1)

``cross_entropy(..., fused=False)`` composes the first two lines from primitive nodes, each
with its own VJP; ``fused=True`` records one ``SoftmaxCrossEntropy`` node whose backward is the
third line.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from .ops.loss import (
    SoftmaxCrossEntropy,
    Target,
    check_weight,
    log_softmax_of,
    read_target,
    softmax_of,
)
from .ops.reduce import normalize_axis, stable_shift
from .ops.shape import scatter_add
from .tensor import Tensor

Reduction = Literal["mean", "sum", "none"]
_REDUCTIONS = ("mean", "sum", "none")

__all__ = [
    "SoftmaxCrossEntropy",
    "cross_entropy",
    "log_softmax",
    "logsumexp",
    "mse_loss",
    "relu",
    "sigmoid",
    "softmax",
    "tanh",
]


# ---------------------------------------------------------------------------------------------
# small helpers


def _tensor(x: Any, what: str) -> Tensor:
    """``x`` as a Tensor (no copy when it already is one)."""
    return x if isinstance(x, Tensor) else Tensor(x)


def _float_tensor(x: Any, what: str) -> Tensor:
    """``x`` as a floating-point Tensor; integer or boolean data is an error, not a cast."""
    t = _tensor(x, what)
    if t.dtype.kind != "f":
        raise TypeError(
            f"{what} must be floating point, got dtype {t.dtype} (shape {t.shape}); "
            f"convert it first, e.g. `x.astype(np.float32)`"
        )
    return t


def _check_axis(x: Tensor, axis: Any, what: str) -> None:
    if x.ndim == 0:
        normalize_axis(axis, 0)  # axis 0, -1 or None of a 0-d tensor: the value itself
        return
    axes = (axis,) if isinstance(axis, (int, np.integer)) else axis
    if axes is not None:
        for a in axes:
            if not -x.ndim <= a < x.ndim:
                raise ValueError(
                    f"{what}: axis {a} is out of range for a tensor of shape {x.shape}"
                )


# ---------------------------------------------------------------------------------------------
# activations


def relu(x: Any) -> Tensor:
    """``max(x, 0)`` elementwise; the gradient is ``g * (x > 0)``."""
    return _float_tensor(x, "relu input").relu()


def tanh(x: Any) -> Tensor:
    """``tanh(x)`` elementwise; the gradient is ``g * (1 - tanh(x)**2)``."""
    return _float_tensor(x, "tanh input").tanh()


def sigmoid(x: Any) -> Tensor:
    """``1 / (1 + exp(-x))`` elementwise, stable for large ``|x|``; gradient ``g * s * (1 - s)``."""
    return _float_tensor(x, "sigmoid input").sigmoid()


# ---------------------------------------------------------------------------------------------
# softmax family (composed of primitive nodes, so they are differentiable to any order)


def softmax(x: Any, axis: int = -1) -> Tensor:
    """Softmax along ``axis``: ``exp(x - m) / sum(exp(x - m))`` with ``m`` the max (a constant).

    Parameters
    ----------
    x : Tensor, shape (..., C, ...)
        Floating-point scores.
    axis : int
        The axis that sums to one.

    Returns
    -------
    Tensor of ``x``'s shape. Stable for large inputs: the largest entry of each slice becomes
    ``exp(0) = 1`` before dividing, so nothing overflows.
    """
    x = _float_tensor(x, "softmax input")
    _check_axis(x, axis, "softmax")
    if x.dtype == np.float16:  # sums of many float16 terms overflow: work in float32
        return softmax_of(x.astype(np.float32), axis).astype(np.float16)
    return softmax_of(x, axis)


def logsumexp(x: Any, axis: int | tuple[int, ...] | None = -1, keepdims: bool = False) -> Tensor:
    """``log(sum(exp(x), axis))`` computed as ``m + log(sum(exp(x - m)))``, ``m`` the max.

    Parameters
    ----------
    x : Tensor
        Floating-point values.
    axis : int, tuple of ints or None
        Axes to reduce (None: all).
    keepdims : bool
        Keep the reduced axes with length 1.

    Returns
    -------
    Tensor with ``axis`` removed (or of length 1 with ``keepdims``). Its gradient is
    ``softmax(x, axis)`` times the upstream gradient.
    """
    x = _float_tensor(x, "logsumexp input")
    _check_axis(x, axis, "logsumexp")
    if x.dtype == np.float16:  # sums of many float16 terms overflow: work in float32
        return logsumexp(x.astype(np.float32), axis, keepdims).astype(np.float16)
    if x.ndim == 0:
        return x * 1.0  # log(exp(x)): the value itself, still a node of the graph
    m = stable_shift(x._data, axis)
    out = (x - m).exp().sum(axis=axis, keepdims=True).log() + m
    if keepdims:
        return out
    return out.reshape(np.squeeze(m, axis=axis).shape)


def log_softmax(x: Any, axis: int = -1) -> Tensor:
    """``x - logsumexp(x, axis)``: log-probabilities, stable for large inputs.

    Parameters
    ----------
    x : Tensor, shape (..., C, ...)
    axis : int

    Returns
    -------
    Tensor of ``x``'s shape whose ``exp`` sums to one along ``axis``.
    """
    x = _float_tensor(x, "log_softmax input")
    _check_axis(x, axis, "log_softmax")
    if x.dtype == np.float16:  # sums of many float16 terms overflow: work in float32
        return log_softmax_of(x.astype(np.float32), axis).astype(np.float16)
    return log_softmax_of(x, axis)


# ---------------------------------------------------------------------------------------------
# mean squared error


def _reduce(per_item: Tensor, reduction: str, denominator: float | None = None) -> Tensor:
    if reduction == "none":
        return per_item
    total = per_item.sum()
    if reduction == "sum":
        return total
    count = per_item.size if denominator is None else denominator
    return total * (1.0 / count) if count else total * 0.0


def _check_reduction(reduction: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def mse_loss(pred: Any, target: Any, reduction: Reduction = "mean") -> Tensor:
    """Mean squared error ``(pred - target)**2``, reduced.

    Parameters
    ----------
    pred : Tensor, any shape
    target : Tensor or array of the same shape (no broadcasting: a (N, 1) vs (N,) mix-up is a
        classic silent bug, so it is an error here)
    reduction : "mean" | "sum" | "none"

    Returns
    -------
    A scalar Tensor, or one of ``pred``'s shape for ``"none"``. The gradient is
    ``2 (pred - target) / size`` for the mean.
    """
    _check_reduction(reduction)
    pred = _float_tensor(pred, "mse_loss pred")
    target = target if isinstance(target, Tensor) else Tensor(np.asarray(target), dtype=pred.dtype)
    if target.shape != pred.shape:
        raise ValueError(
            f"mse_loss: pred has shape {pred.shape} but target has shape {target.shape}; "
            "they must match exactly (reshape one of them)"
        )
    diff = pred - target
    return _reduce(diff * diff, reduction)


# ---------------------------------------------------------------------------------------------
# cross-entropy: reading and checking the target once, for both paths


# ---------------------------------------------------------------------------------------------
# the composed (unfused) loss


def _cross_entropy_unfused(logits: Tensor, spec: Target, reduction: str) -> Tensor:
    """The loss as a chain of primitive nodes, each with its own VJP (read this to learn it).

    Nodes: Sub (max shift, a constant), Exp, Sum, Log, Sub (= log_softmax), then GetItem and
    Neg (class indices) or Mul, Sum, Neg (a target matrix), then the reduction (Sum, Mul).
    """
    z = logits.reshape((spec.n, spec.classes))
    shifted = z - stable_shift(z._data, 1)  # the max is a constant: it cancels in the maths
    log_probs = shifted - shifted.exp().sum(axis=1, keepdims=True).log()
    if spec.plain:
        # plain labels: pick log p[n, y[n]] for each row n
        per_row = -log_probs[np.arange(spec.n), spec.y]
    else:
        # Ignored rows are left out (their loss is 0), and with class indices only the label
        # entries are read when there is no smoothing: a -inf logit elsewhere in a row then
        # never meets a zero weight (0 * -inf would make the loss NaN; the fused node and
        # PyTorch are finite there).
        kept = None if spec.ignored is None else np.flatnonzero(~spec.ignored)
        rows = log_probs if kept is None else log_probs[kept]
        if spec.kind == "index" and spec.b is None:
            y, a = (spec.y, spec.a) if kept is None else (spec.y[kept], spec.a[kept])
            per_row = -(rows[np.arange(len(y)), y] * a)
        else:
            if spec.kind == "index":
                tmat: Any = spec.dense(logits.dtype)  # a constant (N, C) target matrix
            else:
                tmat = spec.smoothed_probs(spec.probs.reshape((spec.n, spec.classes)))
            per_row = -(rows * (tmat if kept is None else tmat[kept])).sum(axis=1)
        if kept is not None:  # back to one entry per row, 0 for the ignored ones
            per_row = scatter_add(per_row, (kept,), (spec.n,))
    per_item = per_row.reshape(spec.batch_shape)
    if reduction == "mean" and not spec.denominator:
        return per_item.sum() * 0.0  # nothing to average: 0, not NaN (see cross_entropy)
    return _reduce(per_item, reduction, spec.denominator)


# ---------------------------------------------------------------------------------------------
# public entry point


def cross_entropy(
    logits: Any,
    target: Any,
    *,
    fused: bool = True,
    reduction: Reduction = "mean",
    weight: Any = None,
    ignore_index: int | None = None,
    label_smoothing: float = 0.0,
) -> Tensor:
    """Softmax cross-entropy between ``logits`` and ``target``, with PyTorch's options.

    Parameters
    ----------
    logits : Tensor, shape (C,) or (..., C)
        Unnormalised scores, classes on the last axis; floating point.
    target : Tensor or array
        Either integer class indices of shape ``logits.shape[:-1]`` (a scalar for 1-D logits),
        or non-negative float rows of ``logits``' shape (probabilities, one-hot included). A
        row that does not sum to 1 is used as given: its loss is ``-sum_c t_c log p_c`` and
        the gradient ``sum(t) * softmax - t``. A probability target that requires grad gets
        a gradient (``-log p``, scaled as the loss).
    fused : bool
        True: one ``SoftmaxCrossEntropy`` node. False: a graph of primitive nodes. Same value
        and gradient (to rounding).
    reduction : "mean" | "sum" | "none"
        ``"none"`` gives one loss per row, shape ``logits.shape[:-1]``.
    weight : array of shape (C,), optional
        A non-negative weight per class (a constant). Row ``n``'s loss is multiplied by
        ``weight[y[n]]`` for class indices, or becomes ``-sum_c weight_c t_c log p_c`` for
        probabilities.
    ignore_index : int, optional
        Rows whose class index equals it count as zero and are left out of the mean (class
        indices only).
    label_smoothing : float in [0, 1]
        ``t = (1 - eps) t + eps / C`` before the loss.

    Returns
    -------
    Tensor: a scalar for "mean"/"sum", shape ``logits.shape[:-1]`` for "none".

    Notes
    -----
    "mean" divides by the sum of ``weight[y[n]]`` over non-ignored rows for class indices
    (their count without ``weight``), and by the number of rows for probabilities, as PyTorch
    does. When nothing is left to average (every target ignored, or an empty batch) "mean"
    returns 0 with a zero gradient, where PyTorch returns NaN.

    Raises
    ------
    TypeError for integer logits or a target of unsupported dtype; ValueError for a class
    index out of range, negative or non-finite probabilities, a target or weight of the wrong
    shape, an unknown reduction or a label_smoothing outside [0, 1].
    """
    if reduction not in _REDUCTIONS:
        _check_reduction(reduction)
    if type(logits) is not Tensor or logits._data.dtype.kind != "f":
        logits = _float_tensor(logits, "cross_entropy logits")
    shape = logits._data.shape
    if not shape or shape[-1] == 0:
        raise ValueError(
            f"cross_entropy: logits must have shape (C,) or (..., C) with C >= 1 classes on the "
            f"last axis, got shape {shape}"
        )
    eps = float(label_smoothing)
    if not 0.0 <= eps <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got {eps}")
    if ignore_index is not None and (
        not isinstance(ignore_index, (int, np.integer)) or isinstance(ignore_index, bool)
    ):
        raise TypeError(
            f"cross_entropy: ignore_index must be an int (a class index, e.g. -100), got "
            f"{ignore_index!r}"
        )
    w = None if weight is None else check_weight(weight, shape[-1], logits._data.dtype)
    spec = read_target(logits, target, w, ignore_index, eps)
    if not fused:
        return _cross_entropy_unfused(logits, spec, reduction)
    if spec.kind == "prob":
        target_in = spec.probs
    else:  # the rule reads spec.y; a labels Tensor is passed only so graphs can show its name
        target_in = target if isinstance(target, Tensor) else spec.y
    return SoftmaxCrossEntropy.apply(logits, target_in, spec=spec, reduction=reduction)
