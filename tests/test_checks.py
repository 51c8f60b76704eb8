"""``jacobian``, ``numerical_grad`` and ``gradcheck``."""

from __future__ import annotations

import re

import numpy as np
import pytest
from helpers import positive, rand

from tinygrad_ce import Function, GradcheckError, Tensor, grad, gradcheck, jacobian, numerical_grad


def _fd_jacobian(f, a, eps=1e-6):
    """Finite-difference Jacobian of an ndarray -> ndarray function, shape out + in."""
    out = f(a)
    jac = np.zeros(out.shape + a.shape)
    for j in np.ndindex(a.shape):
        up, down = a.copy(), a.copy()
        up[j] += eps
        down[j] -= eps
        jac[(Ellipsis, *j)] = (f(up) - f(down)) / (2 * eps)
    return jac


JACOBIAN_CASES = {
    "tanh matrix": (lambda t: (t @ t.T).tanh(), (3, 2)),
    "vector to matrix": (lambda t: t.reshape(-1, 1) * t.exp(), (4,)),
    "matrix to scalar": (lambda t: (t * t).sum(), (2, 3)),
    "scalar to vector": (lambda t: t * Tensor(np.array([1.0, 2.0, 3.0])), ()),
    "softmax rows": (lambda t: t.exp() / t.exp().sum(axis=1, keepdims=True), (2, 3)),
    "3-D to 1-D": (lambda t: t.max(axis=(1, 2)), (2, 2, 3)),
}


@pytest.mark.parametrize("name", JACOBIAN_CASES)
def test_jacobian_shape_and_values(name):
    f, shape = JACOBIAN_CASES[name]
    a = rand(shape, 1)
    jac = jacobian(f, a)
    out_shape = f(Tensor(a)).shape
    assert jac.shape == out_shape + shape
    expected = _fd_jacobian(lambda arr: f(Tensor(arr)).data, a)
    np.testing.assert_allclose(jac, expected, rtol=1e-6, atol=1e-8)


def test_jacobian_of_elementwise_op_is_diagonal_and_leaves_input_alone():
    x = Tensor(rand((4,), 2), requires_grad=True)
    jac = jacobian(lambda t: t.tanh(), x)
    np.testing.assert_allclose(jac, np.diag(1 - np.tanh(x.data) ** 2))
    assert x.grad is None


def test_jacobian_of_a_function_that_ignores_its_input_is_zero():
    jac = jacobian(lambda t: Tensor(np.ones(3)), np.ones(2))
    assert jac.shape == (3, 2)
    np.testing.assert_array_equal(jac, 0.0)


def test_jacobian_of_identity():
    np.testing.assert_array_equal(
        jacobian(lambda t: t, np.ones((2, 2))), np.eye(4).reshape(2, 2, 2, 2)
    )


def test_numerical_grad_matches_closed_form():
    a, b = rand((3,), 3), rand((3,), 4)
    g = numerical_grad(lambda x, y: (x * x * y).sum(), [a, b], index=0)
    np.testing.assert_allclose(g, 2 * a * b, rtol=1e-7)


@pytest.mark.parametrize(
    "fn,inputs",
    [
        (lambda x: x.tanh(), [rand((3, 2))]),
        (lambda x, y: (x @ y).sigmoid(), [rand((2, 3)), rand((3, 4))]),
        (lambda x, y: x / y + x**2.0, [rand((3, 1)), positive((4,))]),
        (lambda x: x.log().sum(), [positive((5,))]),
        (lambda x: x[np.array([0, 0, 1])] * 2.0, [rand((3,))]),
    ],
)
def test_gradcheck_passes_on_correct_ops(fn, inputs):
    assert gradcheck(fn, inputs) is True


def test_gradcheck_accepts_tensors_and_single_arrays_and_float32():
    assert gradcheck(lambda t: t.exp(), Tensor(np.array([0.1, 0.2], dtype=np.float32))) is True
    assert gradcheck(lambda t: t * t, np.array([1.0, 2.0])) is True


