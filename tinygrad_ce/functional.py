"""Functional API (imported as ``F``): activations, softmax family and the losses.

Everything here takes and returns Tensors and is built from the primitive ops in ``ops.py``,
except :class:`SoftmaxCrossEntropy`, a single fused node for the loss this project is about.

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

import functools
import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from .autograd import Function
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


def _shift(data: np.ndarray, axis: Any) -> np.ndarray:
    """The max over ``axis`` (keepdims), used as a constant shift; 0 where the max is not finite.

    Subtracting it leaves softmax/logsumexp unchanged mathematically and keeps ``exp`` from
    overflowing. A row whose max is +-inf (or NaN) is not shifted, so it gives NaN/inf rather
    than a silently wrong finite number.
    """
    m = data.max(axis=axis, keepdims=True)
    if not np.isfinite(m).all():
        m = np.where(np.isfinite(m), m, 0).astype(data.dtype)
    return m


@functools.lru_cache(maxsize=32)
def _ones(n: int, dtype: np.dtype) -> np.ndarray:
    ones = np.ones(n, dtype=dtype)
    ones.flags.writeable = False
    return ones


_UINTP = np.dtype(np.uintp)
_max = np.maximum.reduce
_sum = np.add.reduce  # ndarray.sum without its Python wrapper (same summation)


@functools.lru_cache(maxsize=32)
def _row_starts(n: int, c: int) -> np.ndarray:
    """``[0, c, 2c, ...]``: the flat index of each row's first element in an (n, c) array."""
    starts = np.arange(0, n * c, c)
    starts.flags.writeable = False
    return starts


def _row_sums(a: np.ndarray) -> np.ndarray:
    """``a.sum(axis=1)`` for a 2-D array, as ``a @ ones``: BLAS sums rows about 3x faster
    than numpy's reduction along the last axis, with the same accuracy in practice."""
    return a @ _ones(a.shape[1], a.dtype)


def _check_axis(x: Tensor, axis: Any, what: str) -> None:
    if x.ndim == 0:
        raise ValueError(f"{what} needs at least one axis, got a 0-d tensor")
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
    e = (x - _shift(x.data, axis)).exp()
    return e / e.sum(axis=axis, keepdims=True)


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
    m = _shift(x.data, axis)
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
    shifted = x - _shift(x.data, axis)
    return shifted - shifted.exp().sum(axis=axis, keepdims=True).log()


# ---------------------------------------------------------------------------------------------
# mean squared error


def _reduce(per_item: Tensor, reduction: str, denominator: float | None = None) -> Tensor:
    """The one reduction of every loss here: "none", "sum", or "mean" (``Tensor.mean``, or the
    sum divided by ``denominator`` when the items are weighted)."""
    if reduction == "none":
        return per_item
    if reduction == "mean" and denominator is None:
        return per_item.mean() if per_item.size else per_item.sum() * 0.0  # empty: 0, not NaN
    total = per_item.sum()
    if reduction == "sum":
        return total
    return total * (1.0 / denominator) if denominator else total * 0.0


def check_reduction(reduction: str, who: str = "") -> None:
    """Raise ValueError unless ``reduction`` is "mean", "sum" or "none" (the one check of it:
    losses here and in ``nn`` call this); ``who`` prefixes the message."""
    if reduction not in _REDUCTIONS:
        prefix = f"{who}: " if who else ""
        raise ValueError(f"{prefix}reduction must be one of {_REDUCTIONS}, got {reduction!r}")


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
    check_reduction(reduction)
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


