"""Tests for F.cross_entropy: fused vs unfused, PyTorch's semantics, stability, second
derivatives, graph size and every error path."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_ce import Tensor, grad, gradcheck, jacobian
from tinygrad_ce import functional as F
from tinygrad_ce.compare import graph_nodes

# ---------------------------------------------------------------------------------------------
# an independent numpy oracle with PyTorch's semantics


def np_log_softmax(z: np.ndarray) -> np.ndarray:
    z = np.asarray(z, np.float64)
    m = z.max(axis=-1, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(axis=-1, keepdims=True))


def oracle(z, target, weight=None, ignore_index=None, eps=0.0, reduction="mean"):
    """PyTorch's cross_entropy for classes on the last axis, written out in float64."""
    logp = np_log_softmax(z)
    classes = logp.shape[-1]
    w = np.ones(classes) if weight is None else np.asarray(weight, np.float64)
    target = np.asarray(target)
    if target.dtype.kind in "iu":
        valid = np.ones(target.shape, bool) if ignore_index is None else target != ignore_index
        y = np.where(valid, target, 0)
        nll = -np.take_along_axis(logp, y[..., None], axis=-1)[..., 0] * w[y]
        smooth = -(logp * w).sum(axis=-1)
        per = ((1 - eps) * nll + eps / classes * smooth) * valid
        denominator = (w[y] * valid).sum()
    else:
        t = target * (1 - eps) + eps / classes
        per = -(t * logp * w).sum(axis=-1)
        denominator = per.size
    if reduction == "mean" and not denominator:
        return np.float64(0.0)  # our documented choice; PyTorch gives NaN here
    if reduction == "none":
        return per
    return per.sum() if reduction == "sum" else per.sum() / denominator


# ---------------------------------------------------------------------------------------------
# the grid of cases: target kind x reduction x weight x ignore_index x smoothing x shape

SHAPES = [(5,), (4, 5), (2, 3, 5)]
KINDS = ["index", "probs", "onehot", "unnormalised"]


def make_case(shape, kind, ignore, seed=0):
    rng = np.random.default_rng(seed)
    classes = shape[-1]
    z = rng.standard_normal(shape) * 2
    if kind == "index":
        t = rng.integers(0, classes, shape[:-1])
        if ignore and t.ndim:
            t.flat[0] = 3
            t.flat[-1] = 3
    elif kind == "probs":
        t = rng.random(shape)
        t /= t.sum(axis=-1, keepdims=True)
    elif kind == "onehot":
        t = np.eye(classes)[rng.integers(0, classes, shape[:-1])]
    else:  # rows that do not sum to 1
        t = rng.random(shape) * 3
    return z, t


def cases():
    for shape, kind, reduction, weighted, ignore, eps in itertools.product(
        SHAPES, KINDS, ["mean", "sum", "none"], [False, True], [False, True], [0.0, 0.2]
    ):
        if ignore and kind != "index":
            continue
        yield shape, kind, reduction, weighted, ignore, eps


CASES = list(cases())
CASE_IDS = ["-".join(map(str, c)) for c in CASES]


