"""Second derivatives: the VJP rules run on Tensors under ``grad(..., create_graph=True)``."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import check_second_order, positive, rand

from tinygrad_ce import Tensor, grad


def second_derivative(f, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Elementwise f' and f'' of an elementwise f, via grad twice (create_graph on the first)."""
    x = Tensor(a, requires_grad=True)
    (d1,) = grad(f(x).sum(), x, create_graph=True)
    assert d1.requires_grad  # the gradient is itself a graph
    (d2,) = grad(d1.sum(), x)
    return d1.data, d2.data


def _sig(a):
    return 1 / (1 + np.exp(-a))


CLOSED_FORMS = {
    # name: (f, f', f'', domain)
    "tanh": (
        lambda t: t.tanh(),
        lambda a: 1 - np.tanh(a) ** 2,
        lambda a: -2 * np.tanh(a) * (1 - np.tanh(a) ** 2),
        rand,
    ),
    "exp": (lambda t: t.exp(), np.exp, np.exp, rand),
    "log": (lambda t: t.log(), lambda a: 1 / a, lambda a: -1 / a**2, positive),
    "sigmoid": (
        lambda t: t.sigmoid(),
        lambda a: _sig(a) * (1 - _sig(a)),
        lambda a: _sig(a) * (1 - _sig(a)) * (1 - 2 * _sig(a)),
        rand,
    ),
    "sqrt": (lambda t: t.sqrt(), lambda a: 0.5 * a**-0.5, lambda a: -0.25 * a**-1.5, positive),
    "cube": (lambda t: t**3, lambda a: 3 * a**2, lambda a: 6 * a, rand),
    "reciprocal": (lambda t: 1.0 / t, lambda a: -1 / a**2, lambda a: 2 / a**3, positive),
}


@pytest.mark.parametrize("name", CLOSED_FORMS)
def test_second_derivative_against_closed_form_and_finite_differences(name):
    f, d1_ref, d2_ref, gen = CLOSED_FORMS[name]
    a = gen((7,), 3)
    d1, d2 = second_derivative(f, a)
    np.testing.assert_allclose(d1, d1_ref(a), rtol=1e-12)
    np.testing.assert_allclose(d2, d2_ref(a), rtol=1e-10, atol=1e-12)
    # finite differences of the first derivative (itself computed by the engine)
    eps = 1e-6
    fd = (second_derivative(f, a + eps)[0] - second_derivative(f, a - eps)[0]) / (2 * eps)
    np.testing.assert_allclose(d2, fd, rtol=1e-6, atol=1e-7)


def test_create_graph_gradient_carries_the_upstream_gradient():
    a = rand((4,), 4)
    v = np.array([1.0, -2.0, 0.5, 3.0])
    x = Tensor(a, requires_grad=True)
    (d1,) = grad(x.tanh(), x, grad_outputs=v, create_graph=True)
    np.testing.assert_allclose(d1.data, v * (1 - np.tanh(a) ** 2))
    (d2,) = grad(d1.sum(), x)
    np.testing.assert_allclose(d2.data, v * -2 * np.tanh(a) * (1 - np.tanh(a) ** 2))


def test_grad_output_as_tensor_is_differentiable_too():
    """d/dv of the VJP v . J is J applied to the other seed: check on y = x * x."""
    a = rand((3,), 5)
    x = Tensor(a, requires_grad=True)
    v = Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    (gx,) = grad(x * x, x, grad_outputs=v, create_graph=True)  # gx = 2 x v
    (gv,) = grad(gx.sum(), v)
    np.testing.assert_allclose(gv.data, 2 * a)


def _hvp_numeric(f, params, vs, eps=1e-5):
    """Finite differences of the engine's gradient along direction vs: (g(p + e v) - g(p - e v))."""

    def g_at(shift):
        ts = [Tensor(p + shift * v, requires_grad=True) for p, v in zip(params, vs, strict=True)]
        return [g.data for g in grad(f(*ts), ts)]

    up, down = g_at(eps), g_at(-eps)
    return [(u - d) / (2 * eps) for u, d in zip(up, down, strict=True)]


def _mlp_loss(x_data, y_onehot):
    def loss(w1, b1, w2, b2):
        h = (Tensor(x_data) @ w1 + b1).tanh()
        logits = h @ w2 + b2
        m = Tensor(logits.data.max(axis=1, keepdims=True))  # the max shift: a constant
        lse = (logits - m).exp().sum(axis=1, keepdims=True).log() + m
        return ((lse - logits) * Tensor(y_onehot)).sum() / x_data.shape[0]

    return loss