@dataclass(slots=True)
class _Target:
    """The loss target in flat form, shared by the fused node and the composed graph.

    Every option reduces to a target matrix ``T`` of shape (N, C) (never built on the fast
    path for class indices)::

        class indices:  T[n] = a[n] * onehot(y[n]) + b[n] * wvec
        probabilities:  T[n] = (t[n] * (1 - eps) + eps / C) * wvec

    with ``wvec`` the class weights (ones without ``weight``), ``a = (1 - eps) * w[y]`` and
    ``b = eps / C``, both zero on ignored rows. Then ``loss[n] = -sum_c T[n, c] log p[n, c]``.
    """

    kind: str  # "index" or "prob"
    n: int  # rows (product of the batch shape)
    classes: int
    batch_shape: tuple[int, ...]
    eps: float
    weight: np.ndarray | None  # (C,) or None
    denominator: float  # what "mean" divides by
    # class indices
    y: np.ndarray | None = None  # (N,) intp, ignored rows set to 0
    a: np.ndarray | float = 1.0  # (N,) or the scalar 1.0 in the plain case
    b: np.ndarray | None = None  # (N,) or None without label smoothing
    ignored: np.ndarray | None = None  # (N,) bool or None
    # probabilities: the raw target (Tensor when it needs a gradient, else ndarray)
    probs: Any = None
    # class indices with no weight, no ignored row and no smoothing: T is one-hot (a = 1.0)
    plain: bool = False

    @property
    def wsum(self) -> float:
        return float(self.classes) if self.weight is None else float(self.weight.sum())

    def row_sums(self) -> np.ndarray | float:
        """``sum_c T[n, c]`` for class indices: ``a + b * sum(wvec)``."""
        return self.a if self.b is None else self.a + self.b * self.wsum

    def dense(self, dtype: Any) -> np.ndarray:
        """``T`` as an (N, C) array, for class indices."""
        t = np.zeros((self.n, self.classes), dtype=dtype)
        t[np.arange(self.n), self.y] = self.a
        if self.b is not None:
            wvec = np.ones(self.classes, dtype) if self.weight is None else self.weight
            t += self.b[:, None] * wvec
        return t

    def smoothed_probs(self, t: Any) -> Any:
        """``T`` for probability targets, from ``t`` (N, C) (ndarray or Tensor)."""
        if self.eps:
            t = t * (1.0 - self.eps) + self.eps / self.classes
        if self.weight is not None:
            t = t * self.weight
        return t


def _check_weight(weight: Any, classes: int, dtype: np.dtype) -> np.ndarray | None:
    if weight is None:
        return None
    if isinstance(weight, Tensor):
        if weight.requires_grad:
            raise ValueError(
                "cross_entropy: `weight` is treated as a constant and gets no gradient; "
                "pass weight.detach() (or an ndarray)"
            )
        weight = weight.data
    w = np.asarray(weight)
    if w.dtype.kind not in "fiu":
        raise TypeError(f"cross_entropy: weight must be numbers, got dtype {w.dtype}")
    if w.shape != (classes,):
        raise ValueError(
            f"cross_entropy: weight must have shape ({classes},), one per class, got {w.shape}"
        )
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        bad = int(np.flatnonzero(~np.isfinite(w) | (w < 0))[0])
        raise ValueError(
            f"cross_entropy: weight must be finite and non-negative, weight[{bad}] = {w[bad]}"
        )
    return w.astype(dtype)