def test_gradcheck_passes_integer_inputs_through_unchanged():
    labels = np.array([2, 0])

    def pick(x, idx):
        assert isinstance(idx, Tensor) and idx.dtype.kind == "i"
        return x[np.arange(2), idx.data]

    assert gradcheck(pick, [rand((2, 3)), labels]) is True


class _WrongExp(Function):
    """z = exp(x);  dx = g * z * 2   (deliberately wrong)"""

    def forward(self, x):
        return np.exp(x)

    def backward(self, g, out, x):
        return (g * out * 2,)


class _IgnoresG(Function):
    """z = 2 x;  dx = 2   (forgets the upstream gradient)"""

    def forward(self, x):
        return 2 * x

    def backward(self, g, out, x):
        return (2 * np.ones_like(x),)


def test_gradcheck_fails_a_wrong_custom_function_naming_input_index_and_values():
    a = np.array([[0.1, 0.2], [0.3, 0.4]])
    b = np.array([1.0, 2.0])
    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda x, y: x * y + _WrongExp.apply(y), [a, b])
    msg = str(info.value)
    assert "input 1" in msg
    assert "shape (2,)" in msg
    assert re.search(r"at index \(\d+,\)", msg)
    numbers = [float(s) for s in re.findall(r"give[s]? (-?[\d.e+-]+)", msg)]
    assert len(numbers) == 2 and abs(numbers[0] - numbers[1]) > 1.0
    assert isinstance(info.value, AssertionError)  # pytest shows it as a failed check


def test_gradcheck_reported_values_are_the_real_ones():
    a = np.array([0.5, -0.25, 1.0])
    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda x: _WrongExp.apply(x).sum(), [a])
    msg = str(info.value)
    j = int(re.search(r"index \((\d+),\)", msg).group(1))
    assert j == 2  # |2e^x - e^x| is largest at the largest x
    backward_value, numeric_value = (float(s) for s in re.findall(r"give[s]? (-?[\d.e+-]+)", msg))
    assert backward_value == pytest.approx(2 * np.exp(a[j]))
    assert numeric_value == pytest.approx(np.exp(a[j]), rel=1e-6)


def test_gradcheck_uses_a_non_trivial_upstream_gradient():
    """A rule that ignores g passes with g = 1 but gradcheck must catch it."""
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    _IgnoresG.apply(x).sum().backward()
    np.testing.assert_allclose(x.grad, [2.0, 2.0])  # looks right with g = 1
    with pytest.raises(GradcheckError, match="input 0"):
        gradcheck(lambda t: _IgnoresG.apply(t), [np.array([1.0, 2.0])])


def test_gradcheck_fails_on_nan():
    with pytest.raises(GradcheckError, match="nan"):
        with np.errstate(invalid="ignore"):
            gradcheck(lambda t: (t - 1.0).log(), [np.array([0.5, 2.0])])


def test_gradcheck_requires_a_tensor_result():
    with pytest.raises(TypeError, match="Tensor"):
        gradcheck(lambda t: 3.0, [np.ones(2)])


def test_gradcheck_checks_a_second_derivative_through_grad():
    """fn may call grad(create_graph=True): gradcheck then checks the second derivative."""

    def first_derivative(x):
        (g,) = grad((x.tanh() ** 3).sum(), x, create_graph=True)
        return g

    x = np.random.default_rng(0).standard_normal(5)
    assert gradcheck(first_derivative, x)

    def first_derivative_cut_from_x(x):  # g.detach() drops d(g)/dx: a wrong second derivative
        (g,) = grad((x.tanh() ** 3).sum(), x, create_graph=True)
        return g.detach() * x

    with pytest.raises(GradcheckError, match="input 0"):
        gradcheck(first_derivative_cut_from_x, x)
