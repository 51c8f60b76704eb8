"""Convolution and pooling ops: VJPs against finite differences (float64) on stride, padding and
kernel variants, second derivatives (Hessian-vector products), the conv rule as a convolution
with the flipped kernel, errors, and PyTorch as an oracle when it is installed."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import check_vjp, rand
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_ce import Tensor, explain, grad, no_grad
from tinygrad_ce import functional as F
from tinygrad_ce.ops import conv as C

# (x shape, weight shape, stride, padding): square and non-square kernels, stride > 1, padding
CONV_CASES = [
    ((2, 2, 5, 5), (3, 2, 3, 3), 1, 0),
    ((2, 2, 5, 6), (3, 2, 3, 3), 1, 1),
    ((2, 2, 7, 6), (3, 2, 3, 2), (2, 1), (1, 0)),
    ((1, 3, 7, 7), (2, 3, 2, 3), 2, 1),
    ((2, 1, 8, 7), (2, 1, 3, 3), 3, 2),  # stride 3: some rows of x are never used
    ((1, 2, 4, 4), (2, 2, 1, 1), 1, 0),  # 1x1 kernel
]
CASE_IDS = [f"k{w[2]}x{w[3]}-s{s}-p{p}" for _, w, s, p in CONV_CASES]


@pytest.mark.parametrize(("xs", "ws", "stride", "padding"), CONV_CASES, ids=CASE_IDS)
def test_conv2d_vjp_matches_finite_differences(xs, ws, stride, padding):
    arrays = [rand(xs, 1), rand(ws, 2), rand(ws[:1], 3)]
    check_vjp(lambda x, w, b: F.conv2d(x, w, b, stride, padding), arrays)


@pytest.mark.parametrize(("xs", "ws", "stride", "padding"), CONV_CASES[:4], ids=CASE_IDS[:4])
def test_conv2d_without_bias_and_with_a_constant_weight(xs, ws, stride, padding):
    w = rand(ws, 2)
    check_vjp(lambda x: F.conv2d(x, w, stride=stride, padding=padding), [rand(xs, 1)])


def _conv_shapes(xs, ws, stride, padding):
    s, p = C.pair(stride, "stride"), C.pair(padding, "padding", 0)
    ho = C.out_size(xs[2], ws[2], s[0], p[0])
    wo = C.out_size(xs[3], ws[3], s[1], p[1])
    return s, p, (xs[0], ws[0], ho, wo)


@pytest.mark.parametrize(("xs", "ws", "stride", "padding"), CONV_CASES, ids=CASE_IDS)
def test_the_rules_ops_have_vjps_too(xs, ws, stride, padding):
    """Conv2dInputGrad and Conv2dWeightGrad (the rules as ops) against finite differences."""
    s, p, gs = _conv_shapes(xs, ws, stride, padding)
    check_vjp(
        lambda g, w: C.Conv2dInputGrad.apply(g, w, x_shape=xs, stride=s, padding=p),
        [rand(gs, 4), rand(ws, 5)],
    )
    check_vjp(
        lambda x, g: C.Conv2dWeightGrad.apply(x, g, w_shape=ws, stride=s, padding=p),
        [rand(xs, 6), rand(gs, 7)],
    )


POOL_CASES = [  # kernel, stride, padding
    (2, None, 0),
    (3, 2, 1),  # overlapping windows, -inf / zero padding
    ((3, 2), (1, 2), (1, 0)),  # non-square, stride 1 along H: windows overlap
    (2, 3, 1),  # stride larger than the kernel
]


@pytest.mark.parametrize("pool", [F.max_pool2d, F.avg_pool2d], ids=["max", "avg"])
@pytest.mark.parametrize(("kernel", "stride", "padding"), POOL_CASES)
def test_pool_vjp_matches_finite_differences(pool, kernel, stride, padding):
    x = rand((2, 2, 6, 7), 8)  # distinct values: no ties for max
    check_vjp(lambda t: pool(t, kernel, stride, padding), [x])


def test_pool_defaults_and_values():
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    np.testing.assert_array_equal(F.max_pool2d(x, 2).data, [[[[5, 7], [13, 15]]]])
    np.testing.assert_array_equal(F.avg_pool2d(x, 2).data, [[[[2.5, 4.5], [10.5, 12.5]]]])
    # padding: max ignores it (-inf), the mean counts the zeros
    ones = np.ones((1, 1, 2, 2))
    np.testing.assert_array_equal(F.max_pool2d(ones, 2, 1, 1).data, np.ones((1, 1, 3, 3)))
    assert F.avg_pool2d(ones, 2, 1, 1).data[0, 0, 0, 0] == 0.25


def test_max_pool_gradient_goes_to_the_first_maximum_on_ties():
    x = Tensor(np.ones((1, 1, 2, 2)), requires_grad=True)
    F.max_pool2d(x, 2).sum().backward()
    np.testing.assert_array_equal(x.grad, [[[[1, 0], [0, 0]]]])


# ---------------------------------------------------------------------------------------------
# the conv rule is a convolution with the flipped kernel


def _dilate(g, s):
    n, c, h, w = g.shape
    out = np.zeros((n, c, (h - 1) * s[0] + 1, (w - 1) * s[1] + 1))
    out[:, :, :: s[0], :: s[1]] = g
    return out


@pytest.mark.parametrize(("xs", "ws", "stride", "padding"), CONV_CASES, ids=CASE_IDS)
def test_dx_is_the_full_correlation_with_the_flipped_kernel(xs, ws, stride, padding):
    """dx = conv2d(pad(dilate(g, s), k - 1 - p), flip(W)^T), built from the forward op only."""
    s, p, gs = _conv_shapes(xs, ws, stride, padding)
    x, w, g = Tensor(rand(xs, 1), requires_grad=True), rand(ws, 2), rand(gs, 3)
    F.conv2d(x, w, stride=s, padding=p).backward(g)
    kh, kw = ws[2:]
    full = np.pad(_dilate(g, s), ((0, 0), (0, 0), (kh - 1, kh - 1), (kw - 1, kw - 1)))
    flipped = w[:, :, ::-1, ::-1].swapaxes(0, 1)  # flip(W)^T: (C, O, kh, kw)
    dx = F.conv2d(full, flipped).data  # the gradient of the padded x
    h, wd = xs[2:]
    dx = dx[:, :, p[0] : p[0] + h, p[1] : p[1] + wd]
    # rows/columns the windows never reached (stride remainders) get no gradient
    expected = np.zeros(xs)
    expected[:, :, : dx.shape[2], : dx.shape[3]] = dx
    np.testing.assert_allclose(x.grad, expected, atol=1e-12)


def test_dw_is_x_correlated_with_g():
    """dW = conv2d(x^T, g^T)^T (batch and channel axes swapped), for stride 1."""
    x, w = rand((3, 2, 6, 5), 1), Tensor(rand((4, 2, 3, 2), 2), requires_grad=True)
    g = rand((3, 4, 4, 4), 3)
    F.conv2d(x, w).backward(g)
    expected = F.conv2d(x.swapaxes(0, 1), g.swapaxes(0, 1)).data.swapaxes(0, 1)
    np.testing.assert_allclose(w.grad, expected, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# second derivatives: Hessian-vector products against finite differences of the gradient


def _hvp_check(f, arrays, seed=0, eps=1e-5):
    """``grad(<grad f, v>)`` (create_graph) against ``(grad f(a + eps v) - grad f(a - eps v)) / 2
    eps``, every input at once."""
    rng = np.random.default_rng(seed)
    vs = [rng.standard_normal(a.shape) for a in arrays]
    leaves = [Tensor(a, requires_grad=True) for a in arrays]
    grads = grad(f(*leaves), leaves, create_graph=True)
    assert all(g.requires_grad for g in grads)
    dot = sum((g * v).sum() for g, v in zip(grads, vs, strict=True))
    hv = [h.data for h in grad(dot, leaves)]

    def gradient(shift):
        ts = [Tensor(a + shift * v, requires_grad=True) for a, v in zip(arrays, vs, strict=True)]
        return [g.data for g in grad(f(*ts), ts)]

    up, down = gradient(eps), gradient(-eps)
    for i, (h, u, d) in enumerate(zip(hv, up, down, strict=True)):
        np.testing.assert_allclose(h, (u - d) / (2 * eps), atol=1e-6, rtol=1e-5, err_msg=f"{i}")


@pytest.mark.parametrize(("xs", "ws", "stride", "padding"), CONV_CASES[:4], ids=CASE_IDS[:4])
def test_conv2d_hessian_vector_product(xs, ws, stride, padding):
    def f(x, w, b):
        z = F.conv2d(x, w, b, stride, padding)
        return (z.tanh() * z).sum()  # curvature in x, W and their product

    _hvp_check(f, [rand(xs, 1), rand(ws, 2) * 0.5, rand(ws[:1], 3)])


@pytest.mark.parametrize("pool", [F.max_pool2d, F.avg_pool2d], ids=["max", "avg"])
def test_pool_hessian_vector_product(pool):
    w = rand((2, 2, 2, 2), 4)

    def f(x):
        return (pool(F.conv2d(x, w, padding=1), 3, 2, 1) ** 3).sum()

    _hvp_check(f, [rand((2, 2, 5, 5), 5)])


def test_second_derivative_through_a_small_cnn():
    """A whole conv -> relu -> pool -> linear loss, differentiated twice w.r.t. the kernel."""
    x, y = rand((4, 1, 6, 6), 1), np.array([0, 1, 2, 1])
    fc = rand((3, 2 * 3 * 3), 2) * 0.3

    def f(w):
        h = F.max_pool2d(F.conv2d(x, w, padding=1).tanh(), 2)
        return F.cross_entropy(h.reshape(4, -1) @ fc.T, y)

    _hvp_check(f, [rand((2, 1, 3, 3), 3)])


# ---------------------------------------------------------------------------------------------
# errors: shapes named, nothing recorded


def test_channel_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"\(2, 3, 5, 5\).*3 channels.*\(4, 2, 3, 3\)"):
        F.conv2d(np.zeros((2, 3, 5, 5)), np.zeros((4, 2, 3, 3)))


def test_kernel_larger_than_the_padded_input():
    with pytest.raises(ValueError, match=r"kernel 5x5 .*larger than the padded input 4x4.*"):
        F.conv2d(np.zeros((1, 1, 2, 2)), np.zeros((1, 1, 5, 5)), padding=1)
    with pytest.raises(ValueError, match=r"max_pool2d: kernel 3x3 is larger.*2x2"):
        F.max_pool2d(np.zeros((1, 1, 2, 2)), 3)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: F.conv2d(np.zeros((1, 1, 4, 4)), np.zeros((1, 1, 3, 3)), stride=0), "stride"),
        (lambda: F.conv2d(np.zeros((1, 1, 4, 4)), np.zeros((1, 1, 3, 3)), padding=-1), "padding"),
        (lambda: F.conv2d(np.zeros((1, 4, 4)), np.zeros((1, 1, 3, 3))), r"\(N, C, H, W\)"),
        (lambda: F.conv2d(np.zeros((1, 1, 4, 4)), np.zeros((1, 3, 3))), r"\(O, C, kh, kw\)"),
        (
            lambda: F.conv2d(np.zeros((1, 1, 4, 4)), np.zeros((2, 1, 3, 3)), np.zeros(3)),
            r"bias of shape \(3,\).*\(2,\)",
        ),
        (lambda: F.max_pool2d(np.zeros((1, 1, 4, 4)), 2, padding=2), "at most half"),
        (lambda: F.avg_pool2d(np.zeros((1, 1, 4, 4)), (2, 2, 2)), "kernel_size"),
        (lambda: F.conv2d(np.zeros((1, 1, 4, 4), dtype=int), np.zeros((1, 1, 3, 3))), "float"),
    ],
)
def test_bad_arguments_say_what_to_pass(call, message):
    with pytest.raises((ValueError, TypeError), match=message):
        call()


def test_a_failed_call_records_nothing():
    w = Tensor(np.zeros((1, 2, 3, 3)), requires_grad=True)
    with pytest.raises(ValueError):
        F.conv2d(np.zeros((1, 1, 4, 4)), w)
    assert w.grad is None


def test_no_grad_records_nothing_and_float32_stays_float32():
    x = Tensor(rand((2, 1, 5, 5)).astype(np.float32), requires_grad=True)
    w = Tensor(rand((3, 1, 3, 3)).astype(np.float32), requires_grad=True)
    with no_grad():
        z = F.conv2d(x, w)
    assert z.grad_fn is None and not z.requires_grad
    z = F.max_pool2d(F.conv2d(x, w, padding=1), 2)
    z.sum().backward()
    assert z.dtype == x.grad.dtype == w.grad.dtype == np.float32


# ---------------------------------------------------------------------------------------------
# what explain and draw_graph show


def test_explain_shows_the_conv_vjps_as_convolutions():
    x = Tensor(rand((2, 1, 6, 6)), name="x")
    w = Tensor(rand((3, 1, 3, 3)), requires_grad=True, name="W")
    loss = F.max_pool2d(F.conv2d(x, w, stride=2, padding=1), 2).sum()
    text = explain(loss, quiet=True)
    assert "Conv2d" in text and "MaxPool2d" in text
    assert "conv2d(x, W; 3x3, stride 2, padding 1)" in text
    assert "dL/dW = conv2d(pad(x, 1)^T, dilate(" in text
    assert "db = " not in text  # no bias, no rule for it  # dW: x correlated with the dilated g


def test_conv_node_shows_kernel_and_stride_in_the_graph():
    from tinygrad_ce import draw_graph

    x = Tensor(rand((2, 1, 6, 6)), requires_grad=True, name="x")
    w = Tensor(rand((3, 1, 3, 3)), requires_grad=True, name="W")
    loss = F.conv2d(x, w, stride=2).sum()
    source = draw_graph(loss, rules=True).source
    assert "conv2d(x, W; 3x3, stride 2)" in source
    assert "W 3x1x3x3, stride 2, padding 0" in source  # the node's detail line
    assert "flip(W)^T" in source


# ---------------------------------------------------------------------------------------------
# properties over random geometries (hypothesis)


@st.composite
def geometries(draw):
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    ph, pw = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    h = draw(st.integers(max(kh - 2 * ph, 1), 7))
    w = draw(st.integers(max(kw - 2 * pw, 1), 7))
    n, c, o = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    return (n, c, h, w), (o, c, kh, kw), (sh, sw), (ph, pw)


def _naive_conv(x, w, stride, padding):
    """The definition, one output entry at a time."""
    xp = np.pad(x, ((0, 0), (0, 0), (padding[0],) * 2, (padding[1],) * 2))
    n, o = x.shape[0], w.shape[0]
    kh, kw = w.shape[2:]
    ho = (xp.shape[2] - kh) // stride[0] + 1
    wo = (xp.shape[3] - kw) // stride[1] + 1
    out = np.zeros((n, o, ho, wo))
    for i in range(ho):
        for j in range(wo):
            patch = xp[:, :, i * stride[0] : i * stride[0] + kh, j * stride[1] : j * stride[1] + kw]
            out[:, :, i, j] = np.tensordot(patch, w, axes=([1, 2, 3], [1, 2, 3]))
    return out


@settings(max_examples=40, deadline=None)
@given(geometries(), st.integers(0, 2**16))
def test_conv2d_matches_its_definition_and_its_vjps_are_adjoint(geometry, seed):
    """z = the definition; <dz, g> pairs: <x, dx> = <W, dW> = <z, g> (z is bilinear in x, W)."""
    xs, ws, stride, padding = geometry
    x, w = rand(xs, seed), rand(ws, seed + 1)
    expected = _naive_conv(x, w, stride, padding)
    xt, wt = Tensor(x, requires_grad=True), Tensor(w, requires_grad=True)
    z = F.conv2d(xt, wt, stride=stride, padding=padding)
    np.testing.assert_allclose(z.data, expected, atol=1e-12)
    g = rand(z.shape, seed + 2)
    z.backward(g)
    inner = float((z.data * g).sum())
    np.testing.assert_allclose(float((x * xt.grad).sum()), inner, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(float((w * wt.grad).sum()), inner, rtol=1e-10, atol=1e-10)
