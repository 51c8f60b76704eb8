"""Tests for tinygrad_ce.functional: softmax family, activations, mse_loss (cross-entropy has
its own file, test_cross_entropy.py)."""

from __future__ import annotations

import numpy as np
import pytest

from tinygrad_ce import Tensor, grad, gradcheck, jacobian
from tinygrad_ce import functional as F


def np_logsumexp(x: np.ndarray, axis=-1, keepdims=False) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    m = np.max(x, axis=axis, keepdims=True)
    out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis)


def np_softmax(x: np.ndarray, axis=-1) -> np.ndarray:
    return np.exp(np.asarray(x, np.float64) - np_logsumexp(x, axis=axis, keepdims=True))


@pytest.fixture
def rng():
    return np.random.default_rng(0)


# --- softmax, log_softmax, logsumexp ---------------------------------------------------------


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_softmax_values_and_rows_sum_to_one(rng, axis):
    x = rng.standard_normal((3, 4))
    s = F.softmax(Tensor(x), axis=axis).data
    np.testing.assert_allclose(s, np_softmax(x, axis=axis), rtol=1e-12)
    np.testing.assert_allclose(s.sum(axis=axis), 1.0, rtol=1e-12)


@pytest.mark.parametrize("axis", [0, -1, (0, 1), None])
def test_logsumexp_values(rng, axis):
    x = rng.standard_normal((3, 4))
    for keepdims in (False, True):
        out = F.logsumexp(Tensor(x), axis=axis, keepdims=keepdims)
        np.testing.assert_allclose(out.data, np_logsumexp(x, axis=axis, keepdims=keepdims))


def test_log_softmax_is_log_of_softmax(rng):
    x = rng.standard_normal((2, 3, 5))
    np.testing.assert_allclose(
        F.log_softmax(Tensor(x), axis=1).data, np.log(np_softmax(x, axis=1)), atol=1e-12
    )


def test_tensor_methods_delegate_to_functional(rng):
    x = Tensor(rng.standard_normal((2, 5)))
    np.testing.assert_array_equal(x.softmax().data, F.softmax(x).data)
    np.testing.assert_array_equal(x.log_softmax(axis=0).data, F.log_softmax(x, axis=0).data)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_family_is_stable_for_huge_inputs(dtype):
    x = np.array([[1e4, -1e4, 0.0, 1e4 - 1.0], [-3e4, -3e4 + 2.0, -3e4, -3e4]], dtype=dtype)
    t = Tensor(x, requires_grad=True)
    s = F.softmax(t)
    lsm = F.log_softmax(t)
    lse = F.logsumexp(t)
    for out in (s, lsm, lse):
        assert out.dtype == dtype
        assert np.all(np.isfinite(out.data))
    np.testing.assert_allclose(s.data, np_softmax(x), rtol=1e-5, atol=1e-30)
    np.testing.assert_allclose(lse.data, np_logsumexp(x), rtol=1e-6)
    np.testing.assert_allclose(lsm.data, x - np_logsumexp(x, keepdims=True), rtol=1e-6, atol=1e-3)
    (g,) = grad(lse.sum(), t)
    np.testing.assert_allclose(g.data, np_softmax(x), rtol=1e-5, atol=1e-30)
    assert g.dtype == dtype


def test_minus_infinity_entries_are_masked_out():
    x = np.array([[0.0, -np.inf, 1.0], [-np.inf, -np.inf, -np.inf]])
    with np.errstate(divide="ignore", invalid="ignore"):  # numpy warns on the all -inf row
        s = F.softmax(Tensor(x)).data
        lse = F.logsumexp(Tensor(x)).data
    np.testing.assert_allclose(s[0], [1 / (1 + np.e), 0.0, np.e / (1 + np.e)])
    assert np.all(np.isnan(s[1]))  # 0 / 0: NaN, not a made-up distribution
    assert lse[1] == -np.inf  # log(sum of nothing), not a made-up finite number