def _read_target(
    logits: Tensor, target: Any, weight: np.ndarray | None, ignore_index: int | None, eps: float
) -> _Target:
    """Check ``target`` against ``logits`` and put it in flat form. All errors are raised here."""
    shape = logits._data.shape
    classes, batch = shape[-1], shape[:-1]
    n = math.prod(batch)
    tdata = target.data if isinstance(target, Tensor) else np.asarray(target)
    kind = tdata.dtype.kind
    if kind in "iu":
        if tdata.shape != batch:
            hint = " (one-hot rows must be a float array)" if tdata.shape == shape else ""
            raise ValueError(
                f"cross_entropy: class-index target must have shape {batch} (logits.shape[:-1]) "
                f"for logits of shape {shape}, got {tdata.shape}{hint}"
            )
        y = tdata.reshape(-1).astype(np.intp, copy=False)
        ignored = None
        if ignore_index is not None:
            ignored = y == ignore_index
            if not ignored.any():
                ignored = None
        # cheap test first (two reductions); locate the culprit only when there is one
        bad = None
        if n and _max(y.view(_UINTP)) >= classes:  # negatives wrap to huge unsigned values
            bad = (y < 0) | (y >= classes)
            if ignored is not None:
                bad &= ~ignored
        if bad is not None and bad.any():
            j = int(np.flatnonzero(bad)[0])
            where = tuple(int(i) for i in np.unravel_index(j, batch)) if batch else ()
            raise ValueError(
                f"cross_entropy: target class index {int(y[j])} at position {where} is out of "
                f"range for logits of shape {shape} ({classes} classes: valid indices are "
                f"0..{classes - 1}"
                + (f", or ignore_index={ignore_index})" if ignore_index is not None else ")")
            )
        if weight is None and ignored is None and not eps:  # plain labels: T is one-hot
            return _Target("index", n, classes, batch, eps, None, float(n), y=y, plain=True)
        dtype = logits.dtype
        if ignored is not None:
            y = np.where(ignored, 0, y)
        wy = np.ones(n, dtype) if weight is None else weight[y]
        if ignored is not None:
            wy = np.where(ignored, 0, wy).astype(dtype)
        b = None
        if eps:
            b = np.full(n, eps / classes, dtype)
            if ignored is not None:
                b[ignored] = 0
        return _Target(
            "index",
            n,
            classes,
            batch,
            eps,
            weight,
            float(wy.sum(dtype=np.float64)),
            y=y,
            a=(wy * (1.0 - eps)).astype(dtype),
            b=b,
            ignored=ignored,
        )
    if kind in "fb":
        if tdata.shape != shape:
            hint = " (class indices must be an integer array)" if tdata.shape == batch else ""
            raise ValueError(
                f"cross_entropy: probability target must have the logits' shape {shape}, "
                f"got {tdata.shape}{hint}"
            )
        if ignore_index is not None:
            raise ValueError(
                "cross_entropy: ignore_index applies to class-index targets only; this target "
                f"holds probabilities (dtype {tdata.dtype}, shape {tdata.shape})"
            )
        if kind == "f":
            bad = ~np.isfinite(tdata) | (tdata < 0)
            if bad.any():
                j = tuple(int(i) for i in np.unravel_index(int(np.flatnonzero(bad)[0]), shape))
                raise ValueError(
                    f"cross_entropy: probability target must be finite and non-negative, "
                    f"target{list(j)} = {tdata[j]}"
                )
        if isinstance(target, Tensor) and target.requires_grad:
            probs: Any = target.astype(logits.dtype)  # a no-op unless the dtypes differ
        elif isinstance(target, Tensor):  # keep a Tensor (and its name) so graphs can show it
            probs = target if target.dtype == logits.dtype else Tensor(tdata, dtype=logits.dtype)
            probs.name = target.name
        else:
            probs = tdata.astype(logits.dtype, copy=False)
        return _Target("prob", n, classes, batch, eps, weight, float(n), probs=probs)
    raise TypeError(
        f"cross_entropy: target must hold integer class indices or float probabilities, got "
        f"dtype {tdata.dtype}"
    )


# ---------------------------------------------------------------------------------------------
# the fused node


