"""Numerics at the edges: the negative tail of sigmoid, 0 ** y, -inf logits, NaN maxima,
float16 sums of many terms, empty and 0-d reductions (values as numpy and PyTorch give)."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import check_vjp

from tinygrad_ce import F, Tensor, grad


def test_sigmoid_keeps_relative_precision_in_the_negative_tail():
    x = np.array([-20.0, -50.0, -80.0, -5.0, 0.0, 5.0, 30.0], dtype=np.float32)
    t = Tensor(x, requires_grad=True)
    s = t.sigmoid()
    exact = 1 / (1 + np.exp(-x.astype(np.float64)))
    np.testing.assert_allclose(s.data, exact, rtol=2e-7)
    assert s.data[0] != 0
    logs = s.log()
    logs.sum().backward()
    assert np.all(np.isfinite(logs.data)) and np.all(np.isfinite(t.grad))
    np.testing.assert_allclose(t.grad, 1 - exact, rtol=1e-6, atol=1e-7)  # d log s = 1 - s


def test_sigmoid_vjp_and_second_derivative_on_both_sides():
    x = np.array([-30.0, -3.0, -0.1, 0.0, 0.2, 4.0])
    check_vjp(lambda t: t.sigmoid(), [x])
    t = Tensor(x, requires_grad=True)
    (g,) = grad(t.sigmoid().sum(), t, create_graph=True)
    (h,) = grad(g.sum(), t)
    s = 1 / (1 + np.exp(-x))
    np.testing.assert_allclose(h.data, s * (1 - s) * (1 - 2 * s), rtol=1e-10, atol=1e-300)


def test_pow_gradient_in_the_exponent_at_zero_base_is_zero():
    x = Tensor([0.0, 0.0, 2.0], requires_grad=True)
    y = Tensor([2.0, 0.0, 3.0], requires_grad=True)
    (x**y).sum().backward()
    np.testing.assert_allclose(y.grad, [0.0, 0.0, 8 * np.log(2.0)])
    np.testing.assert_allclose(x.grad, [0.0, 0.0, 12.0])
    base = Tensor([0.0, 3.0], requires_grad=True)
    (gy,) = grad((2.0 ** Tensor([1.0, 1.0]) * 0 + base ** Tensor([2.0, 2.0])).sum(), base)
    np.testing.assert_allclose(gy.data, [0.0, 6.0])
    e = Tensor([1.5, 2.0], requires_grad=True)
    (ge,) = grad((Tensor([0.0, 0.0]) ** e).sum(), e)  # constant zero base
    np.testing.assert_array_equal(ge.data, [0.0, 0.0])


@pytest.mark.parametrize(
    "options",
    [
        {"weight": np.array([1.0, 2.0, 3.0])},
        {"ignore_index": 2},
        {"weight": np.array([1.0, 2.0, 3.0]), "ignore_index": 0},
        {"reduction": "none", "ignore_index": 0},
        {"reduction": "sum", "weight": np.array([0.5, 1.0, 0.0])},
    ],
)
def test_unfused_cross_entropy_is_finite_with_a_minus_inf_logit(options):
    z = np.array([[-np.inf, 1.0, 2.0], [0.5, 0.1, -np.inf], [1.0, 2.0, 3.0]])
    labels = np.array([1, 0, 2])
    out = []
    for fused in (True, False):
        x = Tensor(z, requires_grad=True)
        loss = F.cross_entropy(x, labels, fused=fused, **options)
        loss.sum().backward()
        assert np.all(np.isfinite(loss.data)) and np.all(np.isfinite(x.grad)), fused
        out.append((loss.data, x.grad))
    np.testing.assert_allclose(out[1][0], out[0][0], rtol=1e-12)
    np.testing.assert_allclose(out[1][1], out[0][1], rtol=1e-12, atol=1e-15)


def test_unfused_cross_entropy_with_weights_and_ignored_rows_matches_fused_vjp():
    rng = np.random.default_rng(3)
    z, labels = rng.standard_normal((5, 4)), np.array([0, 3, 3, 1, 2])
    w = np.array([0.5, 1.0, 2.0, 1.5])
    for kwargs in ({"weight": w}, {"ignore_index": 3}, {"weight": w, "ignore_index": 3}):
        check_vjp(lambda t, kw=kwargs: F.cross_entropy(t, labels, fused=False, **kw), [z])


def test_max_with_a_nan_sends_the_gradient_to_the_nan():
    x = Tensor([1.0, np.nan, 3.0], requires_grad=True)
    x.max().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 1.0, 0.0])
    rows = Tensor([[1.0, np.nan, np.nan], [4.0, 2.0, 0.0]], requires_grad=True)
    rows.max(axis=1).sum().backward()
    np.testing.assert_array_equal(rows.grad, [[0.0, 0.5, 0.5], [1.0, 0.0, 0.0]])


def test_float16_mean_and_softmax_over_70000_entries_do_not_overflow():
    x = Tensor(np.full(70_000, 0.5, np.float16), requires_grad=True)
    m = x.mean()
    assert m.dtype == np.float16 and m.item() == 0.5
    m.backward()
    np.testing.assert_allclose(x.grad, 1 / 70_000, rtol=2e-3)  # float16 spacing
    assert x.grad.dtype == np.float16
    s = F.softmax(x)
    assert s.dtype == np.float16
    np.testing.assert_allclose(s.data.astype(np.float64), 1 / 70_000, rtol=2e-3)  # float16
    np.testing.assert_allclose(F.log_softmax(x).data, -np.log(70_000), rtol=1e-3)
    np.testing.assert_allclose(F.logsumexp(x).item(), 0.5 + np.log(70_000), rtol=1e-3)
    big = Tensor(np.full((2, 70_000), 1.0, np.float16)).mean(axis=1)
    np.testing.assert_array_equal(big.data, [1.0, 1.0])


def test_reductions_of_a_0d_tensor_over_axis_0_return_the_value():
    x = Tensor(np.array(2.5), requires_grad=True)
    for out in (x.sum(axis=0), x.max(axis=-1), x.mean(axis=0), x.min(axis=(0,))):
        assert out.shape == () and out.item() == 2.5
    assert F.logsumexp(x, axis=0).item() == 2.5 and F.softmax(x, axis=0).item() == 1.0
    x.sum(axis=0).backward()
    assert x.grad == 1.0
    with pytest.raises(ValueError, match="0-d"):
        x.sum(axis=1)


def test_reductions_over_empty_axes_give_numpy_results():
    a = np.zeros((3, 0))
    x = Tensor(a, requires_grad=True)
    m = x.max(axis=0)  # zero columns, each a max over 3 rows: an empty result
    assert m.shape == np.max(a, axis=0).shape == (0,)
    m.sum().backward()
    assert x.grad.shape == (3, 0)
    assert x.sum(axis=()).shape == (3, 0) and x.sum(axis=1).shape == (3,)
    np.testing.assert_array_equal(x.sum(axis=1).data, np.zeros(3))
    with pytest.raises(ValueError, match="length 0"):
        x.max(axis=1)  # numpy raises too: a max of nothing
