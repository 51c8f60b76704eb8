"""The textbook identities behind softmax cross-entropy, from primitive ops only.

Softmax and cross-entropy are written inline with exp / sum / log / div (no
``tinygrad_ce.functional``), so these tests check the engine's composition of VJPs:

* one-hot (or any probability) target y: d/dtheta of -(y . log softmax(theta)) = softmax(theta) - y
* d/dy of CE(softmax(A^T y), x) = A @ (softmax(A^T y) - x): the chain rule is a contraction
* the backward of (f(x) * v).sum() is v contracted with the Jacobian of f (v @ J), not v * J
"""

from __future__ import annotations

import numpy as np
import pytest

from tinygrad_ce import Tensor, jacobian


def softmax_inline(z: Tensor) -> Tensor:
    """exp(z) / sum(exp(z)) over the last axis, from primitives (no max shift: small inputs)."""
    e = z.exp()
    return e / e.sum(axis=-1, keepdims=True)


def cross_entropy_inline(z: Tensor, target: np.ndarray) -> Tensor:
    """-(target * log(softmax(z))).sum()"""
    return -(Tensor(target) * softmax_inline(z).log()).sum()


def np_softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max())
    return e / e.sum()


@pytest.mark.parametrize("c,label", [(2, 0), (3, 1), (5, 4), (10, 7)])
def test_one_hot_cross_entropy_gradient_is_softmax_minus_y(c, label):
    theta_data = np.random.default_rng(c).standard_normal(c)
    y = np.eye(c)[label]
    theta = Tensor(theta_data, requires_grad=True)
    loss = cross_entropy_inline(theta, y)
    loss.backward()
    np.testing.assert_allclose(loss.item(), -np.log(np_softmax(theta_data)[label]), rtol=1e-12)
    np.testing.assert_allclose(theta.grad, np_softmax(theta_data) - y, atol=1e-12)


def test_probability_target_gradient_is_softmax_minus_target():
    rng = np.random.default_rng(1)
    theta_data = rng.standard_normal(6)
    y = rng.dirichlet(np.ones(6))  # any target that sums to 1
    theta = Tensor(theta_data, requires_grad=True)
    cross_entropy_inline(theta, y).backward()
    np.testing.assert_allclose(theta.grad, np_softmax(theta_data) - y, atol=1e-12)


def test_float32_one_hot_identity():
    theta_data = np.array([0.5, -1.0, 2.0, 0.0], dtype=np.float32)
    y = np.eye(4, dtype=np.float32)[2]
    theta = Tensor(theta_data, requires_grad=True)
    cross_entropy_inline(theta, y).backward()
    assert theta.grad.dtype == np.float32
    np.testing.assert_allclose(theta.grad, np_softmax(theta_data) - y, atol=1e-6)


@pytest.mark.parametrize("n,c", [(3, 4), (5, 2), (1, 3), (6, 6)])
def test_cross_entropy_of_softmax_of_linear_map_gradient(n, c):
    rng = np.random.default_rng(10 * n + c)
    a = rng.standard_normal((n, c))
    y_data = rng.standard_normal(n)
    x = rng.dirichlet(np.ones(c))  # probability vector (C,)
    y = Tensor(y_data, requires_grad=True)
    loss = cross_entropy_inline(Tensor(a).T @ y, x)  # CE(softmax(A^T y), x)
    loss.backward()
    s = np_softmax(a.T @ y_data)
    np.testing.assert_allclose(y.grad, a @ (s - x), atol=1e-12)
    assert y.grad.shape == (n,)


def test_the_chain_rule_here_is_a_contraction_not_an_elementwise_product():
    """With A not square, an elementwise g * J does not even have the right shape; with A square
    it has the right shape but the wrong values."""
    rng = np.random.default_rng(3)
    a = rng.standard_normal((4, 4))
    y_data = rng.standard_normal(4)
    x = np.eye(4)[1]
    y = Tensor(y_data, requires_grad=True)
    cross_entropy_inline(Tensor(a).T @ y, x).backward()
    s = np_softmax(a.T @ y_data)
    contraction = a @ (s - x)
    elementwise = np.diag(a) * (s - x)
    np.testing.assert_allclose(y.grad, contraction, atol=1e-12)
    assert not np.allclose(y.grad, elementwise)


def _softmax_jacobian(s: np.ndarray) -> np.ndarray:
    return np.diag(s) - np.outer(s, s)


def test_softmax_jacobian_is_diag_minus_outer():
    z = np.array([0.3, -1.2, 2.0, 0.1])
    jac = jacobian(softmax_inline, z)
    np.testing.assert_allclose(jac, _softmax_jacobian(np_softmax(z)), atol=1e-12)


W = np.random.default_rng(5).standard_normal((3, 4))

FUNCTIONS = {
    # name: (f, input shape) -- every one has a full (non-diagonal) Jacobian
    "softmax": (softmax_inline, (5,)),
    "W tanh": (lambda t: Tensor(W) @ t.tanh(), (4,)),
    "outer": (lambda t: t.reshape(-1, 1) * t.exp(), (3,)),
    "matrix square": (lambda t: t @ t, (3, 3)),
    "row softmax": (softmax_inline, (2, 3)),
    "normalize": (lambda t: t / (t * t).sum().sqrt(), (4,)),
}


@pytest.mark.parametrize("name", FUNCTIONS)
def test_backward_is_v_contracted_with_the_jacobian(name):
    f, shape = FUNCTIONS[name]
    rng = np.random.default_rng(len(name))
    x_data = rng.standard_normal(shape)
    out_shape = f(Tensor(x_data)).shape
    v = rng.standard_normal(out_shape)
    x = Tensor(x_data, requires_grad=True)
    (f(x) * Tensor(v)).sum().backward()
    jac = jacobian(f, x_data)  # shape out_shape + shape, assembled from one-hot VJPs
    vjp = np.tensordot(v, jac, axes=len(out_shape))
    np.testing.assert_allclose(x.grad, vjp, rtol=1e-10, atol=1e-12)
    # and the Jacobian is really a matrix here: off-diagonal blocks are not zero
    flat = jac.reshape(int(np.prod(out_shape)), int(np.prod(shape)))
    off_diagonal = flat - np.diag(np.diag(flat)) if flat.shape[0] == flat.shape[1] else flat
    assert np.abs(off_diagonal).max() > 1e-3
