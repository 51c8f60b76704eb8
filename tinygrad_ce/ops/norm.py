"""Normalisation as one node each, with the compact backward (CS231n's form): batch norm
(statistics over every axis but the channels) and layer norm (over the last axes).

For ``x`` normalised over the axes ``A``, ``n`` entries each::

    mu = mean(x),  var = mean((x - mu)^2),  r = 1 / sqrt(var + eps),  xh = (x - mu) r
    z  = xh * gamma + beta
    dxh = g * gamma
    dx  = r * (dxh - mean(dxh) - xh * mean(dxh * xh))      (means over A, kept as (1, C, 1, 1))
    dgamma = sum(g * xh),  dbeta = sum(g)                   (sums over the other axes)

The rules are written with operations both arrays and Tensors have; on the Tensor path (a graph
of the backward) the statistics are recomputed from ``x`` as recorded ops, so the rules can be
differentiated again. ``functional.batch_norm(..., fused=False)`` builds the same value from
primitive nodes instead.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import symbolic as E
from ..autograd import Function, is_tensor


def _mean(a: Any, axes: tuple[int, ...], n: int) -> Any:
    return a.sum(axis=axes, keepdims=True) * (1.0 / n)


def normalise(x: Any, axes: tuple[int, ...], n: int, eps: float) -> tuple[Any, Any, Any, Any]:
    """``(xh, r, mu, var)`` of arrays or Tensors: the normalised ``x`` and its statistics."""
    mu = _mean(x, axes, n)
    xc = x - mu
    var = _mean(xc * xc, axes, n)
    r = (var + eps) ** -0.5
    return xc * r, r, mu, var


class BatchNorm(Function):
    """Training-mode batch norm over every axis but axis 1 (the channels); ``gamma``, ``beta``
    of shape ``(C,)`` (both optional: ``BatchNorm.apply(x, eps=...)``)."""

    args, formula = ("x", "gamma", "beta"), "(x - mean(x)) / sqrt(var(x) + eps) * gamma + beta"
    vjp = (
        "dx = r * (g*gamma - mean(g*gamma) - xh * mean(g*gamma * xh))",
        "dgamma = sum(g * xh)",
        "dbeta = sum(g)",
    )
    fused = "mean + var + normalise + scale + shift"

    def forward(self, x, gamma=None, beta=None, eps=1e-5):
        if x.ndim < 2:
            raise ValueError(f"batch norm expects an input of shape (N, C, ...), got {x.shape}")
        self.axes = (0, *range(2, x.ndim))
        self.bshape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
        self.n = x.size // x.shape[1]
        self.eps = eps
        xh, r, mu, var = normalise(x, self.axes, self.n, x.dtype.type(eps))
        self.xh, self.r = xh, r  # what the array rule needs
        self.mean, self.var = mu.reshape(-1), var.reshape(-1)  # for the running statistics
        out = xh
        if gamma is not None:
            out = out * gamma.reshape(self.bshape)
        if beta is not None:
            out = out + beta.reshape(self.bshape)
        return out

    def backward(self, g, out, x, gamma=None, beta=None):
        axes, n, needs = self.axes, self.n, self.needs
        if is_tensor(g):  # recompute the statistics as recorded ops: differentiable again
            xh, r, _, _ = normalise(x, axes, n, self.eps)
        else:
            xh, r = self.xh, self.r
        dxh = g * gamma.reshape(self.bshape) if gamma is not None else g
        dx = None
        if needs[0]:
            dx = r * (dxh - _mean(dxh, axes, n) - xh * _mean(dxh * xh, axes, n))
        grads = [dx]
        if len(needs) > 1:
            grads.append((g * xh).sum(axis=axes) if needs[1] else None)
        if len(needs) > 2:
            grads.append(g.sum(axis=axes) if needs[2] else None)
        return tuple(grads)

    def rules(self):
        return self.vjp[: len(getattr(self, "inputs", self.vjp))]

    def detail(self) -> str:
        return f"over axes {self.axes}, eps {self.eps:g}"

    def formula_expr(self, args, namer=None):
        z = E.call("batchnorm", args[0])
        if len(args) > 1:
            z = E.mul(z, args[1])
        return E.add(z, args[2]) if len(args) > 2 else z

    def vjp_exprs(self, g, args, out, namer=None):
        x = args[0].render()
        xh = E.call("batchnorm", args[0])
        dxh = E.mul(g, args[1]) if len(args) > 1 else g
        dx = E.atom(f"batchnorm_vjp({dxh.render()}, {x})")
        grads = [dx, E.atom(f"sum({E.mul(g, xh).render()}, axis={self.axes})"),
                 E.atom(f"sum({g.render()}, axis={self.axes})")]  # fmt: skip
        return grads[: len(args)]


class LayerNorm(Function):
    """Normalise over the last ``k`` axes, then scale and shift.

    With ``n`` the number of normalised entries, ``mu`` their mean, ``r = 1/sqrt(var + eps)``
    (``var`` the biased variance) and ``xh = (x - mu) r``::

        y  = xh * w + b
        dx = r * (gh - mean(gh) - xh * mean(gh * xh)),   gh = g * w   (means over the k axes)
        dw = sum(g * xh) over the leading axes,          db = sum(g) over the leading axes

    ``w`` and ``b`` (shape: the last ``k`` axes) are optional: ``LayerNorm.apply(x, k=1)``. The
    forward keeps ``xh`` and ``r``; with ``create_graph=True`` the rule rebuilds them from the
    ``x`` Tensor with differentiable ops, so second derivatives are right.
    """

    args, formula = ("x", "w", "b"), "(x - mean(x)) / sqrt(var(x) + eps) * w + b"
    vjp = (
        "dx = r * (gh - mean(gh) - xh * mean(gh * xh))",
        "dw = sum(g * xh)",
        "db = sum(g)",
    )
    fused = "mean + var + normalise + scale + shift"

    def forward(self, x, w=None, b=None, k=1, eps=1e-5):
        self.axes = tuple(range(x.ndim - k, x.ndim))
        self.eps = eps
        mu = x.mean(axis=self.axes, keepdims=True)
        xc = x - mu
        var = np.mean(xc * xc, axis=self.axes, keepdims=True)
        r = 1.0 / np.sqrt(var + eps)
        xc *= r  # now xh
        self.xh, self.r = xc, r
        if w is None:
            return xc.copy()
        out = xc * w
        if b is not None:
            out += b
        return out

    def _normalised(self, x):
        """``xh`` and ``r`` of a Tensor ``x``, by differentiable ops."""
        n = int(np.prod([x.shape[a] for a in self.axes]))
        xh, r, _, _ = normalise(x, self.axes, n, self.eps)
        return xh, r

    def detail(self) -> str:
        return f"over the last {len(self.axes)} axes, eps {self.eps:g}"

    def backward(self, g, out, x, w=None, b=None):
        if not is_tensor(x):
            return self._array_backward(g, w)
        needs = self.needs
        xh, r = self._normalised(x)
        axes = self.axes
        lead = tuple(range(g.ndim - len(axes)))
        gh = g if w is None else g * w
        dx = dw = db = None
        if needs[0]:
            mean_gh = gh.mean(axis=axes, keepdims=True)
            dx = (gh - mean_gh - xh * (gh * xh).mean(axis=axes, keepdims=True)) * r
        if len(needs) > 1 and needs[1]:
            dw = (g * xh).sum(axis=lead)
        if len(needs) > 2 and needs[2]:
            db = g.sum(axis=lead)
        return (dx, dw, db)[: len(needs)]

    def _array_backward(self, g, w):
        """The same rule on arrays, with three temporaries of ``x``'s size instead of ten."""
        needs, axes, xh, r = self.needs, self.axes, self.xh, self.r
        lead = tuple(range(g.ndim - len(axes)))
        g_xh = g * xh
        dw = g_xh.sum(axis=lead) if len(needs) > 1 and needs[1] else None
        db = g.sum(axis=lead) if len(needs) > 2 and needs[2] else None
        dx = None
        if needs[0]:
            if w is not None:
                g_xh *= w  # now gh * xh
            gh = g if w is None else g * w
            dx = xh * g_xh.mean(axis=axes, keepdims=True)
            np.subtract(gh, dx, out=dx)
            dx -= gh.mean(axis=axes, keepdims=True)
            dx *= r
        return (dx, dw, db)[: len(needs)]

    def formula_expr(self, args, namer=None):
        out = E.call("layer_norm", args[0])
        if len(args) > 1:
            out = E.mul(out, args[1])
        if len(args) > 2:
            out = E.add(out, args[2])
        return out
