"""Batch normalisation in training mode as one node, with the compact backward (CS231n's form).

For ``x`` normalised over the axes ``A`` (every axis but the channels), ``n`` entries each::

    mu = mean(x),  var = mean((x - mu)^2),  r = 1 / sqrt(var + eps),  xh = (x - mu) r
    z  = xh * gamma + beta
    dxh = g * gamma
    dx  = r * (dxh - mean(dxh) - xh * mean(dxh * xh))      (means over A, kept as (1, C, 1, 1))
    dgamma = sum(g * xh),  dbeta = sum(g)

The rule is written with operations both arrays and Tensors have; on the Tensor path (a graph
of the backward) the statistics are recomputed from ``x`` as recorded ops, so the rule can be
differentiated again. ``functional.batch_norm(..., fused=False)`` builds the same value from
primitive nodes instead.
"""

from __future__ import annotations

from typing import Any

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