class SoftmaxCrossEntropy(Function):
    """L = sum(T) logsumexp(z) - sum(T z) (reduced);  dz = g * (sum(T) softmax(z) - T)

    One node for the whole loss. Forward: shift each row by its max, ``e = exp(z - m)`` (in
    place in the one buffer the forward allocates), ``s = sum(e)``, ``logsumexp = log(s) + m``.
    It keeps ``e``, ``s`` and ``m``; nothing else of size (N, C).

    Fast backward: ``g * sum(T) * softmax = e * (g * sum(T) / s)``, one multiply written into
    ``e`` itself, which then becomes the gradient (no new (N, C) buffer), then ``g * T`` is
    subtracted (only at the labels for class indices). A second backward through the same
    graph recomputes ``e`` from the logits, so it is still right.

    With ``create_graph=True`` the backward instead rebuilds the softmax from the logits
    Tensor with differentiable ops, so second derivatives (``diag(s) - s s^T``) are right.
    """

    def forward(self, z, target, spec: _Target, reduction: str):
        self.spec, self.reduction = spec, reduction
        m = z.max(axis=-1, keepdims=True)  # (..., 1), the shift
        loss = self._row_losses(z, m, target)
        total = None if reduction == "none" else _sum(loss)
        # A row whose max is +-inf or NaN must not be shifted (see `_shift`). Such a row always
        # makes its loss NaN here (inf - inf), so a finite total proves every max finite and
        # the full test (two more passes) runs only for a non-finite result, or when that proof
        # is unavailable (per-row losses, ignored rows zeroed).
        if (
            total is None or spec.ignored is not None or not math.isfinite(total)
        ) and not np.isfinite(m).all():
            m = _shift(z, -1)
            loss = self._row_losses(z, m, target)
            total = None if reduction == "none" else _sum(loss)
        if total is None:
            self.scale = 1.0
            return loss.reshape(spec.batch_shape)
        if reduction == "sum":
            self.scale = 1.0
            return total
        # mean: nothing to average (all targets ignored, or an empty batch) gives 0, not NaN
        self.scale = 1.0 / spec.denominator if spec.denominator else 0.0
        return total * self.scale

    def _row_losses(self, z, m, target):
        """The loss of each row, (N,), with the logits shifted by ``m``; keeps ``e``, ``s``."""
        spec = self.spec
        n, c = spec.n, spec.classes
        # shifted logits, z's shape, C-contiguous even for transposed logits (so the reshapes
        # below are views); becomes exp(z - m) in place below
        e = np.subtract(z, m, order="C")
        e2 = e.reshape(n, c)
        if spec.kind == "index":
            # flat positions of the labels: 1-D fancy indexing is cheaper than (rows, y)
            self.at_labels = at_labels = _row_starts(n, c) + spec.y
            lin = e.reshape(-1)[at_labels]  # z[y] - m
            if not spec.plain:
                lin = lin * spec.a
            if spec.b is not None:  # label smoothing: + b * sum_c wvec_c (z_c - m)
                lin += spec.b * (_row_sums(e2) if spec.weight is None else e2 @ spec.weight)
            row_sum = 1.0 if spec.plain else spec.row_sums()
        else:
            self.tmat = tmat = spec.smoothed_probs(target.reshape(n, c))
            lin = np.einsum("ij,ij->i", e2, tmat)  # sum_c T (z - m), no (N, C) temporary
            row_sum = tmat.sum(axis=1)
        np.exp(e, out=e)
        s = _row_sums(e2)
        if spec.ignored is None:
            loss = np.log(s) - lin if spec.plain else row_sum * np.log(s) - lin
        else:
            with np.errstate(invalid="ignore"):  # 0 * inf on ignored rows: set to 0 below
                loss = row_sum * np.log(s) - lin
            loss[spec.ignored] = 0
        self.e, self.s, self.m, self.row_sum = e, s, m, row_sum
        return loss

    def backward(self, g, out, z, target):
        spec = self.spec
        n, c = spec.n, spec.classes
        r = g.reshape((n,)) if self.reduction == "none" else g
        if self.scale != 1.0:
            r = r * self.scale
        if isinstance(z, Tensor):
            return self._graph_backward(r, z, target)
        # r is one number for "mean"/"sum", one per row for "none": then a column for (N, C)
        r_col = r.reshape(-1, 1) if self.reduction == "none" else r
        dz = dt = None
        if spec.kind == "prob" and self.needs[1]:  # dloss/dt = -(1 - eps) * w * log p
            logp = z.reshape(n, c) - self.m.reshape(n, 1) - np.log(self.s).reshape(-1, 1)
            w = 1.0 if spec.weight is None else spec.weight
            dt = (logp * w * (-(1.0 - spec.eps)) * r_col).reshape(target.shape)
        if self.needs[0]:
            coef = r / self.s if spec.plain else (r * self.row_sum) / self.s
            dz = self.e
            if dz is None:  # the buffer was handed out by an earlier backward: rebuild it
                dz = np.exp(np.subtract(z, self.m, order="C"))
            self.e = None  # from here on the buffer is the gradient, not exp(z - m)
            d2 = dz.reshape(n, c)
            d2 *= coef.reshape(-1, 1)  # g * sum(T) * softmax
            if spec.kind == "index":
                flat = dz.reshape(-1)
                flat[self.at_labels] -= r if spec.plain else r * spec.a
                if spec.b is not None:
                    d2 -= (r * spec.b).reshape(-1, 1) * (
                        1.0 if spec.weight is None else spec.weight
                    )
            else:
                d2 -= self.tmat * r_col
        return dz, dt

    def _graph_backward(self, r, z, target):
        """The same rule with Tensor ops on the logits Tensor: differentiable again."""
        spec = self.spec
        n, c = spec.n, spec.classes
        z2 = z.reshape((n, c))
        r_col = r.reshape((n, 1)) if r.ndim else r
        if spec.kind == "index":
            tmat = spec.dense(z.dtype)
            row_sum = tmat.sum(axis=1, keepdims=True)
        else:
            tmat = spec.smoothed_probs(target.reshape((n, c)))
            row_sum = tmat.sum(axis=1, keepdims=True)
        dz = dt = None
        if self.needs[0]:
            dz = (softmax(z2, axis=-1) * row_sum - tmat) * r_col
            dz = dz.reshape(z.shape)
        if spec.kind == "prob" and self.needs[1]:
            w = 1.0 if spec.weight is None else spec.weight
            dt = (-log_softmax(z2, axis=-1) * w * (1.0 - spec.eps) * r_col).reshape(target.shape)
        return dz, dt


