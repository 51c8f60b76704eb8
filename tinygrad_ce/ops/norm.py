"""Normalisation: layer norm as one node (its backward in the compact form)."""

from __future__ import annotations

import numpy as np

from .. import symbolic as E
from ..autograd import Function, is_tensor


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
        xc = x - x.mean(axis=self.axes, keepdims=True)
        r = ((xc * xc).mean(axis=self.axes, keepdims=True) + self.eps) ** -0.5
        return xc * r, r

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
