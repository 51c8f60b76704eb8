"""Elementwise ops: binary ones with numpy broadcasting (the engine sums gradients back to each
input's shape) and unary ones. ``g`` is the upstream gradient, ``z`` the op's output."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import symbolic as E
from ..autograd import Function, is_tensor
from . import special


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


# ---------------------------------------------------------------------------------------------
# selection and comparison


def where(cond: Any, x: Any, y: Any) -> Any:
    """``np.where`` on arrays, the differentiable ``Where`` op when ``x`` or ``y`` is a Tensor."""
    if is_tensor(x) or is_tensor(y):
        return Where.apply(x, y, cond=_data(cond))
    return np.where(cond, x, y)


class Where(Function):
    """``cond`` is a constant boolean array (broadcast against ``x`` and ``y``): it has no
    gradient. A masked-out ``-inf`` (attention masks) sends back an exact 0, never NaN."""

    args, formula = ("x", "y"), "where(cond, x, y)"
    vjp = ("dx = where(cond, g, 0)", "dy = where(cond, 0, g)")
    broadcasts = True

    def forward(self, x, y, cond, cond_name=None):
        self.cond_name = cond_name  # how explain writes cond when no tensor holds it
        cond = np.asarray(cond)
        if cond.dtype != bool:
            raise TypeError(f"where: cond must be a boolean array, got dtype {cond.dtype}")
        try:
            out = np.where(cond, x, y)
        except ValueError:
            raise ValueError(
                f"where: cond {cond.shape}, x {np.shape(x)} and y {np.shape(y)} cannot be "
                "broadcast together"
            ) from None
        self.cond = cond
        return out

    def backward(self, g, out, x, y):
        cond, needs = self.cond, self.needs
        dx = where(cond, g, 0.0) if needs[0] else None
        dy = where(cond, 0.0, g) if needs[1] else None
        return dx, dy

    def _cond(self, namer) -> E.Expr:
        return E.atom((namer and namer(self.cond)) or self.cond_name or "cond")

    def vjp_exprs(self, g, args, out, namer=None):
        cond, zero = self._cond(namer), E.atom("0")
        return [E.call("where", cond, g, zero), E.call("where", cond, zero, g)]

    def formula_expr(self, args, namer=None):
        return E.call("where", self._cond(namer), *args)


class Maximum(_Binary):
    """Elementwise ``max(x, y)``; where ``x == y`` each side gets half of ``g`` (as PyTorch)."""

    formula = "maximum(x, y)"
    vjp = ("dx = g * ([x > y] + [x == y] / 2)", "dy = g * ([y > x] + [x == y] / 2)")
    commutative = True
    _compute = staticmethod(np.maximum)
    _x_wins = staticmethod(np.greater)  # where x is the one picked

    def backward(self, g, out, x, y):
        xv, yv = _data(x), _data(y)
        dtype = np.result_type(xv, yv, np.float32)
        # 1 where x wins, 1/2 on ties, 0 elsewhere: a constant
        share = self._x_wins(xv, yv).astype(dtype) + 0.5 * (xv == yv).astype(dtype)
        needs = self.needs
        return (g * share if needs[0] else None), (g * (1.0 - share) if needs[1] else None)


class Minimum(Maximum):
    """Elementwise ``min(x, y)``; where ``x == y`` each side gets half of ``g`` (as PyTorch)."""

    formula = "minimum(x, y)"
    vjp = ("dx = g * ([x < y] + [x == y] / 2)", "dy = g * ([y < x] + [x == y] / 2)")
    _compute = staticmethod(np.minimum)
    _x_wins = staticmethod(np.less)


# ---------------------------------------------------------------------------------------------
# erf and GELU

_TWO_OVER_SQRT_PI = 1.1283791670955126  # 2 / sqrt(pi)
_INV_SQRT_2 = 0.7071067811865476
_INV_SQRT_2PI = 0.3989422804014327  # 1 / sqrt(2 pi), the normal density at 0
_GELU_C = 0.7978845608028654  # sqrt(2 / pi), in the tanh approximation
_GELU_A = 0.044715


def erf(x: Any) -> Any:
    """The error function of an array (``ops.special.erf``) or the ``Erf`` op of a Tensor."""
    return Erf.apply(x) if is_tensor(x) else special.erf(x)


def _exp(x: Any) -> Any:
    return Exp.apply(x) if is_tensor(x) else np.exp(x)


def _tanh(x: Any) -> Any:
    return Tanh.apply(x) if is_tensor(x) else np.tanh(x)


class Erf(Function):
    args, formula, vjp = ("x",), "erf(x)", ("dx = g * 2 / sqrt(pi) * exp(-x**2)",)

    def forward(self, x):
        return special.erf(x)

    def backward(self, g, out, x):
        return (g * (_exp(-(x * x)) * _TWO_OVER_SQRT_PI),)


class GELU(Function):
    """Gaussian error linear unit, ``x Phi(x)`` with ``Phi`` the standard normal CDF.

    ``approximate="none"``: ``Phi(x) = (1 + erf(x / sqrt(2))) / 2`` (``erf`` accurate to about
    1e-16 in float64); ``dx = g * (Phi(x) + x phi(x))``, ``phi`` the normal density.
    ``approximate="tanh"``: ``Phi(x) ~ (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) / 2``, cheaper,
    with its own exact derivative. Both rules run on Tensors too (second derivatives).
    """

    args, formula, vjp = ("x",), "x * Phi(x)", ("dx = g * (Phi(x) + x * phi(x))",)

    def forward(self, x, approximate="none"):
        if approximate not in ("none", "tanh"):
            raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate
        if approximate == "tanh":
            t = np.multiply(x, x)  # tanh(c (x + a x^3)), in one buffer
            t *= _GELU_A
            t += 1.0
            t *= x
            t *= _GELU_C
            self.t = np.tanh(t, out=t)
            out = t + 1.0
            out *= 0.5
            out *= x
            return out
        self.cdf = cdf = special.normal_cdf(x)  # Phi(x), kept for the backward
        return x * cdf

    def backward(self, g, out, x):
        graph = is_tensor(x)
        if self.approximate == "tanh":
            x2 = x * x
            t = _tanh(_GELU_C * (x + _GELU_A * x2 * x)) if graph else self.t
            dt = (1.0 - t * t) * (_GELU_C * (1.0 + 3.0 * _GELU_A * x2))
            return (g * (0.5 * (1.0 + t) + 0.5 * x * dt),)
        if graph:
            cdf = (erf(x * _INV_SQRT_2) + 1.0) * 0.5
            return (g * (cdf + x * (_exp(x * x * -0.5) * _INV_SQRT_2PI)),)
        d = np.multiply(x, x)  # Phi(x) + x phi(x), in one buffer
        d *= -0.5
        np.exp(d, out=d)
        d *= x
        d *= _INV_SQRT_2PI
        d += self.cdf
        d *= g
        return (d,)

    def rules(self):
        if self.approximate == "tanh":
            return ("dx = g * (0.5 * (1 + t) + 0.5 * x * (1 - t**2) * c * (1 + 3 * a * x**2))",)
        return self.vjp

    def formula_expr(self, args, namer=None):
        return E.call("gelu", args[0])