# ---------------------------------------------------------------------------------------------
# the composed (unfused) loss


def _cross_entropy_unfused(logits: Tensor, spec: _Target, reduction: str) -> Tensor:
    """The loss as a chain of primitive nodes, each with its own VJP (read this to learn it).

    Nodes: Sub (max shift, a constant), Exp, Sum, Log, Sub (= log_softmax), then GetItem and
    Neg (class indices) or Mul, Sum, Neg (a target matrix), then the reduction (Sum, Mul).
    """
    z = logits.reshape((spec.n, spec.classes))
    shifted = z - _shift(z.data, 1)  # the max is a constant: it cancels in the maths
    log_probs = shifted - shifted.exp().sum(axis=1, keepdims=True).log()
    if spec.plain:
        # plain labels: pick log p[n, y[n]] for each row n
        per_row = -log_probs[np.arange(spec.n), spec.y]
    else:
        if spec.kind == "index":
            tmat: Any = spec.dense(logits.dtype)  # a constant (N, C) target matrix
        else:
            probs = spec.probs
            tmat = spec.smoothed_probs(probs.reshape((spec.n, spec.classes)))
        per_row = -(log_probs * tmat).sum(axis=1)
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
        check_reduction(reduction)
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
    if ignore_index is not None and not isinstance(ignore_index, (int, np.integer)):
        raise TypeError(f"cross_entropy: ignore_index must be an int, got {ignore_index!r}")
    w = None if weight is None else _check_weight(weight, shape[-1], logits._data.dtype)
    spec = _read_target(logits, target, w, ignore_index, eps)
    if not fused:
        return _cross_entropy_unfused(logits, spec, reduction)
    if spec.kind == "prob":
        target_in = spec.probs
    else:  # the rule reads spec.y; a labels Tensor is passed only so graphs can show its name
        target_in = target if isinstance(target, Tensor) else spec.y
    return SoftmaxCrossEntropy.apply(logits, target_in, spec=spec, reduction=reduction)
