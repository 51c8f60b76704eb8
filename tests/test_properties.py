"""Property-based tests (hypothesis): random shapes, values and expression graphs."""

from __future__ import annotations

import numpy as np
from helpers import ARITHMETIC, check_vjp
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinygrad_ce import Tensor, grad

SETTINGS = settings(max_examples=40, deadline=None)

BINARY = ARITHMETIC


def _values(shape, low, high, unique=False):
    return hnp.arrays(
        np.float64,
        shape,
        elements=st.floats(low, high, allow_nan=False, allow_infinity=False),
        unique=unique,
    )


@st.composite
def binary_case(draw):
    op = draw(st.sampled_from(sorted(BINARY)))
    shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3))
    sa, sb = shapes.input_shapes
    positive_a = op == "pow"
    positive_b = op in ("div", "pow")
    a = draw(_values(sa, 0.5 if positive_a else -2.0, 2.0))
    b = draw(_values(sb, 0.5 if positive_b else -2.0, 2.0))
    return op, a, b, shapes.result_shape


@SETTINGS
@given(binary_case(), st.integers(0, 2**16))
def test_binary_ops_on_random_broadcastable_shapes(case, seed):
    op, a, b, result_shape = case
    f = BINARY[op]
    out = f(Tensor(a), Tensor(b))
    assert out.shape == result_shape
    np.testing.assert_allclose(out.data, f(a, b), rtol=1e-12)
    check_vjp(f, [a, b], seed=seed, atol=1e-5, rtol=1e-5)


@st.composite
def reduction_case(draw):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4))
    axes = draw(st.sets(st.integers(0, len(shape) - 1)))
    axis = draw(st.sampled_from([None, tuple(sorted(axes))] + [a - len(shape) for a in axes]))
    name = draw(st.sampled_from(["sum", "mean", "max"]))
    keepdims = draw(st.booleans())
    if name == "max":  # values at least 0.25 apart: no ties, finite differences stay valid
        order = draw(st.permutations(range(int(np.prod(shape)))))
        a = (np.array(order, dtype=np.float64) * 0.25 - 1.0).reshape(shape)
    else:
        a = draw(_values(shape, -3.0, 3.0))
    return name, a, axis, keepdims


@SETTINGS
@given(reduction_case())
def test_reductions_on_random_shapes_and_axes(case):
    name, a, axis, keepdims = case
    f = lambda t: getattr(t, name)(axis=axis, keepdims=keepdims)  # noqa: E731
    out = f(Tensor(a))
    np.testing.assert_allclose(out.data, getattr(np, name)(a, axis=axis, keepdims=keepdims))
    check_vjp(f, [a], atol=1e-6, rtol=1e-6)


# --- random expression graphs with fan-out -----------------------------------------------


class NearTie(Exception):
    """A max over values too close together for finite differences to see which one wins."""


def _colmax(x: Tensor) -> Tensor:
    data = np.sort(np.atleast_1d(x.data), axis=0)
    if data.shape[0] > 1 and np.min(data[-1] - data[-2]) < 1e-3:
        raise NearTie
    return x.max(axis=0, keepdims=True)


UNARY_OPS = {
    "tanh": lambda x: x.tanh(),
    "sigmoid": lambda x: x.sigmoid(),
    "exp_tanh": lambda x: x.tanh().exp(),
    "square": lambda x: x * x,
    "neg": lambda x: -x,
    "rowsum": lambda x: x.sum(axis=-1, keepdims=True),
    "colmax": lambda x: _colmax(x),
    "soft_log": lambda x: (x * x + 1.0).log(),
    "transpose_back": lambda x: x.T.T,
}
BINARY_OPS = {
    "add": lambda x, y: x + y,
    "sub": lambda x, y: x - y,
    "mul": lambda x, y: x * y,
    "safe_div": lambda x, y: x / (y * y + 1.0),
    "scaled_pow": lambda x, y: (x * x + 0.5) ** (y.tanh() + 1.5),
}
LEAF_SHAPES = [(2, 3), (3,), (1, 3)]  # everything broadcasts to (2, 3)


@st.composite
def program(draw):
    """A list of steps; each reads any earlier value (so values are reused: fan-out)."""
    steps = []
    for k in range(draw(st.integers(2, 8))):
        n_values = len(LEAF_SHAPES) + k
        if draw(st.booleans()):
            steps.append(
                (draw(st.sampled_from(sorted(UNARY_OPS))), draw(st.integers(0, n_values - 1)))
            )
        else:
            op = draw(st.sampled_from(sorted(BINARY_OPS)))
            i = draw(st.integers(0, n_values - 1))
            j = draw(st.integers(0, n_values - 1))  # may equal i: x op x
            steps.append((op, i, j))
    leaves = [draw(_values(s, -1.5, 1.5, unique=True)) for s in LEAF_SHAPES]
    weights = draw(st.lists(st.floats(-2, 2), min_size=len(steps), max_size=len(steps)))
    return steps, leaves, weights


def run(steps, weights, *leaves):
    values = list(leaves)
    for step in steps:
        if len(step) == 2:
            values.append(UNARY_OPS[step[0]](values[step[1]]))
        else:
            values.append(BINARY_OPS[step[0]](values[step[1]], values[step[2]]))
    computed = values[len(leaves) :]
    # every intermediate feeds the output too: more fan-out, and none is a dead end
    out = computed[-1]
    for w, v in zip(weights, computed, strict=True):
        out = out + (v * w).sum()
    return out


@SETTINGS
@given(program(), st.integers(0, 2**16))
def test_random_graphs_with_fan_out_match_finite_differences(prog, seed):
    steps, leaves, weights = prog
    try:
        run(steps, weights, *[Tensor(a) for a in leaves])
    except NearTie:
        assume(False)
    # finite differences err in proportion to the graph's largest gradient (values reach 1e6
    # here through powers), so the absolute tolerance is scaled by it
    ts = [Tensor(a, requires_grad=True) for a in leaves]
    run(steps, weights, *ts).sum().backward()
    scale = max([1.0] + [float(np.abs(t.grad).max()) for t in ts if t.grad is not None])
    try:  # a finite-difference step may bring two maxima within the tie tolerance
        check_vjp(
            lambda *ts: run(steps, weights, *ts), leaves, seed=seed, atol=1e-5 * scale, rtol=1e-4
        )
    except NearTie:
        assume(False)


@SETTINGS
@given(program())
def test_random_graphs_grad_equals_backward(prog):
    """grad() and backward() walk the same graph: same numbers, and grad leaves .grad alone."""
    steps, leaves, weights = prog
    ts = [Tensor(a, requires_grad=True) for a in leaves]
    try:
        out = run(steps, weights, *ts).sum()
    except NearTie:
        assume(False)
    by_grad = grad(out, ts, retain_graph=True)
    assert all(t.grad is None for t in ts)
    out.backward()
    for t, g in zip(ts, by_grad, strict=True):
        got = np.zeros(t.shape) if t.grad is None else t.grad
        np.testing.assert_allclose(got, g.data, rtol=1e-12, atol=1e-14)
