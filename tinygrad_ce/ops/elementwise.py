"""Elementwise ops: binary ones with numpy broadcasting (the engine sums gradients back to each
input's shape) and unary ones. ``g`` is the upstream gradient, ``z`` the op's output."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import symbolic as E
from ..autograd import Function, is_tensor


def _data(x: Any) -> Any:
    """The array behind a Tensor, or ``x`` itself (rules see arrays or Tensors)."""
    return x._data if is_tensor(x) else x


def _shape_error(op: str, a: Any, b: Any) -> ValueError:
    return ValueError(
        f"{op}: operands of shapes {np.shape(a)} and {np.shape(b)} cannot be broadcast together"
    )


class _Binary(Function):
    """Shared by the broadcasting binary ops: forward is ``_compute``, errors name the shapes."""

    args = ("x", "y")
    broadcasts = True

    def forward(self, x, y):
        try:
            return self._compute(x, y)
        except ValueError:
            raise _shape_error(self.name.lower(), x, y) from None


class Add(_Binary):
    formula = "x + y"
    vjp = ("dx = g", "dy = g")
    commutative = True
    _compute = staticmethod(np.add)

    def backward(self, g, out, x, y):
        return g, g


class Sub(_Binary):
    formula = "x - y"
    vjp = ("dx = g", "dy = -g")
    _compute = staticmethod(np.subtract)

    def backward(self, g, out, x, y):
        return g, (-g if self.needs[1] else None)


class Mul(_Binary):
    formula = "x * y"
    vjp = ("dx = g * y", "dy = g * x")
    commutative = True
    _compute = staticmethod(np.multiply)

    def backward(self, g, out, x, y):
        needs = self.needs
        return (g * y if needs[0] else None), (g * x if needs[1] else None)


class Div(_Binary):
    formula = "x / y"
    vjp = ("dx = g / y", "dy = -g * z / y")
    _compute = staticmethod(np.divide)

    def backward(self, g, out, x, y):
        gx = g / y
        return (gx if self.needs[0] else None), (-gx * out if self.needs[1] else None)

    def vjp_exprs(self, g, args, out, namer=None):
        x, y = args  # -g x / y^2: in the inputs' names rather than through z
        return [E.div(g, y), E.neg(E.div(E.mul(g, x), E.power(y, E.number(2))))]


class Pow(_Binary):
    formula = "x ** y"
    vjp = ("dx = g * y * x ** (y - 1)", "dy = g * z * log(x)")
    _compute = staticmethod(np.power)

    def backward(self, g, out, x, y):
        needs = self.needs
        dx = None
        if needs[0]:
            e = y - 1
            if not isinstance(y, (int, float)):
                # d(x**0)/dx is 0, but 0 * x**-1 would give nan at x == 0
                zero = _data(y) == 0
                if np.any(zero):
                    e = e + zero
            elif y == 0:
                e = 0
            dx = g * y * x**e
        dy = None
        if needs[1]:
            # d(x**y)/dy = x**y log(x) is 0 at x == 0 for y >= 0 (as PyTorch): 0 * log(0) would
            # be nan, so log is taken of 1 there (a constant shift: the rule stays differentiable)
            at_zero = (_data(x) == 0) & (_data(y) >= 0)
            dy = g * out * log(x + at_zero if at_zero.any() else x)
        return dx, dy

    def vjp_exprs(self, g, args, out, namer=None):
        x, y = args
        exponent = self.arrays[1]
        if np.ndim(exponent) == 0 and not is_tensor(self.inputs[1]):  # x ** c: the power rule
            c = float(exponent)
            dx = E.mul(g, E.mul(E.number(c), E.power(x, E.number(c - 1)))) if c != 1 else g
            if c == 2:
                dx = E.mul(g, E.mul(E.number(2), x))
            if c == 0.5:
                dx = E.div(g, E.mul(E.number(2), E.call("sqrt", x)))
        else:
            dx = E.mul(g, E.mul(y, E.power(x, E.sub(y, E.ONE))))
        return [dx, E.mul(g, E.mul(out, E.call("log", x)))]


def log(x: Any) -> Any:
    """``log`` of an array, or the differentiable ``Log`` op of a Tensor (for rules)."""
    return Log.apply(x) if is_tensor(x) else np.log(x)


class Neg(Function):
    args, formula, vjp = ("x",), "-x", ("dx = -g",)

    def forward(self, x):
        return -x

    def backward(self, g, out, x):
        return (-g,)


class Exp(Function):
    args, formula, vjp = ("x",), "exp(x)", ("dx = g * z",)

    def forward(self, x):
        return np.exp(x)

    def backward(self, g, out, x):
        return (g * out,)


class Log(Function):
    args, formula, vjp = ("x",), "log(x)", ("dx = g / x",)

    def forward(self, x):
        return np.log(x)

    def backward(self, g, out, x):
        return (g / x,)


class Abs(Function):
    args, formula, vjp = ("x",), "abs(x)", ("dx = g * sign(x)",)

    def forward(self, x):
        return np.abs(x)

    def backward(self, g, out, x):
        return (g * np.sign(_data(x)),)


class ReLU(Function):
    args, formula, vjp = ("x",), "relu(x)", ("dx = g * (x > 0)",)

    def forward(self, x):
        return np.maximum(x, 0)

    def backward(self, g, out, x):
        return (g * (_data(out) > 0),)

    def vjp_exprs(self, g, args, out, namer=None):
        return [E.mul(g, E.atom(f"[{args[0].render()} > 0]"))]  # Iverson bracket: 1 where true


class Tanh(Function):
    args, formula, vjp = ("x",), "tanh(x)", ("dx = g * (1 - z**2)",)

    def forward(self, x):
        return np.tanh(x)

    def backward(self, g, out, x):
        return (g * (1 - out * out),)


class Sigmoid(Function):
    """Computed from ``e = exp(-|x|)``: ``1 / (1 + e)`` for ``x >= 0``, ``e / (1 + e)`` below,
    so nothing overflows and the negative tail keeps its relative precision (float32
    ``sigmoid(-20)`` is 2.06e-9, not 0, and ``log(sigmoid(x))`` stays finite)."""

    args, formula, vjp = ("x",), "sigmoid(x)", ("dx = g * z * (1 - z)",)

    def forward(self, x):
        with np.errstate(under="ignore"):  # exp(-1000) is 0: the right answer, not an error
            e = np.exp(-np.abs(x))
            s = 1 / (1 + e)
            return np.where(x >= 0, s, e * s)

    def backward(self, g, out, x):
        return (g * out * (1 - out),)


class Cast(Function):
    args, formula, vjp = ("x",), "x.astype(dtype)", ("dx = g.astype(x.dtype)",)

    def forward(self, x, dtype):
        self.in_dtype = x.dtype
        return x.astype(dtype)

    def backward(self, g, out, x):
        return (g.astype(self.in_dtype),)

    def formula_expr(self, args, namer=None):
        return args[0]

    def vjp_exprs(self, g, args, out, namer=None):
        return [g]