def options(shape, reduction, weighted, ignore, eps):
    w = np.linspace(0.5, 2.0, shape[-1]) if weighted else None
    return {
        "reduction": reduction,
        "weight": w,
        "ignore_index": 3 if ignore else None,
        "label_smoothing": eps,
    }


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_fused_and_unfused_agree_to_1e10_and_match_the_oracle(case):
    shape, kind, reduction, weighted, ignore, eps = case
    z, t = make_case(shape, kind, ignore)
    opts = options(shape, reduction, weighted, ignore, eps)
    results = {}
    for fused in (True, False):
        x = Tensor(z, requires_grad=True)
        target = Tensor(t, requires_grad=True) if t.dtype.kind == "f" else t
        out = F.cross_entropy(x, target, fused=fused, **opts)
        upstream = np.random.default_rng(1).standard_normal(out.shape) + 2.0
        out.backward(upstream)
        tgrad = target.grad if isinstance(target, Tensor) else None
        results[fused] = (out.data, x.grad, tgrad)
    (lf, gf, tf), (lu, gu, tu) = results[True], results[False]
    np.testing.assert_allclose(lf, lu, rtol=0, atol=1e-10)
    np.testing.assert_allclose(gf, gu, rtol=0, atol=1e-10)
    if tf is not None:
        np.testing.assert_allclose(tf, tu, rtol=0, atol=1e-10)
    expected = oracle(z, t, opts["weight"], opts["ignore_index"], eps, reduction)
    np.testing.assert_allclose(lf, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize(
    "case",
    [c for c in CASES if c[0] == (4, 5) and c[1] != "onehot"],
    ids=[i for c, i in zip(CASES, CASE_IDS, strict=True) if c[0] == (4, 5) and c[1] != "onehot"],
)
def test_gradcheck_both_paths(case, fused):
    shape, kind, reduction, weighted, ignore, eps = case
    z, t = make_case(shape, kind, ignore, seed=2)
    opts = options(shape, reduction, weighted, ignore, eps)
    if t.dtype.kind == "f":  # check the gradient with respect to the target too
        assert gradcheck(lambda a, b: F.cross_entropy(a, b, fused=fused, **opts), [z, t])
    else:
        assert gradcheck(lambda a: F.cross_entropy(a, t, fused=fused, **opts), [z])


# ---------------------------------------------------------------------------------------------
# PyTorch as an oracle (optional)


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_matches_pytorch(case):
    torch = pytest.importorskip("torch")
    shape, kind, reduction, weighted, ignore, eps = case
    z, t = make_case(shape, kind, ignore)
    opts = options(shape, reduction, weighted, ignore, eps)
    zt = torch.tensor(z, requires_grad=True)
    tt = torch.tensor(t, requires_grad=t.dtype.kind == "f")
    # PyTorch wants the classes on axis 1
    z_in = zt if zt.ndim <= 2 else zt.movedim(-1, 1)
    t_in = tt if (tt.ndim <= 2 or t.dtype.kind in "iu") else tt.movedim(-1, 1)
    ref = torch.nn.functional.cross_entropy(
        z_in,
        t_in,
        weight=None if opts["weight"] is None else torch.tensor(opts["weight"]),
        ignore_index=-100 if opts["ignore_index"] is None else opts["ignore_index"],
        reduction=reduction,
        label_smoothing=eps,
    )
    upstream = np.random.default_rng(3).standard_normal(tuple(ref.shape))
    wanted = (zt, tt) if tt.requires_grad else (zt,)
    ref_grads = torch.autograd.grad(ref, wanted, torch.tensor(upstream))
    if reduction == "mean" and torch.isnan(ref):  # every target ignored: we give 0 instead
        assert opts["ignore_index"] is not None and np.all(t == opts["ignore_index"])
        assert F.cross_entropy(Tensor(z), t, **opts).item() == 0.0
        return
    for fused in (True, False):
        x = Tensor(z, requires_grad=True)
        target = Tensor(t, requires_grad=True) if t.dtype.kind == "f" else t
        out = F.cross_entropy(x, target, fused=fused, **opts)
        np.testing.assert_allclose(out.data, ref.detach().numpy(), atol=1e-12)
        mine = grad(out, [x, target] if isinstance(target, Tensor) else [x], upstream)
        for a, b in zip(mine, ref_grads, strict=True):
            np.testing.assert_allclose(a.data, b.numpy(), atol=1e-12)


# ---------------------------------------------------------------------------------------------
# the textbook case and the documented choices


def softmax(z):
    return np.exp(np_log_softmax(z))


@pytest.mark.parametrize("fused", [True, False])
def test_textbook_1d_logits(fused):
    z = np.array([2.0, -1.0, 0.5])
    x = Tensor(z, requires_grad=True)
    loss = F.cross_entropy(x, 2, fused=fused)
    assert loss.shape == ()
    np.testing.assert_allclose(loss.item(), -np.log(softmax(z)[2]))
    loss.backward()
    np.testing.assert_allclose(x.grad, softmax(z) - np.eye(3)[2], atol=1e-15)


@pytest.mark.parametrize("fused", [True, False])
def test_probability_rows_that_do_not_sum_to_one(fused):
    """The documented choice: the loss is -sum t log p, its gradient sum(t) softmax - t."""
    rng = np.random.default_rng(4)
    z, t = rng.standard_normal((3, 4)), rng.random((3, 4)) * 5
    x = Tensor(z, requires_grad=True)
    F.cross_entropy(x, t, fused=fused, reduction="sum").backward()
    expected = softmax(z) * t.sum(axis=1, keepdims=True) - t
    np.testing.assert_allclose(x.grad, expected, atol=1e-13)


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_all_targets_ignored_gives_zero_not_nan(fused, reduction):
    x = Tensor(np.random.default_rng(5).standard_normal((3, 4)), requires_grad=True)
    loss = F.cross_entropy(x, np.full(3, -100), fused=fused, ignore_index=-100, reduction=reduction)
    np.testing.assert_array_equal(loss.data, np.zeros(loss.shape))
    loss.backward(np.ones(loss.shape))
    np.testing.assert_array_equal(x.grad, np.zeros((3, 4)))


@pytest.mark.parametrize("fused", [True, False])
def test_empty_batch_mean_is_zero(fused):
    x = Tensor(np.zeros((0, 4)), requires_grad=True)
    loss = F.cross_entropy(x, np.zeros(0, dtype=np.int64), fused=fused)
    assert loss.item() == 0.0
    loss.backward()
    assert x.grad.shape == (0, 4)


def test_zero_weight_on_every_present_class_gives_zero():
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    loss = F.cross_entropy(x, np.array([0, 0]), weight=np.array([0.0, 1.0, 1.0]))
    assert loss.item() == 0.0


def test_mean_with_weights_divides_by_the_weights_of_non_ignored_targets():
    z = np.zeros((3, 2))  # every per-row loss is log 2
    w = np.array([1.0, 3.0])
    loss = F.cross_entropy(Tensor(z), np.array([0, 1, 1]), weight=w, ignore_index=0)
    assert loss.item() == pytest.approx(np.log(2))  # (3 + 3) log 2 / (3 + 3)
    loss = F.cross_entropy(Tensor(z), np.array([0, 1, 1]), weight=w)
    assert loss.item() == pytest.approx(np.log(2))  # (1 + 3 + 3) log 2 / 7


# ---------------------------------------------------------------------------------------------
# stability, dtype, graph


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("scale", [1e3, 1e4])
def test_finite_and_correct_at_huge_logits_in_float32(fused, scale):
    rng = np.random.default_rng(6)
    z = (rng.standard_normal((16, 7)) * scale).astype(np.float32)
    y = rng.integers(0, 7, 16)
    x = Tensor(z, requires_grad=True)
    loss = F.cross_entropy(x, y, fused=fused)
    loss.backward()
    assert loss.dtype == np.float32 and x.grad.dtype == np.float32
    assert np.isfinite(loss.item()) and np.all(np.isfinite(x.grad))
    z64 = z.astype(np.float64)
    np.testing.assert_allclose(loss.item(), oracle(z64, y), rtol=1e-6)
    expected = (softmax(z64) - np.eye(7)[y]) / 16
    np.testing.assert_allclose(x.grad, expected, atol=1e-7)


def test_naive_formula_overflows_where_fused_does_not():
    z = np.array([[100.0, 0.0, -100.0]], dtype=np.float32)
    with np.errstate(over="ignore", invalid="ignore"):
        naive = -np.log(np.exp(z[0, 0]) / np.exp(z).sum())
    assert not np.isfinite(naive)
    assert F.cross_entropy(Tensor(z), np.array([0])).item() == pytest.approx(0.0, abs=1e-6)


FLOAT32_OPTS = {
    "plain": {},
    "weight": {"weight": np.ones(5)},  # a float64 weight must not promote the loss
    "smoothing": {"label_smoothing": 0.1},
    "ignore": {"ignore_index": 1},
    "none": {"reduction": "none"},
}


@pytest.mark.parametrize(
    "kind, name",
    [("index", k) for k in FLOAT32_OPTS] + [("probs", k) for k in FLOAT32_OPTS if k != "ignore"],
)
@pytest.mark.parametrize("fused", [True, False])
def test_float32_stays_float32(kind, name, fused):
    opts = FLOAT32_OPTS[name]
    z, t = make_case((4, 5), kind, False)
    z = z.astype(np.float32)
    t = t.astype(np.float32) if t.dtype.kind == "f" else t
    x = Tensor(z, requires_grad=True)
    loss = F.cross_entropy(x, t, fused=fused, **opts)
    loss.backward(np.ones(loss.shape, np.float32))
    assert loss.dtype == np.float32
    assert x.grad.dtype == np.float32


def test_fused_graph_is_one_node_and_unfused_is_many():
    z, y = np.zeros((4, 5)), np.arange(4)
    fused = F.cross_entropy(Tensor(z, requires_grad=True), y)
    assert [n.name for n in graph_nodes(fused)] == ["SoftmaxCrossEntropy"]
    assert isinstance(fused._ctx, F.SoftmaxCrossEntropy)
    unfused = F.cross_entropy(Tensor(z, requires_grad=True), y, fused=False)
    names = {n.name for n in graph_nodes(unfused)}
    assert {"Exp", "Sum", "Log", "GetItem"} <= names
    assert len(graph_nodes(unfused)) >= 6
    # N-D logits and 1-D logits are still one node
    nd = F.cross_entropy(Tensor(np.zeros((2, 3, 5)), requires_grad=True), np.zeros((2, 3), int))
    assert len(graph_nodes(nd)) == 1
    assert len(graph_nodes(F.cross_entropy(Tensor(np.zeros(5), requires_grad=True), 1))) == 1


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_unfused_one_row_is_the_textbook_composition(reduction):
    """1-D logits: -sum(x * log_softmax(z)), no reshape round trip, no sum or x1 for the mean."""
    from tinygrad_ce.autograd import topological_order

    def ops(loss):
        return [t._ctx.name for t in topological_order(loss) if t._ctx is not None]

    z = Tensor(np.array([0.5, -1.0, 2.0]), requires_grad=True)
    probs = F.cross_entropy(z, np.array([0.2, 0.5, 0.3]), fused=False, reduction=reduction)
    assert ops(probs) == ["Sub", "Exp", "Sum", "Log", "Sub", "Mul", "Sum", "Neg"]
    label = F.cross_entropy(z, 2, fused=False, reduction=reduction)
    assert ops(label) == ["Sub", "Exp", "Sum", "Log", "Sub", "GetItem", "Neg"]
    assert probs.shape == label.shape == ()
    # a mean that is not over one plain row (weights) still divides
    weighted = F.cross_entropy(z, 2, fused=False, weight=[1.0, 1.0, 4.0])
    assert ops(weighted)[-1] == "Mul"
    np.testing.assert_allclose(
        weighted.item(), F.cross_entropy(z, 2, weight=[1.0, 1.0, 4.0]).item(), rtol=1e-12
    )


def test_fused_node_saves_one_n_by_c_array():
    z = np.random.default_rng(7).standard_normal((8, 5))
    node = F.cross_entropy(Tensor(z, requires_grad=True), np.arange(8) % 5)._ctx
    big = [k for k, v in vars(node).items() if isinstance(v, np.ndarray) and v.size >= z.size]
    assert big == ["e"]  # exp(z - max); the inputs are referenced, not copied


def test_backward_twice_through_the_same_graph():
    """The fused backward hands its exp buffer over as the gradient; a second backward must
    rebuild it rather than reuse the (now overwritten) buffer."""
    rng = np.random.default_rng(8)
    z, y = rng.standard_normal((3, 4)), np.array([0, 3, 1])
    x = Tensor(z, requires_grad=True)
    loss = F.cross_entropy(x, y, label_smoothing=0.1)
    loss.backward(retain_graph=True)
    first = x.grad.copy()
    loss.backward(retain_graph=True)
    np.testing.assert_allclose(x.grad, 2 * first, atol=1e-15)
    (again,) = grad(loss, x)
    np.testing.assert_allclose(again.data, first, atol=1e-15)


def test_gradient_flows_through_a_non_leaf():
    rng = np.random.default_rng(9)
    a, w, y = rng.standard_normal((6, 3)), rng.standard_normal((3, 4)), rng.integers(0, 4, 6)
    W = Tensor(w, requires_grad=True)
    F.cross_entropy(Tensor(a) @ W, y).backward()
    expected = a.T @ ((softmax(a @ w) - np.eye(4)[y]) / 6)
    np.testing.assert_allclose(W.grad, expected, atol=1e-14)


def test_textbook_gradient_with_respect_to_y():
    """dCE(softmax(A^T y), x)/dy = A (softmax(A^T y) - x): a contraction, not a product."""
    rng = np.random.default_rng(10)
    A, yv = rng.standard_normal((4, 3)), rng.standard_normal(4)
    x = np.array([0.0, 1.0, 0.0])
    y = Tensor(yv, requires_grad=True)
    F.cross_entropy(Tensor(A).T @ y, x).backward()
    np.testing.assert_allclose(y.grad, A @ (softmax(A.T @ yv) - x), atol=1e-14)


# ---------------------------------------------------------------------------------------------
# second derivatives


@pytest.mark.parametrize("fused", [True, False])
def test_hessian_one_sample_is_diag_s_minus_ssT(fused):
    z = np.array([0.3, -1.2, 2.0, 0.1, -0.4])

    def gradient(t):
        return grad(F.cross_entropy(t, 2, fused=fused), t, create_graph=True)[0]

    s = softmax(z)
    hessian = jacobian(gradient, z)
    np.testing.assert_allclose(hessian, np.diag(s) - np.outer(s, s), atol=1e-14)
    # and finite differences of the (fast-path) gradient agree
    h = 1e-6
    numeric = np.zeros((5, 5))
    for j in range(5):
        up, down = z.copy(), z.copy()
        up[j] += h
        down[j] -= h
        numeric[:, j] = (_fast_grad(up) - _fast_grad(down)) / (2 * h)
    np.testing.assert_allclose(hessian, numeric, atol=1e-8)


def _fast_grad(z):
    x = Tensor(z, requires_grad=True)
    F.cross_entropy(x, 2).backward()
    return x.grad


@pytest.mark.parametrize("case", [c for c in CASES if c[0] == (4, 5)][::3])
def test_second_derivatives_fused_match_unfused(case):
    """Hessian-vector products (and mixed ones with the target) through both paths."""
    shape, kind, reduction, weighted, ignore, eps = case
    z, t = make_case(shape, kind, ignore, seed=11)
    opts = options(shape, reduction, weighted, ignore, eps)
    rng = np.random.default_rng(12)
    v = rng.standard_normal(shape)
    upstream = Tensor(rng.standard_normal(shape[:-1]) if reduction == "none" else np.array(1.3))
    out = {}
    for fused in (True, False):
        x = Tensor(z, requires_grad=True)
        target = Tensor(t, requires_grad=True) if t.dtype.kind == "f" else t
        loss = F.cross_entropy(x, target, fused=fused, **opts)
        (gx,) = grad(loss, x, upstream, create_graph=True)
        wrt = [x, target] if isinstance(target, Tensor) else [x]
        out[fused] = [h.data for h in grad((gx * v).sum(), wrt)]
    for a, b in zip(out[True], out[False], strict=True):
        np.testing.assert_allclose(a, b, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# hypothesis: random shapes and options


@settings(max_examples=40, deadline=None)
@given(
    batch=st.lists(st.integers(1, 3), min_size=0, max_size=2),
    classes=st.integers(1, 6),
    reduction=st.sampled_from(["mean", "sum", "none"]),
    eps=st.sampled_from([0.0, 0.3, 1.0]),
    weighted=st.booleans(),
    scale=st.sampled_from([1.0, 30.0]),
    seed=st.integers(0, 2**16),
)
def test_fused_matches_unfused_random(batch, classes, reduction, eps, weighted, scale, seed):
    rng = np.random.default_rng(seed)
    shape = (*batch, classes)
    z = rng.standard_normal(shape) * scale
    y = rng.integers(0, classes, tuple(batch))
    w = rng.random(classes) + 0.1 if weighted else None
    res = []
    for fused in (True, False):
        x = Tensor(z, requires_grad=True)
        loss = F.cross_entropy(
            x, y, fused=fused, reduction=reduction, weight=w, label_smoothing=eps
        )
        loss.backward(np.ones(loss.shape))
        res.append((loss.data, x.grad))
    np.testing.assert_allclose(res[0][0], res[1][0], atol=1e-10 * scale)
    np.testing.assert_allclose(res[0][1], res[1][1], atol=1e-10)
    np.testing.assert_allclose(res[0][0], oracle(z, y, w, None, eps, reduction), atol=1e-9 * scale)


# ---------------------------------------------------------------------------------------------
# errors: a clear message naming the offending shape or value


def test_class_index_out_of_range():
    x = Tensor(np.zeros((3, 4)), requires_grad=True)
    with pytest.raises(ValueError, match=r"class index 7 at position \(1,\).*4 classes.*0\.\.3"):
        F.cross_entropy(x, np.array([0, 7, 1]))
    with pytest.raises(ValueError, match=r"class index -1 at position \(2,\)"):
        F.cross_entropy(x, np.array([0, 1, -1]), fused=False)
    with pytest.raises(ValueError, match=r"class index 4 at position \(0, 1\)"):
        F.cross_entropy(Tensor(np.zeros((2, 2, 4))), np.array([[0, 4], [1, 1]]))
    with pytest.raises(ValueError, match="class index 5 at position \\(\\)"):
        F.cross_entropy(Tensor(np.zeros(4)), 5)
    # the ignored value itself is allowed even though it is out of range
    F.cross_entropy(x, np.array([0, -100, 1]), ignore_index=-100)


def test_negative_or_nan_probabilities():
    x = Tensor(np.zeros((2, 3)))
    t = np.array([[0.5, 0.5, 0.0], [1.2, -0.2, 0.0]])
    with pytest.raises(ValueError, match=r"non-negative, target\[1, 1\] = -0.2"):
        F.cross_entropy(x, t)
    t[1] = [np.nan, 0, 1]
    with pytest.raises(ValueError, match=r"finite.*target\[1, 0\] = nan"):
        F.cross_entropy(x, t, fused=False)


def test_shape_mismatch():
    x = Tensor(np.zeros((4, 3)))
    with pytest.raises(
        ValueError, match=r"must have shape \(4,\).*logits of shape \(4, 3\).*\(3,\)"
    ):
        F.cross_entropy(x, np.array([0, 1, 2]))
    with pytest.raises(ValueError, match=r"logits' shape \(4, 3\), got \(4, 2\)"):
        F.cross_entropy(x, np.zeros((4, 2)))
    with pytest.raises(ValueError, match="class indices must be an integer array"):
        F.cross_entropy(x, np.array([0.0, 1.0, 2.0, 0.0]))
    with pytest.raises(ValueError, match="one-hot rows must be a float array"):
        F.cross_entropy(x, np.eye(3, dtype=int)[[0, 1, 2, 0]])


def test_integer_logits_rejected():
    with pytest.raises(
        TypeError, match=r"logits must be floating point, got dtype int64.*\(2, 3\)"
    ):
        F.cross_entropy(Tensor(np.zeros((2, 3), dtype=np.int64)), np.array([0, 1]))


def test_other_bad_arguments():
    x = Tensor(np.zeros((2, 3)))
    y = np.array([0, 1])
    with pytest.raises(ValueError, match="logits must have shape"):
        F.cross_entropy(Tensor(np.float64(1.0)), 0)
    with pytest.raises(ValueError, match="C >= 1"):
        F.cross_entropy(Tensor(np.zeros((2, 0))), y)
    with pytest.raises(ValueError, match="reduction must be one of"):
        F.cross_entropy(x, y, reduction="average")
    with pytest.raises(ValueError, match=r"label_smoothing must be in \[0, 1\], got 1.5"):
        F.cross_entropy(x, y, label_smoothing=1.5)
    with pytest.raises(ValueError, match=r"weight must have shape \(3,\).*got \(2,\)"):
        F.cross_entropy(x, y, weight=np.ones(2))
    with pytest.raises(ValueError, match=r"non-negative, weight\[1\] = -1"):
        F.cross_entropy(x, y, weight=np.array([1.0, -1.0, 1.0]))
    with pytest.raises(ValueError, match="weight.detach"):
        F.cross_entropy(x, y, weight=Tensor(np.ones(3), requires_grad=True))
    with pytest.raises(ValueError, match="ignore_index applies to class-index targets only"):
        F.cross_entropy(x, np.ones((2, 3)) / 3, ignore_index=0)
    with pytest.raises(TypeError, match="ignore_index must be an int"):
        F.cross_entropy(x, y, ignore_index=1.5)
    with pytest.raises(TypeError, match="integer class indices or float probabilities.*<U1"):
        F.cross_entropy(x, np.array(["a", "b"]))


def test_boolean_one_hot_is_accepted_as_probabilities():
    z = np.random.default_rng(13).standard_normal((3, 4))
    onehot = np.eye(4, dtype=bool)[[0, 2, 3]]
    a = F.cross_entropy(Tensor(z), onehot).item()
    b = F.cross_entropy(Tensor(z), np.array([0, 2, 3])).item()
    assert a == pytest.approx(b, abs=1e-14)


@pytest.mark.parametrize("fused", [True, False])
def test_float64_probability_target_does_not_promote_float32_logits(fused):
    rng = np.random.default_rng(14)
    x = Tensor(rng.standard_normal((3, 4)).astype(np.float32), requires_grad=True)
    t = Tensor(rng.random((3, 4)), requires_grad=True)  # float64
    loss = F.cross_entropy(x, t, fused=fused, weight=np.ones(4), label_smoothing=0.1)
    loss.backward()
    assert loss.dtype == np.float32 and x.grad.dtype == np.float32
    assert t.grad.dtype == np.float64  # each gradient has its input's dtype


VIEWS = {
    "transposed": lambda b: b[0].T,  # (5, 4)
    "strided": lambda b: b[:, ::2, 1:],  # (6, 2, 4)
    "axes-reversed": lambda b: b.transpose(2, 1, 0)[:3],  # (3, 4, 6)
}


@pytest.mark.parametrize("layout", list(VIEWS))
@pytest.mark.parametrize("kind", ["index", "probs"])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_non_contiguous_logits(layout, kind, smoothing):
    """Transposed or strided logits (views, as ``W.T`` gives) get the right gradient: the
    fused node must not write its gradient into a reshaped copy."""
    view = VIEWS[layout]
    base = np.random.default_rng(15).standard_normal((6, 4, 5))
    assert not view(base).flags.c_contiguous
    _, t = make_case(view(base).shape, kind, False, seed=16)
    grads = []
    for fused in (True, False):
        leaf = Tensor(base, requires_grad=True)
        logits = view(leaf)  # Tensor ops (GetItem, Transpose) give non-contiguous data
        assert not logits._data.flags.c_contiguous  # (.data would hand out a copy)
        loss = F.cross_entropy(logits, t, fused=fused, label_smoothing=smoothing)
        np.testing.assert_allclose(loss.item(), oracle(view(base), t, eps=smoothing), atol=1e-12)
        loss.backward(retain_graph=True)
        loss.backward()  # twice: the second fused backward rebuilds exp(z - m)
        grads.append(leaf.grad)
    np.testing.assert_allclose(grads[0], grads[1], atol=1e-12)
    assert np.abs(grads[0]).sum() > 0
