"""The loss: softmax cross-entropy as one fused node, and the target handling both paths share.

For logits ``z`` (classes on the last axis) and a target row ``t``::

    log p  = z - logsumexp(z)                       (log_softmax)
    loss   = -sum_c t_c log p_c = sum(t) * logsumexp(z) - sum_c t_c z_c
    dloss/dz = sum(t) * softmax(z) - t              (= softmax(z) - t when t sums to 1)

``functional.cross_entropy(..., fused=False)`` composes the first two lines from primitive
nodes; ``fused=True`` records one ``SoftmaxCrossEntropy`` node whose backward is the third.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import symbolic as E
from ..autograd import Function, is_tensor
from .reduce import stable_shift


def softmax_of(z: Any, axis: int = -1) -> Any:
    """``exp(z - m) / sum(exp(z - m))`` of a Tensor, by primitive ops; ``m`` the max, a constant."""
    e = (z - stable_shift(z._data, axis)).exp()
    return e / e.sum(axis=axis, keepdims=True)


def log_softmax_of(z: Any, axis: int = -1) -> Any:
    """``(z - m) - log(sum(exp(z - m)))`` from primitive ops on a Tensor."""
    shifted = z - stable_shift(z._data, axis)
    return shifted - shifted.exp().sum(axis=axis, keepdims=True).log()


# ---------------------------------------------------------------------------------------------
# fast row sums


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


# ---------------------------------------------------------------------------------------------
# the target, read and checked once for both paths


@dataclass(slots=True)
class Target:
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
        t.setflags(write=False)  # a fresh constant: recorded ops need not snapshot it
        return t

    def smoothed_probs(self, t: Any) -> Any:
        """``T`` for probability targets, from ``t`` (N, C) (ndarray or Tensor)."""
        if self.eps:
            t = t * (1.0 - self.eps) + self.eps / self.classes
        if self.weight is not None:
            t = t * self.weight
        return t


def check_weight(weight: Any, classes: int, dtype: np.dtype) -> np.ndarray | None:
    if weight is None:
        return None
    if is_tensor(weight):
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


def read_target(
    logits: Any, target: Any, weight: np.ndarray | None, ignore_index: int | None, eps: float
) -> Target:
    """Check ``target`` against ``logits`` and put it in flat form. All errors are raised here."""
    shape = logits._data.shape
    tdata = target.data if is_tensor(target) else np.asarray(target)
    if tdata.dtype.kind in "iu":
        return _read_labels(tdata, shape, logits.dtype, weight, ignore_index, eps)
    if tdata.dtype.kind in "fb":
        return _read_probs(target, tdata, shape, logits.dtype, weight, ignore_index, eps)
    raise TypeError(
        f"cross_entropy: target must hold integer class indices or float probabilities, got "
        f"dtype {tdata.dtype}"
    )


def _read_labels(
    tdata: np.ndarray,
    shape: tuple[int, ...],
    dtype: Any,
    weight: np.ndarray | None,
    ignore_index: int | None,
    eps: float,
) -> Target:
    """Class indices, shape ``shape[:-1]``: checked, copied, with their weights and smoothing."""
    classes, batch = shape[-1], shape[:-1]
    n = math.prod(batch)
    if tdata.shape != batch:
        hint = " (one-hot rows must be a float array)" if tdata.shape == shape else ""
        raise ValueError(
            f"cross_entropy: class-index target must have shape {batch} (logits.shape[:-1]) "
            f"for logits of shape {shape}, got {tdata.shape}{hint}"
        )
    # a copy: the caller may reuse its label buffer before this graph's backward pass
    y = np.array(tdata.reshape(-1), dtype=np.intp)
    ignored = None
    if ignore_index is not None:
        ignored = y == ignore_index
        if not ignored.any():
            ignored = None
    _check_label_range(y, shape, ignored, ignore_index)
    if weight is None and ignored is None and not eps:  # plain labels: T is one-hot
        y.setflags(write=False)  # ours: recorded ops need not copy it again
        return Target("index", n, classes, batch, eps, None, float(n), y=y, plain=True)
    if ignored is not None:
        y = np.where(ignored, 0, y)
    y.setflags(write=False)  # ours: recorded ops need not copy it again
    wy = np.ones(n, dtype) if weight is None else weight[y]
    if ignored is not None:
        wy = np.where(ignored, 0, wy).astype(dtype)
    b = None
    if eps:
        b = np.full(n, eps / classes, dtype)
        if ignored is not None:
            b[ignored] = 0
    denominator = float(wy.sum(dtype=np.float64))
    a = (wy * (1.0 - eps)).astype(dtype)
    return Target(
        "index", n, classes, batch, eps, weight, denominator, y=y, a=a, b=b, ignored=ignored
    )


def _check_label_range(
    y: np.ndarray, shape: tuple[int, ...], ignored: np.ndarray | None, ignore_index: int | None
) -> None:
    """Raise naming the first class index out of ``[0, C)`` (ignored rows excepted)."""
    classes, batch = shape[-1], shape[:-1]
    # cheap test first (one reduction); locate the culprit only when there is one
    if not len(y) or _max(y.view(_UINTP)) < classes:  # negatives wrap to huge unsigned values
        return
    bad = (y < 0) | (y >= classes)
    if ignored is not None:
        bad &= ~ignored
    if bad.any():
        j = int(np.flatnonzero(bad)[0])
        where = tuple(int(i) for i in np.unravel_index(j, batch)) if batch else ()
        raise ValueError(
            f"cross_entropy: target class index {int(y[j])} at position {where} is out of "
            f"range for logits of shape {shape} ({classes} classes: valid indices are "
            f"0..{classes - 1}"
            + (f", or ignore_index={ignore_index})" if ignore_index is not None else ")")
        )


def _read_probs(
    target: Any,
    tdata: np.ndarray,
    shape: tuple[int, ...],
    dtype: Any,
    weight: np.ndarray | None,
    ignore_index: int | None,
    eps: float,
) -> Target:
    """Probability rows of the logits' shape: checked, and kept as a Tensor or a copy."""
    classes, batch = shape[-1], shape[:-1]
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
    if tdata.dtype.kind == "f":
        bad = ~np.isfinite(tdata) | (tdata < 0)
        if bad.any():
            j = tuple(int(i) for i in np.unravel_index(int(np.flatnonzero(bad)[0]), shape))
            raise ValueError(
                f"cross_entropy: probability target must be finite and non-negative, "
                f"target{list(j)} = {tdata[j]}"
            )
    if is_tensor(target):  # kept a Tensor (and its name) so graphs can show it
        probs: Any = target.astype(dtype)  # a no-op unless the dtypes differ
        if not target.requires_grad:
            probs.name = target.name
    else:  # a copy (the caller may reuse its buffer), read-only so ops keep it as it is
        probs = np.array(tdata, dtype=dtype)
        probs.setflags(write=False)
    n = math.prod(batch)
    return Target("prob", n, classes, batch, eps, weight, float(n), probs=probs)