def test_hessian_vector_product_of_a_small_mlp():
    rng = np.random.default_rng(0)
    x_data = rng.standard_normal((6, 3))
    y_onehot = np.eye(4)[rng.integers(0, 4, 6)]
    params = [
        rng.standard_normal((3, 5)) * 0.7,
        rng.standard_normal(5) * 0.1,
        rng.standard_normal((5, 4)) * 0.7,
        rng.standard_normal(4) * 0.1,
    ]
    vs = [rng.standard_normal(p.shape) for p in params]
    f = _mlp_loss(x_data, y_onehot)
    ts = [Tensor(p, requires_grad=True) for p in params]
    grads = grad(f(*ts), ts, create_graph=True)
    gv = sum((g * Tensor(v)).sum() for g, v in zip(grads, vs, strict=True))
    hvp = grad(gv, ts)
    expected = _hvp_numeric(f, params, vs)
    for got, want in zip(hvp, expected, strict=True):
        assert got.shape == want.shape
        np.testing.assert_allclose(got.data, want, rtol=1e-5, atol=1e-7)
    # the HVP is not trivially zero
    assert max(np.abs(h.data).max() for h in hvp) > 1e-2


def test_hessian_vector_product_of_an_mse_loss():
    rng = np.random.default_rng(1)
    x_data, y_data = rng.standard_normal((5, 2)), rng.standard_normal((5, 1))

    def f(w, b):
        pred = (Tensor(x_data) @ w).tanh() + b
        return ((pred - Tensor(y_data)) ** 2).mean()

    params = [rng.standard_normal((2, 1)), rng.standard_normal(1)]
    vs = [rng.standard_normal((2, 1)), rng.standard_normal(1)]
    ts = [Tensor(p, requires_grad=True) for p in params]
    grads = grad(f(*ts), ts, create_graph=True)
    hvp = grad(grads, ts, grad_outputs=[Tensor(v) for v in vs])
    for got, want in zip(hvp, _hvp_numeric(f, params, vs), strict=True):
        np.testing.assert_allclose(got.data, want, rtol=1e-5, atol=1e-8)


SECOND_ORDER_CASES = {
    "matmul": (lambda x, w: ((x @ w).tanh() @ w.T).sum(axis=0), [(3, 4), (4, 2)]),
    "matmul 1-D": (lambda x, w: (w @ x.tanh()) * (x @ x), [(4,), (3, 4)]),
    "batched matmul": (lambda x, w: (x @ w) * (x @ w), [(2, 3, 4), (4, 2)]),
    "getitem": (lambda x, w: x[np.array([0, 0, 2])] * x[1:, None] * w[0], [(3, 4), (2,)]),
    "getitem mask": (lambda x, w: x[x.data > 0] ** 2 * w.sum(), [(3, 4), (2,)]),
    "max": (lambda x, w: (x * w).max(axis=1) * x.max(axis=1), [(3, 4), (4,)]),
    "sum broadcast": (lambda x, w: (x * w).sum(axis=0, keepdims=True) * (x + w), [(3, 4), (4,)]),
    "mean": (lambda x, w: (x * w).mean(axis=1) * x.mean(), [(3, 4), (3, 1)]),
    "reshape transpose": (
        lambda x, w: (x.reshape(4, 3).T * w).transpose(1, 0).reshape(-1) ** 2,
        [(3, 4), (3, 1)],
    ),
    "div pow": (lambda x, w: x / w + (x**w) / (w**2.5) + 2.0**x, [(3, 4), (1, 4)]),
}


@pytest.mark.parametrize("name", SECOND_ORDER_CASES)
def test_second_order_through_each_op(name):
    """d/dp of <grad_x sum(f * u), v>: analytic (create_graph) vs finite differences."""
    f, shapes = SECOND_ORDER_CASES[name]
    rng = np.random.default_rng(7)
    arrays = [rng.uniform(0.6, 1.8, s) for s in shapes]  # positive: safe for ** and /
    if name == "getitem mask":
        arrays[0] = rng.standard_normal(shapes[0])
    check_second_order(f, arrays)


def test_third_derivative():
    a = rand((5,), 9)
    x = Tensor(a, requires_grad=True)
    (d1,) = grad((x**4).sum(), x, create_graph=True)
    (d2,) = grad(d1.sum(), x, create_graph=True)
    (d3,) = grad(d2.sum(), x)
    np.testing.assert_allclose(d3.data, 24 * a)


def test_create_graph_leaves_dot_grad_untouched():
    x = Tensor(rand((3,), 10), requires_grad=True)
    (g,) = grad((x**3).sum(), x, create_graph=True)
    assert x.grad is None
    g.sum().backward()  # backward through the gradient graph accumulates into x.grad
    np.testing.assert_allclose(x.grad, 6 * x.data)
