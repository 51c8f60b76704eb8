"""Primitive ops: each one a small class with its forward and its VJP rule side by side.

Notation in the docstrings: ``g`` is the upstream gradient (the output's shape), ``dx`` the
gradient sent to input ``x``. A rule returns the gradient for the *broadcast* shape; the engine
sums it back to each input's shape (see ``autograd.unbroadcast``). Rules run on ndarrays or on
Tensors (for higher-order gradients), so they use only operations both provide, plus the two
helpers below.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .autograd import Function, unbroadcast
from .tensor import Tensor


def broadcast_to(x: Any, shape: tuple[int, ...]) -> Any:
    """``np.broadcast_to`` for ndarrays, the differentiable ``BroadcastTo`` op for Tensors."""
    if isinstance(x, Tensor):
        return BroadcastTo.apply(x, shape=shape)
    return np.broadcast_to(x, shape)


def _shape_error(op: str, a: Any, b: Any) -> ValueError:
    return ValueError(
        f"{op}: operands of shapes {np.shape(a)} and {np.shape(b)} cannot be broadcast together"
    )


# ---------------------------------------------------------------------------------------------
# elementwise binary ops (numpy broadcasting)


class Add(Function):
    """z = x + y;  dx = g,  dy = g"""

    def forward(self, x, y):
        try:
            return x + y
        except ValueError:
            raise _shape_error("add", x, y) from None

    def backward(self, g, out, x, y):
        return g, g


class Sub(Function):
    """z = x - y;  dx = g,  dy = -g"""

    def forward(self, x, y):
        try:
            return x - y
        except ValueError:
            raise _shape_error("sub", x, y) from None

    def backward(self, g, out, x, y):
        return g, (-g if self.needs[1] else None)


class Mul(Function):
    """z = x * y;  dx = g * y,  dy = g * x"""

    def forward(self, x, y):
        try:
            return x * y
        except ValueError:
            raise _shape_error("mul", x, y) from None

    def backward(self, g, out, x, y):
        needs = self.needs
        return (g * y if needs[0] else None), (g * x if needs[1] else None)


class Div(Function):
    """z = x / y;  dx = g / y,  dy = -g * z / y"""

    def forward(self, x, y):
        try:
            return x / y
        except ValueError:
            raise _shape_error("div", x, y) from None

    def backward(self, g, out, x, y):
        needs = self.needs
        gx = g / y
        return (gx if needs[0] else None), (-gx * out if needs[1] else None)


class Pow(Function):
    """z = x ** y;  dx = g * y * x ** (y - 1),  dy = g * z * log(x)"""

    def forward(self, x, y):
        try:
            return x**y
        except ValueError:
            raise _shape_error("pow", x, y) from None

    def backward(self, g, out, x, y):
        needs = self.needs
        dx = None
        if needs[0]:
            e = y - 1
            if not isinstance(y, (int, float)):
                # d(x**0)/dx is 0, but 0 * x**-1 would give nan at x == 0
                zero = (y._data if isinstance(y, Tensor) else y) == 0
                if np.any(zero):
                    e = e + zero
            elif y == 0:
                e = 0
            dx = g * y * x**e
        dy = g * out * log(x) if needs[1] else None
        return dx, dy


def log(x: Any) -> Any:
    return Log.apply(x) if isinstance(x, Tensor) else np.log(x)


# ---------------------------------------------------------------------------------------------
# elementwise unary ops


class Neg(Function):
    """z = -x;  dx = -g"""

    def forward(self, x):
        return -x

    def backward(self, g, out, x):
        return (-g,)


class Exp(Function):
    """z = exp(x);  dx = g * z"""

    def forward(self, x):
        return np.exp(x)

    def backward(self, g, out, x):
        return (g * out,)


class Log(Function):
    """z = log(x);  dx = g / x"""

    def forward(self, x):
        return np.log(x)

    def backward(self, g, out, x):
        return (g / x,)


class Abs(Function):
    """z = |x|;  dx = g * sign(x)"""

    def forward(self, x):
        return np.abs(x)

    def backward(self, g, out, x):
        x = x._data if isinstance(x, Tensor) else x
        return (g * np.sign(x),)


class ReLU(Function):
    """z = max(x, 0);  dx = g * (x > 0)"""

    def forward(self, x):
        return np.maximum(x, 0)

    def backward(self, g, out, x):
        out = out._data if isinstance(out, Tensor) else out
        return (g * (out > 0),)


class Tanh(Function):
    """z = tanh(x);  dx = g * (1 - z**2)"""

    def forward(self, x):
        return np.tanh(x)

    def backward(self, g, out, x):
        return (g * (1 - out * out),)


class Sigmoid(Function):
    """z = 1 / (1 + exp(-x));  dx = g * z * (1 - z)"""

    def forward(self, x):
        # tanh form: stable for large |x| with no overflow warning
        return 0.5 * np.tanh(0.5 * x) + 0.5

    def backward(self, g, out, x):
        return (g * out * (1 - out),)


class Cast(Function):
    """z = x.astype(dtype);  dx = g.astype(x.dtype)"""

    def forward(self, x, dtype):
        self.in_dtype = x.dtype
        return x.astype(dtype)

    def backward(self, g, out, x):
        return (g.astype(self.in_dtype),)


# ---------------------------------------------------------------------------------------------
# matrix product


class MatMul(Function):
    """Z = A @ B (np.matmul: 1-D, 2-D, batched);  dA = g @ B^T,  dB = A^T @ g"""

    def forward(self, a, b):
        if np.ndim(a) == 0 or np.ndim(b) == 0:
            raise ValueError(
                f"matmul: operands must have at least one axis, got shapes {np.shape(a)} and "
                f"{np.shape(b)} (use * to multiply by a scalar)"
            )
        try:
            return a @ b
        except ValueError:
            raise ValueError(
                f"matmul: shapes {np.shape(a)} and {np.shape(b)} are not aligned: the last axis "
                f"of the first ({np.shape(a)[-1]}) must equal the "
                f"{'only' if np.ndim(b) == 1 else 'second-to-last'} axis of the second "
                f"({np.shape(b)[0] if np.ndim(b) == 1 else np.shape(b)[-2]}), and batch axes "
                "must broadcast"
            ) from None

    def backward(self, g, out, a, b):
        need_a, need_b = self.needs
        if a.ndim == 1 and b.ndim == 1:  # inner product: z scalar
            return (g * b if need_a else None), (g * a if need_b else None)
        if a.ndim == 1:  # (k,) @ (..., k, m) -> (..., m): treat a as a row (1, k)
            g2 = g.reshape(g.shape[:-1] + (1, g.shape[-1]))
            da = (g2 @ b.swapaxes(-1, -2)).reshape(g.shape[:-1] + a.shape) if need_a else None
            db = a.reshape(a.shape + (1,)) @ g2 if need_b else None
            return da, db
        if b.ndim == 1:  # (..., n, k) @ (k,) -> (..., n): treat b as a column (k, 1)
            g2 = g.reshape(g.shape + (1,))
            da = g2 @ b.reshape((1,) + b.shape) if need_a else None
            db = (a.swapaxes(-1, -2) @ g2).reshape(g.shape[:-1] + b.shape) if need_b else None
            return da, db
        da = g @ b.swapaxes(-1, -2) if need_a else None
        db = a.swapaxes(-1, -2) @ g if need_b else None
        return da, db


# ---------------------------------------------------------------------------------------------
# reductions


def _normalize_axis(axis: Any, ndim: int) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in axes:
        if not -ndim <= a < max(ndim, 1):
            raise ValueError(f"axis {a} is out of range for a tensor with {ndim} dimensions")
        out.append(int(a) % max(ndim, 1))
    return tuple(out)


def _keepdims_shape(shape: tuple[int, ...], axes: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


class Sum(Function):
    """z = x.sum(axis);  dx = g broadcast back over the summed axes"""

    def forward(self, x, axis=None, keepdims=False):
        self.axes = _normalize_axis(axis, x.ndim)
        self.keepdims = keepdims
        self.in_shape = x.shape
        return np.sum(x, axis=self.axes, keepdims=keepdims)

    def backward(self, g, out, x):
        if not self.keepdims:
            g = g.reshape(_keepdims_shape(self.in_shape, self.axes))
        return (broadcast_to(g, self.in_shape),)


class Max(Function):
    """z = x.max(axis);  dx = g * (x == z) / (number of ties)"""

    def forward(self, x, axis=None, keepdims=False):
        self.axes = _normalize_axis(axis, x.ndim)
        if x.size == 0:
            raise ValueError(f"max of an empty tensor (shape {x.shape}) is undefined")
        self.keepdims = keepdims
        self.in_shape = x.shape
        out = np.max(x, axis=self.axes, keepdims=True)
        return out if keepdims else out.reshape(np.delete(x.shape, self.axes).tolist())

    def backward(self, g, out, x):
        xv = x._data if isinstance(x, Tensor) else x
        zv = out._data if isinstance(out, Tensor) else out
        kept = _keepdims_shape(self.in_shape, self.axes)
        mask = xv == zv.reshape(kept)
        share = mask / mask.sum(axis=self.axes, keepdims=True)  # a constant: ties split g
        return (g.reshape(kept) * share.astype(xv.dtype),)


# ---------------------------------------------------------------------------------------------
# shape ops


class Reshape(Function):
    """z = x.reshape(shape);  dx = g.reshape(x.shape)"""

    def forward(self, x, shape):
        self.in_shape = x.shape
        try:
            return x.reshape(shape)
        except (ValueError, TypeError):
            raise ValueError(
                f"cannot reshape a tensor of shape {x.shape} ({x.size} elements) into {shape}"
            ) from None

    def backward(self, g, out, x):
        return (g.reshape(self.in_shape),)


class Transpose(Function):
    """z = x.transpose(axes);  dx = g.transpose(inverse of axes)"""

    def forward(self, x, axes=None):
        axes = tuple(range(x.ndim))[::-1] if axes is None else tuple(int(a) for a in axes)
        # negative axes count from the end; stored non-negative so backward can invert them
        perm = tuple(a % x.ndim if -x.ndim <= a < x.ndim else a for a in axes)
        if sorted(perm) != list(range(x.ndim)):
            raise ValueError(
                f"transpose: axes {axes} are not a permutation of the {x.ndim} axes of a "
                f"tensor of shape {x.shape}"
            )
        self.axes = perm
        return x.transpose(perm)

    def backward(self, g, out, x):
        return (g.transpose(tuple(np.argsort(self.axes).tolist())),)


class BroadcastTo(Function):
    """z = broadcast_to(x, shape);  dx = g summed over the broadcast axes"""

    def forward(self, x, shape):
        try:
            return np.broadcast_to(x, shape)
        except ValueError:
            raise ValueError(f"cannot broadcast a tensor of shape {x.shape} to {shape}") from None

    def backward(self, g, out, x):
        return (unbroadcast(g, x.shape),)


# ---------------------------------------------------------------------------------------------
# indexing


def normalize_index(index: Any) -> Any:
    """Turn Tensors and lists inside an index into ndarrays, keep everything else."""
    if isinstance(index, tuple):
        return tuple(normalize_index(i) for i in index)
    if isinstance(index, Tensor):
        return index._data
    if isinstance(index, list):
        return np.asarray(index)
    return index


def _has_integer_array(index: Any) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return any(isinstance(i, np.ndarray) and i.dtype.kind in "iu" for i in items)


class GetItem(Function):
    """z = x[index];  dx = zeros like x with g added at index (repeats accumulate)"""

    def forward(self, x, index):
        self.index = index
        self.in_shape = x.shape
        return x[index]

    def backward(self, g, out, x):
        return (scatter_add(g, self.index, self.in_shape),)


class ScatterAdd(Function):
    """z = zeros(shape); z[index] += g;  dg = dz[index]   (the backward of GetItem)"""

    def forward(self, g, index, shape):
        self.index = index
        out = np.zeros(shape, dtype=g.dtype)
        if _has_integer_array(index):
            np.add.at(out, index, g)  # integer arrays may repeat an index: accumulate
        else:
            out[index] = g  # basic indexing and masks touch each element once
        return out

    def backward(self, g, out, x):
        return (g[self.index],)


def scatter_add(g: Any, index: Any, shape: tuple[int, ...]) -> Any:
    if isinstance(g, Tensor):
        return ScatterAdd.apply(g, index=index, shape=shape)
    return ScatterAdd().forward(g, index, shape)