# ---------------------------------------------------------------------------------------------
# the fused node


class SoftmaxCrossEntropy(Function):
    """One node for the whole loss. Forward: shift each row by its max, ``e = exp(z - m)`` (in
    place in the one buffer the forward allocates), ``s = sum(e)``, ``logsumexp = log(s) + m``.
    It keeps ``e``, ``s`` and ``m``; nothing else of size (N, C).

    Fast backward: ``g * sum(T) * softmax = e * (g * sum(T) / s)``, one multiply written into
    ``e`` itself, which then becomes the gradient (no new (N, C) buffer), then ``g * T`` is
    subtracted (only at the labels for class indices). A second backward through the same
    graph recomputes ``e`` from the logits, so it is still right.

    With ``create_graph=True`` the backward instead rebuilds the softmax from the logits
    Tensor with differentiable ops, so second derivatives (``diag(s) - s s^T``) are right.
    """

    args, output = ("z", "T"), "L"
    formula = "sum(T) logsumexp(z) - sum(T z) (reduced)"
    vjp = ("dz = g * (sum(T) softmax(z) - T)", "dT = -g * log_softmax(z)")
    fused = "softmax + log + sum"

    def forward(self, z, target, spec: Target, reduction: str):
        self.spec, self.reduction = spec, reduction
        m = z.max(axis=-1, keepdims=True)  # (..., 1), the shift
        loss = self._row_losses(z, m, target)
        total = None if reduction == "none" else _sum(loss)
        # A row whose max is +-inf or NaN must not be shifted (see `stable_shift`). Such a row
        # always makes its loss NaN here (inf - inf), so a finite total proves every max finite and
        # the full test (two more passes) runs only for a non-finite result, or when that proof
        # is unavailable (per-row losses, ignored rows zeroed).
        if (
            total is None or spec.ignored is not None or not math.isfinite(total)
        ) and not np.isfinite(m).all():
            m = stable_shift(z, -1)
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
        if is_tensor(z):
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
            dz = (softmax_of(z2) * row_sum - tmat) * r_col
            dz = dz.reshape(z.shape)
        if spec.kind == "prob" and self.needs[1]:
            w = 1.0 if spec.weight is None else spec.weight
            dt = (-log_softmax_of(z2) * w * (1.0 - spec.eps) * r_col).reshape(target.shape)
        return dz, dt

    def release(self) -> None:
        """Free the (N, C) buffers and the target's arrays; keep what explain reads."""
        self.unit_rows = self._unit_rows()
        self.e = self.s = self.m = self.tmat = self.at_labels = None
        self.row_sum = 1.0 if self.unit_rows else None
        spec = self.spec
        self.spec = dataclasses.replace(spec, y=None, a=None, b=None, ignored=None, probs=None)
        super().release()

    def _unit_rows(self) -> bool:
        """Every target row sums to 1 (one-hot, probabilities, label smoothing)."""
        unit = getattr(self, "unit_rows", None)
        return bool(np.allclose(self.row_sum, 1.0)) if unit is None else unit

    # --- what explain and draw_graph show ------------------------------------------------------

    def rules(self) -> tuple[str, ...]:
        """The rules as applied here. ``T`` is the target argument when the loss uses it as it
        is; ``{T}`` (the op's own symbol, not the argument's name) when it uses a matrix made
        from it (label smoothing, class weights, ignored rows)."""
        dz, dt = self.vjp
        spec = self.spec
        if spec.kind == "index" and spec.plain:  # class labels: T is their one-hot rows
            dz = "dz = g * (softmax(z) - onehot(T))"
        elif spec.kind == "prob" and not spec.eps and spec.weight is None:
            dz = "dz = g * (softmax(z) - T)" if self._unit_rows() else dz
        elif self._unit_rows():  # label smoothing: rows still sum to 1
            dz = "dz = g * (softmax(z) - {T})"
        else:
            dz = "dz = g * (sum({T}) softmax(z) - {T})"
        return (dz, dt) if self.needs[1] else (dz,)

    def formula_expr(self, args, namer=None):
        return E.call("CE", E.call("softmax", args[0]), args[1])

    def vjp_exprs(self, g, args, out, namer=None):
        """``softmax(z) - x`` for a target row summing to 1, ``onehot(y)`` for plain labels."""
        z, t = args
        spec = self.spec
        plain_prob = spec.kind == "prob" and not spec.eps and spec.weight is None
        if spec.kind == "index" and spec.plain:
            t = E.call("onehot", t)
        elif not plain_prob:
            t = E.atom("T")  # the smoothed / weighted target matrix
        soft = E.call("softmax", z)
        if not self._unit_rows():
            soft = E.mul(E.call("sum", t), soft)
        grad = E.sub(soft, t)
        scale = float(self.scale)
        if scale not in (0.0, 1.0):
            grad = E.div(grad, E.number(round(1.0 / scale, 6)))
        if self.reduction == "none" and len(np.shape(self.arrays[0])) > 1:
            g = E.atom(f"{E.indexable(g)}[..., None]")  # one upstream value per row
        dt = None
        if self.needs[1]:  # -log p for a probability target, scaled alike
            dt = E.neg(E.call("log_softmax", z))
            dt = E.div(dt, E.number(round(1.0 / scale, 6))) if scale not in (0.0, 1.0) else dt
            dt = E.mul(g, dt)
        return [E.mul(g, grad), dt]
