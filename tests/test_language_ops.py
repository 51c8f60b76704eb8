"""The language-model ops: every VJP against float64 finite differences, second derivatives
(Hessian-vector products against finite differences of the gradient), and their values.

Each new op also has a case in the op catalogue (``tests/test_op_catalogue.py``); ``CASES`` here
are further ones, in the same shape: op class name -> ``(fn, [float64 input arrays])``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import check_second_order, check_vjp, rand
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_ce as tg
from tinygrad_ce import F, Tensor, ops
from tinygrad_ce.ops.special import erf, normal_cdf

RNG = np.random.default_rng(12)
MASK = RNG.random((3, 4)) > 0.4
IDS = np.array([[0, 2, 2], [4, 0, 2]])  # repeated ids: their rows must accumulate


def _causal(q, k, v):
    return F.scaled_dot_product_attention(q, k, v, is_causal=True)


def _bool_mask(q, k, v):
    keep = np.array([[True, False, True, True], [False, True, True, False], [True] * 4])
    return F.scaled_dot_product_attention(q, k, v, attn_mask=keep)


CASES = {
    "Where": (lambda x, y: tg.where(MASK, x, y * 2.0), [rand((3, 4), 1), rand((4,), 2)]),
    "Maximum": (lambda x, y: x.maximum(y), [rand((3, 4), 3), rand((3, 1), 4)]),
    "Minimum": (lambda x, y: x.minimum(y), [rand((3, 4), 5), rand((4,), 6)]),
    "Erf": (lambda x: ops.Erf.apply(x * 2.0), [rand((2, 5), 7)]),
    "GELU": (lambda x: F.gelu(x * 2.0), [rand((2, 5), 8)]),
    "Concat": (lambda a, b: tg.cat([a, b.tanh(), a], axis=1), [rand((2, 3), 9), rand((2, 2), 10)]),
    "Embedding": (lambda w: F.embedding(IDS, w), [rand((5, 3), 11)]),
    "LayerNorm": (
        lambda x, w, b: F.layer_norm(x, 4, w, b),
        [rand((2, 3, 4), 12), rand((4,), 13), rand((4,), 14)],
    ),
}


@pytest.mark.parametrize("name", CASES)
def test_vjp_against_finite_differences(name):
    fn, arrays = CASES[name]
    check_vjp(fn, arrays)


MORE_VJPS = {
    "gelu tanh": (lambda x: F.gelu(x * 3.0, approximate="tanh"), [rand((7,), 15)]),
    "masked_fill": (lambda x: x.masked_fill(MASK, -3.0) * x, [rand((3, 4), 16)]),
    "clip": (lambda x: x.clip(-0.5, 0.8) * x, [rand((3, 4), 17)]),
    "clip lo only": (lambda x: x.clip(lo=0.1), [rand((3, 4), 18)]),
    "var": (lambda x: x.var(axis=1, ddof=1), [rand((3, 4), 19)]),
    "std keepdims": (lambda x: x.std(axis=(0, 2), keepdims=True), [rand((2, 3, 4), 20)]),
    "var all": (lambda x: x.var() * x, [rand((2, 3), 21)]),
    "stack axis -1": (
        lambda a, b: tg.stack([a, b * a], axis=-1),
        [rand((2, 3), 22), rand((3,), 23)],
    ),
    "stack axis 0": (
        lambda a, b: tg.stack([a, b], axis=0).tanh(),
        [rand((2, 3), 24), rand((2, 3), 25)],
    ),
    "layer_norm 2 axes": (lambda x: F.layer_norm(x, (3, 4)), [rand((2, 3, 4), 26)]),
    "layer_norm weight only": (
        lambda x, w: F.layer_norm(x, 4, w),
        [rand((3, 4), 27), rand((4,), 28)],
    ),
    "layer_norm 1-D": (
        lambda x, w, b: F.layer_norm(x, 5, w, b),
        [rand((5,), 29), rand((5,), 30), rand((5,), 31)],
    ),
    "attention": (
        lambda q, k, v: F.scaled_dot_product_attention(q, k, v),
        [rand((2, 3, 4), 32), rand((2, 5, 4), 33), rand((2, 5, 2), 34)],
    ),
    "attention causal": (_causal, [rand((2, 4, 3), 35), rand((2, 4, 3), 36), rand((2, 4, 3), 37)]),
    "attention bool mask": (_bool_mask, [rand((3, 2), 38), rand((4, 2), 39), rand((4, 3), 40)]),
    "attention float mask": (
        lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=rand((3, 4), 41)),
        [rand((3, 2), 42), rand((4, 2), 43), rand((4, 3), 44)],
    ),
    "embedding 1-D ids": (
        lambda w: F.embedding(np.array([3, 3, 3, 1]), w) * 2.0,
        [rand((4, 2), 45)],
    ),
    "getitem rows (sorted scatter)": (lambda x: x[np.array([[1, -1], [1, 0]])], [rand((3, 2), 46)]),
}


@pytest.mark.parametrize("name", MORE_VJPS)
def test_composed_vjps_against_finite_differences(name):
    fn, arrays = MORE_VJPS[name]
    check_vjp(fn, arrays)


# ---------------------------------------------------------------------------------------------
# values and the special cases of each rule


def test_maximum_ties_split_the_gradient_in_half_as_torch():
    x = Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    y = Tensor(np.array([1.0, 5.0, 0.0]), requires_grad=True)
    (x.maximum(y) * Tensor(np.array([2.0, 4.0, 8.0]))).sum().backward()
    np.testing.assert_array_equal(x.grad, [1.0, 0.0, 8.0])
    np.testing.assert_array_equal(y.grad, [1.0, 4.0, 0.0])
    x.grad = y.grad = None
    x.minimum(y).sum().backward()
    np.testing.assert_array_equal(x.grad, [0.5, 1.0, 0.0])
    np.testing.assert_array_equal(y.grad, [0.5, 0.0, 1.0])


def test_maximum_with_a_number_and_broadcast_ties():
    x = Tensor(np.array([[0.0, 1.0], [-1.0, 0.0]]), requires_grad=True)
    x.maximum(0.0).sum().backward()  # relu with a half at 0
    np.testing.assert_array_equal(x.grad, [[0.5, 1.0], [0.0, 0.5]])


def test_clip_passes_the_gradient_on_the_bounds_as_torch_clamp():
    x = Tensor(np.array([-2.0, -1.0, 0.0, 1.0, 2.0]), requires_grad=True)
    y = x.clip(-1.0, 1.0)
    np.testing.assert_array_equal(y.data, [-1.0, -1.0, 0.0, 1.0, 1.0])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 1.0, 1.0, 1.0, 0.0])
    with pytest.raises(ValueError, match="lo"):
        x.clip()
    with pytest.raises(ValueError, match="must not exceed"):
        x.clip(2.0, 1.0)


def test_masked_fill_with_minus_inf_sends_exact_zeros_not_nan():
    x = Tensor(rand((2, 3), 50), requires_grad=True)
    mask = np.array([[True, False, False], [False, False, True]])
    y = x.masked_fill(mask, -np.inf)
    assert y.dtype == x.dtype and np.isneginf(y.data[mask]).all()
    y.softmax(axis=1).sum(axis=0)[1].backward()
    assert np.isfinite(x.grad).all() and (x.grad[mask] == 0).all()
    with pytest.raises(TypeError, match="boolean"):
        x.masked_fill(np.zeros((2, 3)), 0.0)


def test_where_values_broadcasting_and_errors():
    c = np.array([True, False, True])
    out = tg.where(c, Tensor(np.ones((2, 3))), 5.0)
    np.testing.assert_array_equal(out.data, np.where(c, 1.0, 5.0) * np.ones((2, 3)))
    with pytest.raises(TypeError, match="boolean"):
        tg.where(np.array([1, 0, 1]), Tensor(np.ones(3)), 0.0)
    with pytest.raises(ValueError, match="cannot be broadcast"):
        tg.where(c, Tensor(np.ones((2, 2))), 0.0)


def test_var_and_std_match_numpy():
    a = rand((3, 4, 5), 51)
    x = Tensor(a)
    for axis in (None, 0, (1, 2), -1):
        for ddof in (0, 1):
            np.testing.assert_allclose(
                x.var(axis=axis, ddof=ddof).data, a.var(axis=axis, ddof=ddof)
            )
            np.testing.assert_allclose(
                x.std(axis=axis, ddof=ddof, keepdims=True).data,
                a.std(axis=axis, ddof=ddof, keepdims=True),
            )
    assert np.isnan(Tensor(np.ones(1)).var(ddof=1).item())


def test_cat_and_stack_values_and_errors():
    a, b = rand((2, 3), 52), rand((2, 1), 53)
    np.testing.assert_array_equal(
        tg.cat([Tensor(a), Tensor(b)], axis=-1).data, np.concatenate([a, b], -1)
    )
    np.testing.assert_array_equal(
        tg.stack([Tensor(a), Tensor(a)], axis=1).data, np.stack([a, a], 1)
    )
    with pytest.raises(ValueError, match="must match except along axis 0"):
        tg.cat([Tensor(a), Tensor(b)])
    with pytest.raises(ValueError, match="tensor 1 has shape"):
        tg.stack([Tensor(a), Tensor(b)])
    with pytest.raises(ValueError, match="non-empty"):
        tg.cat([])
    with pytest.raises(ValueError, match="out of range"):
        tg.stack([Tensor(a)], axis=3)


def test_embedding_repeated_ids_accumulate_exactly():
    w = Tensor(rand((6, 4), 54), requires_grad=True)
    ids = np.array([[5, 1, 5], [5, 0, 1]])
    g = rand((2, 3, 4), 55)
    out = F.embedding(ids, w)
    np.testing.assert_array_equal(out.data, w.data[ids])
    out.backward(g)
    want = np.zeros((6, 4))
    np.add.at(want, ids.reshape(-1), g.reshape(-1, 4))
    np.testing.assert_allclose(w.grad, want, rtol=1e-15)
    assert (w.grad[[2, 3, 4]] == 0).all()


def test_embedding_errors_name_the_bad_id():
    w = Tensor(rand((3, 2), 56), requires_grad=True)
    with pytest.raises(IndexError, match="index 3 is out of range for a table of 3 rows"):
        F.embedding(np.array([0, 3]), w)
    with pytest.raises(IndexError, match="index -1"):
        F.embedding(np.array([-1]), w)
    with pytest.raises(TypeError, match="integers"):
        F.embedding(np.array([0.0]), w)


@settings(max_examples=30, deadline=None)
@given(
    ids=hnp.arrays(np.int64, hnp.array_shapes(max_dims=3, max_side=6), elements=st.integers(0, 6)),
    dim=st.integers(1, 4),
)
def test_embedding_backward_equals_add_at_for_any_ids(ids, dim):
    w = Tensor(rand((7, dim), 57), requires_grad=True)
    g = np.random.default_rng(ids.size).standard_normal(ids.shape + (dim,))
    F.embedding(ids, w).backward(g)
    want = np.zeros((7, dim))
    np.add.at(want, ids.reshape(-1), g.reshape(-1, dim))
    np.testing.assert_allclose(w.grad, want, rtol=1e-12, atol=1e-12)


def test_erf_matches_math_erf_over_a_wide_range():
    x = np.concatenate(
        [np.linspace(-30.0, 30.0, 60001), [0.0, -0.0, 1e-300, 5e-324, 0.46875, 4.0, 26.6, 1e300]]
    )
    want = np.array([math.erf(v) for v in x])
    got = erf(x)
    assert np.max(np.abs(got - want)) < 1e-15
    small = np.abs(x) < 0.5  # relative accuracy where erf is small
    np.testing.assert_allclose(got[small], want[small], rtol=1e-15, atol=0)
    np.testing.assert_array_equal(erf(np.array([np.inf, -np.inf])), [1.0, -1.0])
    assert np.isnan(erf(np.array([np.nan]))).all()
    x32 = x[np.abs(x) < 1e30].astype(np.float32)
    assert erf(x32).dtype == np.float32
    np.testing.assert_allclose(erf(x32), [math.erf(v) for v in x32.astype(float)], atol=2e-7)


def test_normal_cdf_in_float64_and_float32():
    x = np.linspace(-12.0, 12.0, 24001)
    want = np.array([0.5 * (1 + math.erf(v / math.sqrt(2))) for v in x])
    np.testing.assert_allclose(normal_cdf(x), want, rtol=0, atol=3e-16)
    got32 = normal_cdf(x.astype(np.float32))
    assert got32.dtype == np.float32
    want32 = [0.5 * (1 + math.erf(v / math.sqrt(2))) for v in x.astype(np.float32).astype(float)]
    assert np.max(np.abs(got32 - want32)) < 1.5e-7  # the fitted tanh form, float32 resolution
    assert (np.diff(got32) >= 0).all() and got32[0] < 1e-7 and got32[-1] == 1
    gelu32 = F.gelu(Tensor(x.astype(np.float32))).data
    assert gelu32.dtype == np.float32
    np.testing.assert_allclose(gelu32, x * np.array(want32), atol=1.5e-6)


def test_gelu_values_exact_and_tanh():
    a = np.linspace(-8, 8, 161)
    exact = np.array([v * 0.5 * (1 + math.erf(v / math.sqrt(2))) for v in a])
    np.testing.assert_allclose(F.gelu(Tensor(a)).data, exact, rtol=1e-14, atol=1e-300)
    approx = 0.5 * a * (1 + np.tanh(math.sqrt(2 / math.pi) * (a + 0.044715 * a**3)))
    np.testing.assert_allclose(F.gelu(Tensor(a), approximate="tanh").data, approx, rtol=1e-14)
    assert np.max(np.abs(approx - exact)) < 1e-3
    with pytest.raises(ValueError, match="approximate"):
        F.gelu(Tensor(a), approximate="fast")


def test_layer_norm_values_and_errors():
    a, w, b = rand((2, 3, 4), 58), rand((4,), 59), rand((4,), 60)
    want = (a - a.mean(-1, keepdims=True)) / np.sqrt(a.var(-1, keepdims=True) + 1e-5) * w + b
    np.testing.assert_allclose(F.layer_norm(Tensor(a), 4, Tensor(w), Tensor(b)).data, want)
    only_b = F.layer_norm(Tensor(a), (4,), bias=b).data
    np.testing.assert_allclose(only_b, want - (w - 1) * (want - b) / w, rtol=1e-12)
    with pytest.raises(ValueError, match="does not end with normalized_shape"):
        F.layer_norm(Tensor(a), 3)
    with pytest.raises(ValueError, match="weight must have shape"):
        F.layer_norm(Tensor(a), 4, np.ones(3))


def test_attention_is_softmax_of_scaled_scores_times_values():
    q, k, v = rand((2, 3, 4), 61), rand((2, 5, 4), 62), rand((2, 5, 6), 63)
    s = q @ k.swapaxes(-1, -2) / 2.0  # sqrt(E) = 2
    p = np.exp(s - s.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    out = F.scaled_dot_product_attention(Tensor(q), Tensor(k), Tensor(v))
    np.testing.assert_allclose(out.data, p @ v, rtol=1e-12)


def test_causal_attention_ignores_the_future():
    q, k, v = rand((4, 3), 64), rand((4, 3), 65), rand((4, 2), 66)
    out = F.scaled_dot_product_attention(Tensor(q), Tensor(k), Tensor(v), is_causal=True).data
    v2 = v.copy()
    v2[3] += 10.0  # only the last query may see the last key
    out2 = F.scaled_dot_product_attention(Tensor(q), Tensor(k), Tensor(v2), is_causal=True).data
    np.testing.assert_array_equal(out[:3], out2[:3])
    np.testing.assert_allclose(out[0], v[0])  # the first query sees only itself
    np.testing.assert_allclose(
        out,
        F.scaled_dot_product_attention(
            Tensor(q), Tensor(k), Tensor(v), attn_mask=np.tri(4, dtype=bool)
        ).data,
    )


def test_attention_row_with_nothing_to_attend_to_is_zero_with_zero_gradient():
    q = Tensor(rand((2, 3), 67), requires_grad=True)
    k, v = (
        Tensor(rand((3, 3), 68), requires_grad=True),
        Tensor(rand((3, 2), 69), requires_grad=True),
    )
    keep = np.array([[True, False, True], [False, False, False]])
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=keep)
    np.testing.assert_array_equal(out.data[1], 0.0)
    out.sum().backward()
    assert np.isfinite(q.grad).all() and (q.grad[1] == 0).all()
    assert np.isfinite(k.grad).all() and np.isfinite(v.grad).all()


def test_attention_shape_errors():
    q = Tensor(rand((2, 3), 70))
    with pytest.raises(ValueError, match="do not fit"):
        F.scaled_dot_product_attention(q, Tensor(rand((4, 2), 71)), Tensor(rand((4, 2), 72)))
    with pytest.raises(ValueError, match="not both"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=np.ones((2, 2), bool), is_causal=True)


# ---------------------------------------------------------------------------------------------
# second derivatives: d/dp <grad_p sum(f * u), v> against finite differences


def _squared(fn):
    return lambda *ts: fn(*ts) ** 2


SECOND_ORDER = {
    # each catalogue case squared, so linear ops (Where, Concat, ...) have a curvature too
    **{name: (_squared(fn), arrays) for name, (fn, arrays) in CASES.items()},
    "where feeding a product": (
        lambda x, y: tg.where(MASK, x * y, y.tanh()) * x,
        [rand((3, 4), 80), rand((4,), 81)],
    ),
    "gelu tanh": (lambda x: F.gelu(x * 2.0, approximate="tanh") * x, [rand((6,), 82)]),
    "layer_norm no affine": (lambda x: F.layer_norm(x, (2, 3)) * x, [rand((2, 2, 3), 83)]),
    "attention causal": (_causal, [rand((3, 2), 84), rand((3, 2), 85), rand((3, 2), 86)]),
    "attention bool mask": (_bool_mask, [rand((3, 2), 87), rand((4, 2), 88), rand((4, 2), 89)]),
    "var": (lambda x: x.std(axis=1) * x.var(), [rand((2, 3), 90)]),
}


@pytest.mark.parametrize("name", SECOND_ORDER)
def test_second_derivatives_against_finite_differences(name):
    f, arrays = SECOND_ORDER[name]
    check_second_order(f, arrays)
