"""Every primitive op: forward against numpy, backward against float64 finite differences.

All backward checks go through ``helpers.check_vjp``, which drives ``backward`` with a random
upstream gradient, so a rule that ignores ``g`` (or gets broadcasting wrong) fails.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from helpers import ARITHMETIC, check_vjp, positive, rand

from tinygrad_ce import Function, Tensor

SHAPES = [(), (4,), (3, 4), (1, 4), (3, 1)]
PAIRS = list(itertools.product(SHAPES, SHAPES))

BINARY = ARITHMETIC


def _ids(pair):
    return f"{pair[0]}-{pair[1]}".replace(" ", "")


@pytest.mark.parametrize("op", BINARY)
@pytest.mark.parametrize("shapes", PAIRS, ids=[_ids(p) for p in PAIRS])
def test_binary_op_gradients_on_every_broadcast_pair(op, shapes):
    f = BINARY[op]
    sa, sb = shapes
    a = positive(sa, 1) if op == "pow" else rand(sa, 1)
    b = positive(sb, 2) if op in ("div", "pow") else rand(sb, 2)
    out = f(Tensor(a), Tensor(b))
    np.testing.assert_allclose(out.data, f(a, b))
    assert out.shape == np.broadcast_shapes(sa, sb)
    check_vjp(f, [a, b])


@pytest.mark.parametrize("op", BINARY)
def test_binary_op_gradient_of_one_input_only(op):
    """A constant operand gets no gradient; the other still gets the right one."""
    f = BINARY[op]
    a, b = positive((3, 4), 3), positive((1, 4), 4)
    x = Tensor(a, requires_grad=True)
    c = Tensor(b)
    out = f(x, c)
    ctx = out._ctx
    assert ctx.needs == (True, False)
    out.backward(np.ones((3, 4)))
    assert c.grad is None
    check_vjp(lambda t: f(t, Tensor(b)), [a])
    check_vjp(lambda t: f(Tensor(a), t), [b])


MATMUL_SHAPES = [
    ((4,), (4,)),
    ((4,), (4, 5)),
    ((3, 4), (4,)),
    ((3, 4), (4, 5)),
    ((2, 3, 4), (4, 5)),
    ((2, 3, 4), (2, 4, 5)),
    ((2, 1, 3, 4), (5, 4, 2)),
    ((4,), (2, 4, 5)),
    ((2, 3, 4), (4,)),
    ((4, 5), (2, 5, 3)),
]


@pytest.mark.parametrize("shapes", MATMUL_SHAPES, ids=[_ids(p) for p in MATMUL_SHAPES])
def test_matmul_gradients(shapes):
    sa, sb = shapes
    a, b = rand(sa, 5), rand(sb, 6)
    out = Tensor(a) @ Tensor(b)
    np.testing.assert_allclose(out.data, a @ b)
    check_vjp(lambda x, y: x @ y, [a, b])


def test_matmul_is_a_single_primitive():
    x = Tensor(rand((3, 4)), requires_grad=True)
    out = x @ Tensor(rand((4, 5)))
    assert out._ctx.name == "MatMul"


UNARY = {
    "neg": (lambda t: -t, lambda a: -a, rand),
    "exp": (lambda t: t.exp(), np.exp, rand),
    "log": (lambda t: t.log(), np.log, positive),
    "sqrt": (lambda t: t.sqrt(), np.sqrt, positive),
    "abs": (lambda t: t.abs(), np.abs, rand),
    "relu": (lambda t: t.relu(), lambda a: np.maximum(a, 0), rand),
    "tanh": (lambda t: t.tanh(), np.tanh, rand),
    "sigmoid": (lambda t: t.sigmoid(), lambda a: 1 / (1 + np.exp(-a)), rand),
}


@pytest.mark.parametrize("name", UNARY)
@pytest.mark.parametrize("shape", [(), (5,), (2, 3)])
def test_unary_ops(name, shape):
    f, ref, gen = UNARY[name]
    a = gen(shape, 7)
    if name in ("abs", "relu"):
        a = np.where(np.abs(a) < 0.1, 0.5, a)  # keep away from the kink
    np.testing.assert_allclose(f(Tensor(a)).data, ref(a), rtol=1e-12)
    check_vjp(f, [a])


def test_relu_gradient_is_zero_at_and_below_zero():
    x = Tensor(np.array([-1.0, 0.0, 2.0]), requires_grad=True)
    x.relu().backward(np.array([5.0, 5.0, 5.0]))
    np.testing.assert_array_equal(x.grad, [0.0, 0.0, 5.0])


def test_sigmoid_is_stable_for_large_inputs():
    x = Tensor(np.array([-1000.0, 0.0, 1000.0]), requires_grad=True)
    with np.errstate(all="raise"):
        y = x.sigmoid()
        y.sum().backward()
    np.testing.assert_allclose(y.data, [0.0, 0.5, 1.0])
    np.testing.assert_allclose(x.grad, [0.0, 0.25, 0.0])


AXES = [None, 0, 1, 2, -1, (0, 2), (1, 2), (0, 1, 2), ()]


@pytest.mark.parametrize("axis", AXES, ids=str)
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("name", ["sum", "mean", "max", "min"])
def test_reductions(name, axis, keepdims):
    a = rand((2, 3, 4), 8)  # distinct values: max/min are differentiable here
    out = getattr(Tensor(a), name)(axis=axis, keepdims=keepdims)
    expected = getattr(np, name)(a, axis=axis, keepdims=keepdims)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out.data, expected, rtol=1e-12)
    check_vjp(lambda t: getattr(t, name)(axis=axis, keepdims=keepdims), [a])


@pytest.mark.parametrize("name", ["sum", "mean", "max"])
def test_reductions_default_is_all_axes(name):
    a = rand((3, 4), 9)
    out = getattr(Tensor(a), name)()
    assert out.shape == ()
    assert out.item() == pytest.approx(getattr(np, name)(a))


def test_max_with_ties_splits_the_gradient_equally():
    x = Tensor(np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]]), requires_grad=True)
    x.max(axis=1).backward(np.array([6.0, 9.0]))
    np.testing.assert_allclose(x.grad, [[0.0, 3.0, 3.0], [3.0, 3.0, 3.0]])

    y = Tensor(np.array([5.0, 1.0, 5.0, 5.0]), requires_grad=True)
    y.max().backward(np.array(12.0))
    np.testing.assert_allclose(y.grad, [4.0, 0.0, 4.0, 4.0])

    z = Tensor(np.array([[1.0, 1.0], [0.0, 1.0]]), requires_grad=True)
    z.max(axis=0, keepdims=True).backward(np.array([[2.0, 4.0]]))
    np.testing.assert_allclose(z.grad, [[2.0, 2.0], [0.0, 2.0]])


def test_min_with_ties_splits_the_gradient_equally():
    x = Tensor(np.array([0.0, 4.0, 0.0]), requires_grad=True)
    x.min().backward(np.array(3.0))
    np.testing.assert_allclose(x.grad, [1.5, 0.0, 1.5])


@pytest.mark.parametrize(
    "shape_args,expected",
    [
        (((4, 6),), (4, 6)),
        ((4, 6), (4, 6)),
        ((-1,), (24,)),
        ((2, -1, 3), (2, 4, 3)),
        (([3, 8],), (3, 8)),
        ((1, 24, 1), (1, 24, 1)),
    ],
)
def test_reshape(shape_args, expected):
    a = rand((2, 3, 4), 10)
    out = Tensor(a).reshape(*shape_args)
    assert out.shape == expected
    np.testing.assert_array_equal(out.data, a.reshape(expected))
    check_vjp(lambda t: t.reshape(*shape_args) * Tensor(rand(expected, 11)), [a])


@pytest.mark.parametrize(
    "axes", [(), ((2, 0, 1),), (2, 0, 1), (0, 2, 1), (1, 0, 2), (-1, 0, 1)], ids=str
)
def test_transpose(axes):
    a = rand((2, 3, 4), 12)
    out = Tensor(a).transpose(*axes)
    perm = axes[0] if len(axes) == 1 else axes
    expected = np.transpose(a, perm) if axes else a.T
    np.testing.assert_array_equal(out.data, expected)
    check_vjp(lambda t: t.transpose(*axes), [a])


def test_T_swapaxes_broadcast_to_gradients():
    a = rand((2, 3, 4), 13)
    check_vjp(lambda t: t.T, [a])
    check_vjp(lambda t: t.swapaxes(0, -1), [a])
    np.testing.assert_array_equal(Tensor(a).swapaxes(0, 2).data, a.swapaxes(0, 2))
    b = rand((3, 1), 14)
    out = Tensor(b).broadcast_to((2, 3, 4))
    np.testing.assert_array_equal(out.data, np.broadcast_to(b, (2, 3, 4)))
    check_vjp(lambda t: t.broadcast_to((2, 3, 4)), [b])


INDICES = {
    "int": 1,
    "negative int": -1,
    "slice": slice(1, None),
    "step slice": (slice(None), slice(None, None, 2)),
    "int and slice": (0, slice(1, 3)),
    "None": (None, slice(None), 2),
    "Ellipsis": (Ellipsis, 1),
    "Ellipsis None": (Ellipsis, None),
    "int array": np.array([0, 2]),
    "repeated int array": np.array([0, 0, 2, 0]),
    "int list repeated": [1, 1],
    "two int arrays repeated": (np.array([0, 0, 1]), np.array([1, 1, 3])),
    "int array and slice": (slice(None), np.array([3, 3, 0])),
    "2-D int array": np.array([[0, 1], [1, 1]]),
    "bool mask": np.array([[True, False, True, False], [False, False, True, True], [True] * 4]),
    "bool row mask": np.array([True, False, True]),
}


@pytest.mark.parametrize("name", INDICES)
def test_getitem(name):
    index = INDICES[name]
    a = rand((3, 4), 15)
    np_index = np.asarray(index) if isinstance(index, list) else index
    out = Tensor(a)[index]
    np.testing.assert_array_equal(out.data, a[np_index])
    check_vjp(lambda t: t[index], [a])


def test_getitem_repeated_indices_accumulate():
    x = Tensor(np.zeros(4), requires_grad=True)
    x[np.array([1, 1, 1, 3])].backward(np.array([1.0, 2.0, 4.0, 8.0]))
    np.testing.assert_array_equal(x.grad, [0.0, 7.0, 0.0, 8.0])


def test_getitem_with_tensor_index_and_mask():
    a = np.array([-1.0, 2.0, -3.0, 4.0])
    x = Tensor(a, requires_grad=True)
    pos = x[x > 0]
    np.testing.assert_array_equal(pos.data, [2.0, 4.0])
    pos.backward(np.array([10.0, 20.0]))
    np.testing.assert_array_equal(x.grad, [0.0, 10.0, 0.0, 20.0])
    y = Tensor(a, requires_grad=True)
    picked = y[Tensor([3, 0, 3])]
    np.testing.assert_array_equal(picked.data, [4.0, -1.0, 4.0])
    picked.backward(np.array([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(y.grad, [2.0, 0.0, 0.0, 4.0])


def test_astype_gradient_comes_back_in_the_input_dtype():
    x = Tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
    y = x.astype(np.float64)
    assert y.dtype == np.float64
    (y * y).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad, [2.0, 4.0])
    z = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    w = z.astype(np.float32)
    assert w.dtype == np.float32
    (w * w).backward(np.array([1.0, -3.0], dtype=np.float32))
    assert z.grad.dtype == np.float64
    np.testing.assert_allclose(z.grad, [2.0, -12.0])


def test_composite_expression():
    a, b, c = rand((3, 4), 16), rand((4,), 17), positive((3, 1), 18)

    def f(x, y, z):
        h = (x * y + z).tanh()
        return (h @ y.reshape(4, 1)).sigmoid() * z.log() - (x / z).exp().mean(axis=0).sum()

    check_vjp(f, [a, b, c])


class _IgnoresUpstream(Function):
    """z = 3 * x;  dx = 3   (wrong: forgets g)"""

    def forward(self, x):
        return 3 * x

    def backward(self, g, out, x):
        return (3 * np.ones_like(x),)


def test_check_vjp_catches_a_rule_that_ignores_the_upstream_gradient():
    # with an all-ones upstream gradient this wrong rule would look right
    x = Tensor(rand((3,)), requires_grad=True)
    _IgnoresUpstream.apply(x).sum().backward()
    np.testing.assert_allclose(x.grad, 3.0)
    with pytest.raises(AssertionError):
        check_vjp(lambda t: _IgnoresUpstream.apply(t), [rand((3,))])


def test_pow_with_zero_exponent_at_zero_has_zero_gradient_not_nan():
    x = Tensor(np.array([0.0, 1.0, 2.0, 0.0]), requires_grad=True)
    # polynomial features: x ** 0 is the constant 1, its derivative is 0 even at x = 0
    (x ** np.array([0.0, 1.0, 2.0, 1.0])).backward(np.array([5.0, 5.0, 5.0, 5.0]))
    np.testing.assert_array_equal(x.grad, [0.0, 5.0, 20.0, 5.0])
    z = Tensor(np.array([0.0, 3.0]), requires_grad=True)
    (z**0).sum().backward()
    np.testing.assert_array_equal(z.grad, [0.0, 0.0])


def test_every_primitive_states_its_maths_in_the_first_docstring_line():
    from tinygrad_ce import ops

    classes = [c for c in vars(ops).values() if isinstance(c, type) and issubclass(c, Function)]
    assert len(classes) >= 15
    for cls in classes:
        if cls is Function:
            continue
        first = (cls.__doc__ or "").strip().splitlines()[0]
        forward, _, rule = first.partition(";")
        assert "=" in forward and rule.strip(), f"{cls.__name__}: {first!r}"
