"""The Tensor API: construction and dtypes, attributes, conversion, operators on both sides."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import ARITHMETIC

from tinygrad_ce import Tensor

# --- construction and dtypes --------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_float_ndarray_keeps_its_dtype(dtype):
    a = np.arange(6, dtype=dtype).reshape(2, 3)
    t = Tensor(a)
    assert t.dtype == dtype
    assert t.shape == (2, 3)
    np.testing.assert_array_equal(t.data, a)


def test_data_is_copied_from_the_ndarray():
    a = np.ones(3)
    t = Tensor(a)
    a[0] = 5.0
    assert t.data[0] == 1.0


@pytest.mark.parametrize("data", [1.5, [1.0, 2.0], [[1, 2.5], [3, 4]], [1, 2.0]])
def test_python_floats_and_lists_become_float32(data):
    t = Tensor(data)
    assert t.dtype == np.float32
    np.testing.assert_allclose(t.data, np.array(data))


@pytest.mark.parametrize("data", [3, [1, 2, 3], [[1], [2]]])
def test_python_ints_become_int64(data):
    t = Tensor(data)
    assert t.dtype == np.int64
    np.testing.assert_array_equal(t.data, np.array(data))


def test_explicit_dtype_wins():
    assert Tensor([1, 2], dtype=np.float64).dtype == np.float64
    assert Tensor(1.5, dtype=np.float64).dtype == np.float64
    assert Tensor(np.ones(2, dtype=np.float64), dtype=np.float32).dtype == np.float32


@pytest.mark.parametrize("data", [3, [1, 2], np.arange(3), np.array([True, False])])
def test_integer_data_cannot_require_grad(data):
    with pytest.raises(TypeError, match="floating-point") as info:
        Tensor(data, requires_grad=True)
    assert "dtype" in str(info.value)


def test_integer_data_with_float_dtype_can_require_grad():
    t = Tensor([1, 2], requires_grad=True, dtype=np.float32)
    assert t.requires_grad and t.dtype == np.float32


def test_non_numeric_data_is_rejected():
    with pytest.raises(TypeError, match="numbers"):
        Tensor(["a", "b"])


# --- attributes -------------------------------------------------------------------------


def test_attributes():
    t = Tensor(np.zeros((2, 3, 4)), requires_grad=True, name="w")
    assert t.shape == (2, 3, 4)
    assert t.ndim == 3
    assert t.dtype == np.float64
    assert t.requires_grad is True
    assert t.name == "w"
    assert t.grad is None
    assert Tensor(1.0).requires_grad is False
    assert Tensor(1.0).name is None


def test_data_is_assignable_with_same_shape():
    t = Tensor(np.zeros(3), requires_grad=True)
    t.data = np.array([1.0, 2.0, 3.0])
    np.testing.assert_array_equal(t.data, [1.0, 2.0, 3.0])
    (t * t).sum().backward()
    np.testing.assert_allclose(t.grad, [2.0, 4.0, 6.0])


def test_data_assignment_with_wrong_shape_raises_and_changes_nothing():
    t = Tensor(np.zeros(3))
    with pytest.raises(ValueError, match=r"\(2,\).*\(3,\)"):
        t.data = np.ones(2)
    np.testing.assert_array_equal(t.data, np.zeros(3))


def test_grad_is_assignable():
    t = Tensor(np.zeros(3), requires_grad=True)
    t.grad = np.ones(3)
    np.testing.assert_array_equal(t.grad, np.ones(3))
    t.grad = None
    assert t.grad is None
    with pytest.raises(ValueError, match=r"\(4,\)"):
        t.grad = np.ones(4)
    assert t.grad is None


def test_T_reverses_all_axes_like_numpy():
    a = np.arange(24.0).reshape(2, 3, 4)
    t = Tensor(a)
    assert t.T.shape == (4, 3, 2)
    np.testing.assert_array_equal(t.T.data, a.T)
    np.testing.assert_array_equal(Tensor(np.arange(3.0)).T.data, np.arange(3.0))


def test_numpy_item_detach():
    t = Tensor(np.array([[2.5]]), requires_grad=True)
    arr = t.numpy()
    assert isinstance(arr, np.ndarray)
    np.testing.assert_array_equal(arr, [[2.5]])
    assert t.item() == 2.5 and isinstance(t.item(), float)
    assert Tensor(3).item() == 3 and isinstance(Tensor(3).item(), int)
    with pytest.raises(ValueError, match=r"\(2,\)"):
        Tensor([1.0, 2.0]).item()
    y = t * 2.0
    d = y.detach()
    assert d.requires_grad is False
    assert d._ctx is None
    np.testing.assert_array_equal(d.data, y.data)
    # gradient does not flow through a detached tensor
    (d * t).sum().backward()
    np.testing.assert_allclose(t.grad, [[5.0]])


def test_repr_mentions_values_and_grad_fn():
    x = Tensor([1.0, 2.0], requires_grad=True, name="x")
    assert "requires_grad=True" in repr(x) and "'x'" in repr(x)
    assert "grad_fn=Mul" in repr(x * 2.0)


# --- backward's grad argument -----------------------------------------------------------


def test_backward_with_ndarray_and_tensor_grad():
    v = np.array([1.0, -2.0, 3.0])
    for g in (v, Tensor(v)):
        x = Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
        (x * x).backward(g)
        np.testing.assert_allclose(x.grad, 2 * x.data * v)


def test_backward_scalar_output_default_grad_is_one():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    (x * 3.0).sum().backward()
    np.testing.assert_allclose(x.grad, [3.0, 3.0])
    y = Tensor(np.array([[2.0]]), requires_grad=True)  # one element, any shape
    (y * y).backward()
    np.testing.assert_allclose(y.grad, [[4.0]])


def test_scalar_leaf_grad_is_an_ndarray():
    x = Tensor(2.0, requires_grad=True)
    (x * x + x * x).backward()
    assert isinstance(x.grad, np.ndarray) and x.grad.shape == ()
    assert x.grad == pytest.approx(8.0)


# --- operators with Tensors, scalars and ndarrays on either side ------------------------

A = np.array([[1.0, 2.0, -3.0], [0.5, -1.5, 2.0]])
B = np.array([[2.0, -1.0, 0.5], [1.5, 3.0, -2.0]])

BINARY = {name: f for name, f in ARITHMETIC.items() if name != "pow"}


@pytest.mark.parametrize("op", BINARY)
@pytest.mark.parametrize("kind", ["tensor", "scalar", "ndarray"])
@pytest.mark.parametrize("tensor_on_left", [True, False])
def test_binary_operators_both_sides(op, kind, tensor_on_left):
    f = BINARY[op]
    other = {"tensor": Tensor(B), "scalar": 1.75, "ndarray": B}[kind]
    other_value = {"tensor": B, "scalar": 1.75, "ndarray": B}[kind]
    t = Tensor(A, requires_grad=True)
    out = f(t, other) if tensor_on_left else f(other, t)
    expected = f(A, other_value) if tensor_on_left else f(other_value, A)
    assert isinstance(out, Tensor)
    assert out.requires_grad
    np.testing.assert_allclose(out.data, expected)
    g = np.random.default_rng(1).standard_normal(A.shape)
    out.backward(g)
    eps = 1e-6
    numeric = (f(A + eps, other_value) - f(A - eps, other_value)) / (2 * eps)
    if not tensor_on_left:
        numeric = (f(other_value, A + eps) - f(other_value, A - eps)) / (2 * eps)
    np.testing.assert_allclose(t.grad, g * numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("kind", ["tensor", "scalar", "ndarray"])
@pytest.mark.parametrize("tensor_on_left", [True, False])
def test_pow_both_sides(kind, tensor_on_left):
    base = np.abs(A) + 0.5
    other_value = {"tensor": np.abs(B), "scalar": 1.5, "ndarray": np.abs(B)}[kind]
    other = Tensor(other_value) if kind == "tensor" else other_value
    t = Tensor(base, requires_grad=True)
    if tensor_on_left:
        out, expected = t**other, base**other_value
        deriv = other_value * base ** (other_value - 1)
    else:
        out, expected = other**t, other_value**base
        deriv = expected * np.log(other_value)
    np.testing.assert_allclose(out.data, expected)
    out.sum().backward()
    np.testing.assert_allclose(t.grad, deriv * np.ones_like(base), rtol=1e-10)


@pytest.mark.parametrize("kind", ["tensor", "ndarray"])
def test_matmul_both_sides(kind):
    a = np.random.default_rng(0).standard_normal((3, 4))
    b = np.random.default_rng(1).standard_normal((4, 2))
    other = Tensor(b) if kind == "tensor" else b
    t = Tensor(a, requires_grad=True)
    out = t @ other
    np.testing.assert_allclose(out.data, a @ b)
    out.sum().backward()
    np.testing.assert_allclose(t.grad, np.ones((3, 2)) @ b.T)

    other = Tensor(a) if kind == "tensor" else a
    t = Tensor(b, requires_grad=True)
    out = other @ t  # ndarray (or Tensor) on the left
    assert isinstance(out, Tensor)
    np.testing.assert_allclose(out.data, a @ b)
    out.sum().backward()
    np.testing.assert_allclose(t.grad, a.T @ np.ones((3, 2)))


def test_ndarray_on_the_left_gives_a_tensor_for_every_operator():
    t = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    a = np.array([3.0, 4.0])
    for out in (a + t, a - t, a * t, a / t, a**t, a @ t):
        assert isinstance(out, Tensor), type(out)
        assert out.requires_grad


def test_unary_neg():
    t = Tensor(A, requires_grad=True)
    out = -t
    np.testing.assert_array_equal(out.data, -A)
    out.backward(B)
    np.testing.assert_array_equal(t.grad, -B)


def test_comparisons_give_boolean_tensors_outside_the_graph():
    t = Tensor(np.array([-1.0, 0.0, 2.0]), requires_grad=True)
    m = t > 0
    assert m.dtype == np.bool_ and not m.requires_grad
    np.testing.assert_array_equal(m.data, [False, False, True])
    np.testing.assert_array_equal((t <= 0).data, [True, True, False])


# --- dtype promotion ---------------------------------------------------------------------

F32 = np.array([1.0, 2.0, 3.0], dtype=np.float32)
F64 = np.array([0.5, -1.0, 2.0], dtype=np.float64)


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div", "pow", "matmul"])
@pytest.mark.parametrize("left,right", [(F32, F64), (F64, F32), (F32, F32), (F64, F64)])
def test_mixed_float_dtypes_follow_numpy_and_grads_keep_input_dtype(op, left, right):
    f = {**ARITHMETIC, "matmul": (lambda a, b: a @ b)}[op]
    x = Tensor(np.abs(left) + 0.5, requires_grad=True)
    y = Tensor(right, requires_grad=True)
    out = f(x, y)
    assert out.dtype == f(np.abs(left) + 0.5, right).dtype
    out.backward(np.ones(out.shape, dtype=out.dtype))
    assert x.grad.dtype == x.dtype
    assert y.grad.dtype == y.dtype


@pytest.mark.parametrize(
    "constant", [2.0, 2, np.float64(2.0), np.float32(2.0), np.ones(3), np.ones(3, np.float32)]
)
def test_constants_follow_numpy_promotion(constant):
    x = Tensor(F32, requires_grad=True)
    out = x * constant
    assert out.dtype == (F32 * constant).dtype
    out.sum().backward()
    assert x.grad.dtype == np.float32


def test_python_float_keeps_float32():
    x = Tensor(F32, requires_grad=True)
    for out in (x + 1.5, 1.5 - x, x * 0.1, 2.0 / x, x**2.0, 2.0**x, (x * 3.0).exp()):
        assert out.dtype == np.float32


def test_float32_ops_on_int_tensors():
    i = Tensor([1, 2, 3])
    x = Tensor(F32, requires_grad=True)
    out = x * i
    assert out.dtype == (F32 * np.array([1, 2, 3])).dtype
    out.sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad, [1.0, 2.0, 3.0])


# --- small conveniences ------------------------------------------------------------------


def test_constructors():
    z = Tensor.zeros(2, 3)
    assert z.shape == (2, 3) and z.dtype == np.float32 and not z.data.any()
    o = Tensor.ones((4,), requires_grad=True, dtype=np.float64)
    assert o.requires_grad and o.dtype == np.float64 and o.data.sum() == 4.0
    r1, r2 = Tensor.randn(3, 2, rng=0), Tensor.randn(3, 2, rng=0)
    np.testing.assert_array_equal(r1.data, r2.data)
    assert r1.dtype == np.float32


def test_requires_grad_in_place_and_conversions():
    t = Tensor(np.array([1.0, 2.0]))
    assert t.requires_grad_() is t and t.requires_grad
    with pytest.raises(TypeError, match="floating-point"):
        Tensor([1, 2]).requires_grad_()
    with pytest.raises(RuntimeError, match="detach"):
        (t * 2.0).requires_grad_(False)
    assert t.tolist() == [1.0, 2.0]
    assert t.float().dtype == np.float32 and t.double() is t
    assert t.flatten().shape == (2,) and len(t) == 2
    assert float(Tensor(2.5)) == 2.5 and int(Tensor(3)) == 3


def test_numpy_shares_memory_and_detach_shares_values():
    t = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    assert np.shares_memory(t.numpy(), t.data)
    d = t.detach()
    np.testing.assert_array_equal(d.data, t.data)
    assert d.requires_grad is False and t.requires_grad is True


@pytest.mark.parametrize(
    "f",
    [
        lambda t: t.exp(),
        lambda t: t.log(),
        lambda t: t.sqrt(),
        lambda t: t.tanh(),
        lambda t: t.sigmoid(),
        lambda t: t.relu(),
        lambda t: t.abs(),
        lambda t: t.sum(axis=0),
        lambda t: t.mean(axis=1, keepdims=True),
        lambda t: t.mean(),
        lambda t: t.max(axis=0),
        lambda t: t.min(),
        lambda t: t.reshape(-1),
        lambda t: t.T,
        lambda t: t[np.array([0, 0])],
        lambda t: t @ t.T,
        lambda t: t.broadcast_to((3, 2, 2)),
    ],
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_unary_ops_and_reductions_keep_the_dtype(f, dtype):
    x = Tensor(np.array([[0.5, 2.0], [1.5, 3.0]], dtype=dtype), requires_grad=True)
    out = f(x)
    assert out.dtype == dtype
    out.backward(np.ones(out.shape, dtype=dtype))
    assert x.grad.dtype == dtype