@pytest.mark.parametrize(
    "fn",
    [
        lambda t: F.softmax(t, axis=-1),
        lambda t: F.softmax(t, axis=0),
        lambda t: F.log_softmax(t, axis=1),
        lambda t: F.logsumexp(t, axis=1),
        lambda t: F.logsumexp(t, axis=None),
        lambda t: F.logsumexp(t, axis=0, keepdims=True),
    ],
    ids=["softmax-1", "softmax0", "log_softmax", "logsumexp", "logsumexp-all", "lse-keep"],
)
def test_softmax_family_gradcheck(rng, fn):
    assert gradcheck(fn, rng.standard_normal((3, 4)) * 3)


def test_softmax_jacobian_is_diag_s_minus_ssT(rng):
    x = rng.standard_normal(5)
    s = np_softmax(x)
    np.testing.assert_allclose(jacobian(F.softmax, x), np.diag(s) - np.outer(s, s), atol=1e-12)


def test_logsumexp_hessian_is_softmax_jacobian(rng):
    """Second derivatives through the composed logsumexp: d2/dx2 = diag(s) - s s^T."""
    x = rng.standard_normal(4)

    def gradient(t):
        return grad(F.logsumexp(t), t, create_graph=True)[0]

    s = np_softmax(x)
    np.testing.assert_allclose(jacobian(gradient, x), np.diag(s) - np.outer(s, s), atol=1e-12)


def test_softmax_family_errors():
    with pytest.raises(TypeError, match="floating point.*int64"):
        F.softmax(Tensor(np.arange(3)))
    with pytest.raises(ValueError, match="axis 2 is out of range.*shape \\(2, 3\\)"):
        F.log_softmax(Tensor(np.zeros((2, 3))), axis=2)
    with pytest.raises(ValueError, match="0-d"):
        F.logsumexp(Tensor(np.float64(1.0)), axis=1)
    assert F.logsumexp(Tensor(np.float64(1.0))).item() == 1.0  # axis -1 of a 0-d: as torch


# --- activations -----------------------------------------------------------------------------


def test_activations_values(rng):
    x = rng.standard_normal((3, 4)) * 3
    t = Tensor(x)
    np.testing.assert_allclose(F.relu(t).data, np.maximum(x, 0))
    np.testing.assert_allclose(F.tanh(t).data, np.tanh(x))
    np.testing.assert_allclose(F.sigmoid(t).data, 1 / (1 + np.exp(-x)), rtol=1e-12)
    assert np.all(np.isfinite(F.sigmoid(Tensor([-1e4, 1e4])).data))


@pytest.mark.parametrize("fn", [F.relu, F.tanh, F.sigmoid])
def test_activations_gradcheck(rng, fn):
    x = rng.standard_normal((3, 4))
    x[np.abs(x) < 1e-3] = 0.5  # keep relu away from its kink
    assert gradcheck(fn, x)


def test_activations_reject_integers():
    with pytest.raises(TypeError, match="relu input must be floating point"):
        F.relu(Tensor([1, 2]))


# --- mse_loss --------------------------------------------------------------------------------


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse_loss_values_and_gradient(rng, reduction):
    p, t = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    pred = Tensor(p, requires_grad=True)
    out = F.mse_loss(pred, t, reduction=reduction)
    sq = (p - t) ** 2
    expected = {"mean": sq.mean(), "sum": sq.sum(), "none": sq}[reduction]
    np.testing.assert_allclose(out.data, expected)
    upstream = rng.standard_normal(out.shape)
    out.backward(upstream)
    scale = {"mean": 1 / p.size, "sum": 1.0, "none": 1.0}[reduction]
    np.testing.assert_allclose(pred.grad, 2 * (p - t) * scale * upstream)
    assert gradcheck(lambda a, b: F.mse_loss(a, b, reduction=reduction), [p, t])


def test_mse_loss_errors():
    with pytest.raises(ValueError, match=r"pred has shape \(4, 1\) but target has shape \(4,\)"):
        F.mse_loss(Tensor(np.zeros((4, 1))), np.zeros(4))
    with pytest.raises(ValueError, match="reduction must be one of"):
        F.mse_loss(Tensor(np.zeros(2)), np.zeros(2), reduction="avg")


def test_mse_loss_keeps_float32():
    pred = Tensor(np.ones(3, np.float32), requires_grad=True)
    loss = F.mse_loss(pred, np.zeros(3, np.float32))
    loss.backward()
    assert loss.dtype == np.float32 and pred.grad.dtype == np.float32
