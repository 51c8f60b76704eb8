"""Linear algebra: the matrix product and a whole linear layer (``x @ W^T + b``) as one node."""

from __future__ import annotations

import numpy as np

from .. import symbolic as E
from ..autograd import Function


class MatMul(Function):
    """np.matmul semantics: 1-D, 2-D and batched operands; batch axes broadcast."""

    args, formula, vjp = ("A", "B"), "A @ B", ("dA = g @ B^T", "dB = A^T @ g")
    output = "Z"

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

    def formula_expr(self, args, namer=None):
        return E.product(args[0], args[1])  # A^T y: a product in a value is written as in maths

    def vjp_exprs(self, g, args, out, namer=None):
        A, B = args
        nda, ndb = (np.ndim(x) for x in self.arrays)
        if nda == 1 and ndb == 1:
            return [E.mul(g, B), E.mul(g, A)]
        if nda == 1:
            return [E.matmul(g, E.T(B)), E.call("outer", A, g)]
        if ndb == 1:
            return [E.call("outer", g, B), E.matmul(E.T(A), g)]
        return [E.matmul(g, E.T(B)), E.matmul(E.T(A), g)]


class Affine(Function):
    """One node for a whole linear layer (PyTorch records one ``addmm`` too).

    ``x`` has shape ``(..., in)``, ``W`` ``(out, in)``, ``b`` ``(out,)`` (optional:
    ``Affine.apply(x, W)``). The rules are contractions: ``g`` of shape ``(..., out)`` times
    the Jacobian, never a Jacobian built explicitly. Leading axes of ``x`` are treated as rows.
    """

    args, formula = ("x", "W", "b"), "x @ W^T + b"
    vjp = ("dx = g @ W", "dW = g^T @ x", "db = sum(g over rows)")

    def forward(self, x, w, b=None):
        if x.ndim == 0 or x.shape[-1] != w.shape[-1]:
            raise ValueError(f"Linear expects inputs of shape (..., {w.shape[-1]}), got {x.shape}")
        if x.ndim > 2:  # one 2-D product over all rows: faster than numpy's stacked matmul
            out = (x.reshape(-1, x.shape[-1]) @ w.T).reshape(x.shape[:-1] + (w.shape[0],))
        else:
            out = x @ w.T
        if b is not None:
            out += b
        return out

    def backward(self, g, out, x, w, b=None):
        needs = self.needs
        if len(g.shape) == 2:  # (rows, out) already: no reshapes
            rows_g, rows_x = g, x
        else:
            rows_g, rows_x = g.reshape((-1, g.shape[-1])), x.reshape((-1, x.shape[-1]))
        dx = None
        if needs[0]:
            dx = g @ w if len(g.shape) <= 2 else (rows_g @ w).reshape(x.shape)
        dw = rows_g.swapaxes(-1, -2) @ rows_x if needs[1] else None
        if len(needs) == 2:
            return dx, dw
        return dx, dw, (rows_g.sum(axis=0) if needs[2] else None)

    def formula_expr(self, args, namer=None):
        xw = E.product(args[0], E.T(args[1]))
        return E.add(xw, args[2]) if len(args) > 2 else xw

    def vjp_exprs(self, g, args, out, namer=None):
        x, w = args[0], args[1]
        ndim = np.ndim(self.arrays[0])
        if ndim == 1:
            grads = [E.matmul(g, w), E.call("outer", g, x), g]
        else:
            rows_g, rows_x = (g, x) if ndim == 2 else (E.call("rows", g), E.call("rows", x))
            db = E.atom(f"sum({rows_g.render()}, axis=0)")
            grads = [E.matmul(g, w), E.matmul(E.T(rows_g), rows_x), db]
        return grads[: len(args)]
