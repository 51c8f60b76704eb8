"""Reductions: ``sum`` and ``max`` over axes (``mean`` and the rest are composed from them)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import symbolic as E
from ..autograd import Function
from .elementwise import _data
from .shape import broadcast_to


def normalize_axis(axis: Any, ndim: int) -> tuple[int, ...]:
    """``axis`` (None, an int or a tuple; negatives count from the end) as sorted-free indices."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    if ndim == 0:  # a 0-d tensor: axis 0 (or -1) is the value itself, as numpy and torch
        for a in axes:
            if a not in (0, -1):
                raise ValueError(f"axis {a} is out of range for a 0-d tensor (use 0, -1 or None)")
        return ()
    out = []
    for a in axes:
        if not -ndim <= a < max(ndim, 1):
            raise ValueError(f"axis {a} is out of range for a tensor with {ndim} dimensions")
        out.append(int(a) % max(ndim, 1))
    return tuple(out)


def keepdims_shape(shape: tuple[int, ...], axes: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def stable_shift(data: np.ndarray, axis: Any) -> np.ndarray:
    """The max over ``axis`` (keepdims), used as a constant shift; 0 where the max is not finite.

    Subtracting it leaves softmax/logsumexp unchanged mathematically and keeps ``exp`` from
    overflowing. A row whose max is +-inf (or NaN) is not shifted, so it gives NaN/inf rather
    than a silently wrong finite number.
    """
    m = data.max(axis=axis, keepdims=True)
    if not np.isfinite(m).all():
        m = np.where(np.isfinite(m), m, 0).astype(data.dtype)
    m.setflags(write=False)  # a fresh constant: recorded ops need not snapshot it
    return m


class _Reduction(Function):
    """Shared by Sum and Max: the axes, and the formula ``sum(x, axis=1)`` explain shows."""

    args = ("x",)

    def _setup(self, x: np.ndarray, axis: Any, keepdims: bool) -> None:
        self.axes = normalize_axis(axis, x.ndim)
        self.keepdims = keepdims
        self.in_shape = x.shape

    def formula_expr(self, args, namer=None):
        axes = self.axes
        text = "" if sorted(axes) == list(range(len(self.in_shape))) else _axis_text(axes)
        return E.atom(f"{self.name.lower()}({args[0].render()}{text})")


def _axis_text(axes: tuple[int, ...]) -> str:
    return f", axis={axes[0]}" if len(axes) == 1 else f", axis={axes}"


class Sum(_Reduction):
    formula, vjp = "x.sum(axis)", ("dx = broadcast(g)",)

    def forward(self, x, axis=None, keepdims=False):
        self._setup(x, axis, keepdims)
        return np.sum(x, axis=self.axes, keepdims=keepdims)

    def backward(self, g, out, x):
        if not self.keepdims:
            g = g.reshape(keepdims_shape(self.in_shape, self.axes))
        return (broadcast_to(g, self.in_shape),)

    def vjp_exprs(self, g, args, out, namer=None):
        return [g]


class Max(_Reduction):
    """The gradient goes to the maxima, shared equally among ties."""

    formula, vjp = "x.max(axis)", ("dx = g * (x == z) / ties",)

    def forward(self, x, axis=None, keepdims=False):
        self._setup(x, axis, keepdims)
        if any(x.shape[a] == 0 for a in self.axes):
            raise ValueError(
                f"max over an axis of length 0 (shape {x.shape}, axis {self.axes}) is undefined"
            )
        out = np.max(x, axis=self.axes, keepdims=True)
        return out if keepdims else out.reshape(np.delete(x.shape, self.axes).tolist())

    def backward(self, g, out, x):
        xv, zv = _data(x), _data(out)
        kept = keepdims_shape(self.in_shape, self.axes)
        zk = zv.reshape(kept)
        mask = xv == zk
        if xv.dtype.kind == "f" and np.isnan(zk).any():  # a NaN is the max: it gets the gradient
            mask |= np.isnan(xv) & np.isnan(zk)
        share = mask / mask.sum(axis=self.axes, keepdims=True)  # a constant: ties split g
        return (g.reshape(kept) * share.astype(xv.dtype),)

    def vjp_exprs(self, g, args, out, namer=None):
        return [E.mul(g, E.atom(f"[{args[0].render()} == {out.render()}]"))]
