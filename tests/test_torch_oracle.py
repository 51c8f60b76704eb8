"""Gradients compared with PyTorch as an oracle (skipped when torch is not installed).

The same program is written once against a tiny adapter (``TG`` / ``TORCH`` below) and run in
both frameworks; values, first and second derivatives must agree.
"""

from __future__ import annotations

import numpy as np
import pytest

from tinygrad_ce import Tensor, grad

torch = pytest.importorskip("torch")


class TG:
    """Adapter: tinygrad_ce spelling."""

    @staticmethod
    def leaf(a):
        return Tensor(a, requires_grad=True)

    @staticmethod
    def const(a):
        return Tensor(a)

    sum = staticmethod(lambda x, axis=None, keepdims=False: x.sum(axis=axis, keepdims=keepdims))
    mean = staticmethod(lambda x, axis=None, keepdims=False: x.mean(axis=axis, keepdims=keepdims))
    max = staticmethod(lambda x, axis, keepdims=False: x.max(axis=axis, keepdims=keepdims))
    relu = staticmethod(lambda x: x.relu())
    transpose = staticmethod(lambda x, a, b: x.swapaxes(a, b))

    @staticmethod
    def grads(out, leaves, create_graph=False):
        return grad(out, leaves, create_graph=create_graph)

    @staticmethod
    def value(x):
        return np.asarray(x.data)


class TORCH:
    """Adapter: PyTorch spelling."""

    @staticmethod
    def leaf(a):
        return torch.tensor(a, requires_grad=True)

    @staticmethod
    def const(a):
        return torch.tensor(a)

    @staticmethod
    def sum(x, axis=None, keepdims=False):
        return x.sum() if axis is None else x.sum(dim=axis, keepdim=keepdims)

    @staticmethod
    def mean(x, axis=None, keepdims=False):
        return x.mean() if axis is None else x.mean(dim=axis, keepdim=keepdims)

    @staticmethod
    def max(x, axis, keepdims=False):
        return torch.amax(x, dim=axis, keepdim=keepdims)  # amax also splits ties evenly

    relu = staticmethod(torch.relu)
    transpose = staticmethod(lambda x, a, b: x.transpose(a, b))

    @staticmethod
    def grads(out, leaves, create_graph=False):
        return torch.autograd.grad(out, leaves, create_graph=create_graph, allow_unused=True)

    @staticmethod
    def value(x):
        return x.detach().numpy()


def mlp_cross_entropy(F, x, onehot, w1, b1, w2, b2):
    h = (F.const(x) @ w1 + b1).tanh()
    logits = h @ w2 + b2
    m = F.const(F.value(F.max(logits, axis=1, keepdims=True)))
    lse = F.sum((logits - m).exp(), axis=1, keepdims=True).log() + m
    return F.mean(F.sum((lse - logits) * F.const(onehot), axis=1))


def graph_with_fan_out(F, x, w, v):
    a = (x @ w).tanh()  # (4, 3)
    b = a * a.sigmoid() + F.relu(a - 0.1)  # a used three times
    c = F.transpose(b, 0, 1) @ x  # (3, 5): x used again
    d = c[np.array([0, 2, 2, 1])] / (1.0 + c * c)[np.array([1, 1, 0, 2])]  # repeated rows
    e = F.max(d, axis=1) * F.sum(v**2, axis=0) + F.mean(w.exp())
    return (e * F.sum(d, axis=1)).sum() + F.sum(x * x) ** 0.5


def graph_with_ties(F, x, w):
    r = F.relu(x)  # many exact zeros: ties in the max below
    return F.sum(F.max(r, axis=0) * w) + F.sum(F.max(F.const(np.ones((3, 4))) * w, axis=1))


def _mlp_case(rng):
    consts = [rng.standard_normal((6, 3)), np.eye(5)[rng.integers(0, 5, 6)]]
    leaves = [rng.standard_normal(s) for s in [(3, 4), (4,), (4, 5), (5,)]]
    return (lambda F, *ls: mlp_cross_entropy(F, *consts, *ls)), leaves


def _fan_out_case(rng):
    leaves = [rng.standard_normal(s) for s in [(4, 5), (5, 3), (3,)]]
    return graph_with_fan_out, leaves


def _ties_case(rng):
    """Fixed values with exact ties (every seed is the same case)."""
    x = np.array([[-1.0, 2.0, -3.0, 0.5], [-2.0, 2.0, -1.0, 0.5], [-0.5, -1.0, -2.0, 0.5]])
    return graph_with_ties, [x, np.array([1.0, 1.0, 2.0, 1.0])]


# name -> (rng -> (program(F, *leaves), leaf arrays))
CASES = {"mlp cross-entropy": _mlp_case, "fan-out": _fan_out_case, "ties": _ties_case}


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_first_order_gradients_match_torch(name, seed):
    program, leaves_data = CASES[name](np.random.default_rng(seed))
    results = {}
    for F in (TG, TORCH):
        leaves = [F.leaf(a) for a in leaves_data]
        out = program(F, *leaves)
        results[F] = (F.value(out), [F.value(g) for g in F.grads(out, leaves)])
    (v_tg, g_tg), (v_t, g_t) = results[TG], results[TORCH]
    np.testing.assert_allclose(v_tg, v_t, rtol=1e-12)
    for a, b in zip(g_tg, g_t, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_hessian_vector_product_matches_torch():
    rng = np.random.default_rng(3)
    consts = [rng.standard_normal((6, 3)), np.eye(5)[rng.integers(0, 5, 6)]]
    params = [rng.standard_normal(s) for s in [(3, 4), (4,), (4, 5), (5,)]]
    vs = [rng.standard_normal(p.shape) for p in params]
    hvps = {}
    for F in (TG, TORCH):
        leaves = [F.leaf(p) for p in params]
        gs = F.grads(mlp_cross_entropy(F, *consts, *leaves), leaves, create_graph=True)
        dot = sum(F.sum(g * F.const(v)) for g, v in zip(gs, vs, strict=True))
        hvps[F] = [F.value(h) for h in F.grads(dot, leaves)]
    for a, b in zip(hvps[TG], hvps[TORCH], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def test_float32_gradients_match_torch():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((4, 5)).astype(np.float32)
    w = rng.standard_normal((5, 3)).astype(np.float32)
    v = rng.standard_normal(3).astype(np.float32)
    out = {}
    for F in (TG, TORCH):
        leaves = [F.leaf(a) for a in (x, w, v)]
        res = graph_with_fan_out(F, *leaves)
        out[F] = [F.value(g) for g in F.grads(res, leaves)]
    for a, b in zip(out[TG], out[TORCH], strict=True):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=2e-4, atol=1e-5)
