"""The catalogue of primitive ops: every ``Function`` subclass in the package is listed here.

For each op, one small case (a function of float64 Tensors and its inputs) is checked

* to first order: ``backward`` against finite differences, driven by a random upstream gradient;
* to second order: a Hessian-vector product through the rules run on Tensors
  (``create_graph=True``) against finite differences of the gradient;

and the op's declared maths (``args``, ``formula``, ``vjp``) is checked to be there and to be
what its docstring shows. A new op without a case here, or without its formulas, fails
``test_every_op_is_in_the_catalogue``.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from collections.abc import Callable

import numpy as np
import pytest
from helpers import check_second_order, check_vjp, positive, rand

import tinygrad_ce
from tinygrad_ce import F, Function, Tensor, draw_graph, explain, ops
from tinygrad_ce.ops import conv as C

tg_where, tg_cat = tinygrad_ce.where, tinygrad_ce.cat


def _distinct(shape: tuple[int, ...], seed: int) -> np.ndarray:
    """Values at least 0.2 apart (no ties for max), away from 0 (no kink for abs and relu)."""
    n = int(np.prod(shape))
    values = (np.arange(n) - n / 2 + 0.5) * 0.4
    return np.random.default_rng(seed).permutation(values).reshape(shape)


S2, P2 = (2, 1), (1, 0)  # a stride and a padding that differ between the two axes

# op class name -> (function of Tensors, its float64 inputs)
CASES: dict[str, tuple[Callable[..., Tensor], list[np.ndarray]]] = {
    "Add": (lambda x, y: x + y, [rand((3, 4), 1), rand((4,), 2)]),
    "Sub": (lambda x, y: (x - y) * x, [rand((3, 4), 1), rand((3, 1), 2)]),
    "Mul": (lambda x, y: x * y, [rand((3, 4), 1), rand((1, 4), 2)]),
    "Div": (lambda x, y: x / y, [rand((3, 4), 1), positive((4,), 2)]),
    "Pow": (lambda x, y: x**y, [positive((3, 4), 1), rand((3, 1), 2)]),
    "Neg": (lambda x: -x * x, [rand((2, 3), 1)]),
    "Exp": (lambda x: x.exp(), [rand((2, 3), 1)]),
    "Log": (lambda x: x.log(), [positive((2, 3), 1)]),
    "Abs": (lambda x: x.abs() * x, [_distinct((2, 3), 1)]),
    "ReLU": (lambda x: x.relu() * x, [_distinct((2, 3), 1)]),
    "Tanh": (lambda x: x.tanh(), [rand((2, 3), 1)]),
    "Sigmoid": (lambda x: x.sigmoid(), [rand((2, 3), 1)]),
    # to a wider float and back: exact, so finite differences stay float64-accurate
    "Cast": (lambda x: (x.astype(np.longdouble) ** 2).astype(np.float64), [rand((2, 3), 1)]),
    "MatMul": (lambda a, b: a @ b, [rand((3, 4), 1), rand((4, 2), 2)]),
    "Affine": (
        lambda x, w, b: ops.Affine.apply(x, w, b).tanh(),
        [rand((3, 4), 1), rand((2, 4), 2), rand((2,), 3)],
    ),
    "Sum": (lambda x: x.sum(axis=1) ** 2, [rand((3, 4), 1)]),
    "Max": (lambda x: x.max(axis=0) * x.max(), [_distinct((3, 4), 1)]),
    "Reshape": (lambda x: x.reshape(4, 3) * x.reshape(4, 3), [rand((3, 4), 1)]),
    "Transpose": (lambda x: x.T @ x, [rand((3, 4), 1)]),
    "BroadcastTo": (lambda x: x.broadcast_to((3, 4)) ** 2, [rand((1, 4), 1)]),
    "GetItem": (lambda x: x[np.array([0, 0, 2])] * x[1], [rand((3, 4), 1)]),
    "ScatterAdd": (
        lambda x: ops.scatter_add(x, np.array([0, 0, 3]), (4, 2)) ** 2,
        [rand((3, 2), 1)],
    ),
    # the language-model ops (tests/test_language_ops.py has more cases of each)
    "Where": (
        lambda x, y: tg_where(np.array([True, False, True, True]), x * y, y) ** 2,
        [rand((3, 4), 1), rand((4,), 2)],
    ),
    "Maximum": (lambda x, y: x.maximum(y) * x, [_distinct((3, 4), 1), rand((3, 1), 2)]),
    "Minimum": (lambda x, y: x.minimum(y) * y, [_distinct((3, 4), 1), rand((4,), 2)]),
    "Erf": (lambda x: ops.Erf.apply(x * 2.0), [rand((2, 3), 1)]),
    "GELU": (lambda x: F.gelu(x * 2.0), [rand((2, 3), 1)]),
    "Concat": (lambda a, b: tg_cat([a, b * a], axis=1) ** 2, [rand((2, 3), 1), rand((2, 3), 2)]),
    "Embedding": (
        lambda w: F.embedding(np.array([[0, 2, 2], [1, 0, 2]]), w) ** 2,
        [rand((3, 2), 1)],
    ),
    "LayerNorm": (
        lambda x, w, b: F.layer_norm(x, 4, w, b) * x,
        [rand((2, 4), 1), rand((4,), 2), rand((4,), 3)],
    ),
    "Conv2d": (
        lambda x, w, b: F.conv2d(x, w, b, S2, P2),
        [rand((2, 2, 5, 4), 1), rand((3, 2, 3, 2), 2), rand((3,), 3)],
    ),  # fmt: skip
    "Conv2dInputGrad": (
        lambda g, w: C.Conv2dInputGrad.apply(g, w, x_shape=(2, 2, 5, 4), stride=S2, padding=P2),
        [rand((2, 3, 3, 3), 4), rand((3, 2, 3, 2), 5)],
    ),
    "Conv2dWeightGrad": (
        lambda x, g: C.Conv2dWeightGrad.apply(x, g, w_shape=(3, 2, 3, 2), stride=S2, padding=P2),
        [rand((2, 2, 5, 4), 6), rand((2, 3, 3, 3), 7)],
    ),
    "MaxPool2d": (lambda x: F.max_pool2d(x, 3, 2, 1), [rand((2, 2, 5, 5), 8)]),
    "AvgPool2d": (lambda x: F.avg_pool2d(x, 3, 2, 1), [rand((2, 2, 5, 5), 9)]),
    "BatchNorm": (
        lambda x, w, b: F.batch_norm(x, weight=w, bias=b, training=True),
        [rand((3, 2, 2, 3), 10), rand((2,), 11), rand((2,), 12)],
    ),
    "SoftmaxCrossEntropy": (
        lambda z, t: F.cross_entropy(z, t * t, reduction="sum"),
        [rand((3, 4), 1), rand((3, 4), 2)],
    ),
}


def _package_ops() -> list[type]:
    """Every concrete Function subclass defined in the package (imports every module first)."""
    for info in pkgutil.walk_packages(tinygrad_ce.__path__, "tinygrad_ce."):
        if not info.name.startswith(("tinygrad_ce.cli", "tinygrad_ce.__main__")):
            importlib.import_module(info.name)
    found, todo = [], list(Function.__subclasses__())
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if cls.__module__.startswith("tinygrad_ce.") and not cls.__name__.startswith("_"):
            found.append(cls)
    return sorted(found, key=lambda c: c.__name__)


OPS = _package_ops()


def test_every_op_is_in_the_catalogue():
    names = {cls.__name__ for cls in OPS}
    assert not names - set(CASES), f"ops without a gradient case here: {sorted(names - set(CASES))}"
    assert not set(CASES) - names, f"cases for ops that do not exist: {set(CASES) - names}"


@pytest.mark.parametrize("name", sorted(CASES))
def test_first_derivative_against_finite_differences(name):
    fn, arrays = CASES[name]
    check_vjp(fn, arrays, seed=3)


@pytest.mark.parametrize("name", sorted(CASES))
def test_second_derivative_against_finite_differences(name):
    fn, arrays = CASES[name]
    check_second_order(fn, arrays)


@pytest.mark.parametrize("op", OPS, ids=lambda c: c.__name__)
def test_every_op_declares_its_maths(op):
    assert op.args and all(a.isidentifier() for a in op.args), f"{op.__name__}.args"
    assert op.formula, f"{op.__name__} declares no formula"
    assert len(op.vjp) == len(op.args), f"{op.__name__}: one vjp rule per argument"
    for arg, rule in zip(op.args, op.vjp, strict=True):
        assert rule.startswith(f"d{arg} = "), f"{op.__name__}: rule {rule!r} is not for {arg}"
    first_line = inspect.getdoc(op).splitlines()[0]
    assert first_line == f"{op.output} = {op.formula};  " + ",  ".join(op.vjp)


def test_each_op_lives_in_the_ops_package():
    for op in OPS:
        assert op.__module__.startswith("tinygrad_ce.ops."), f"{op.__name__} is in {op.__module__}"


# --- a user's op -------------------------------------------------------------------------------


class Cube(Function):
    """x cubed, with its maths declared as an op of the package would."""

    args, formula, vjp = ("x",), "x ** 3", ("dx = 3 * g * x ** 2",)

    def forward(self, x):
        return x**3

    def backward(self, g, out, x):
        return (3 * g * x**2,)


class Opaque(Function):
    """An op that declares nothing: still drawn and explained, by its name."""

    def forward(self, x):
        return 2 * x

    def backward(self, g, out, x):
        return (2 * g,)


def test_a_user_op_renders_with_its_declared_formula_in_the_operands_names():
    a = Tensor([1.0, 2.0], requires_grad=True, name="a")
    b = Tensor([0.5, -1.0], requires_grad=True, name="b")
    text = explain(Cube.apply(a + b).sum(), quiet=True)
    # the declared rule, with the operand's formula in place of its letter x
    assert re.search(r"Cube +upstream \(2,\) +d\(a \+ b\) = 3 \* g \* \(a \+ b\) \*\* 2", text)
    assert "dL/d((a + b) ** 3) = 1" in text  # the forward, in the operands' names
    assert "dL/da = 3 * (a + b) ** 2" in text  # the rule with g = 1 and x = a + b filled in
    assert inspect.getdoc(Cube).startswith("z = x ** 3;  dx = 3 * g * x ** 2\n\nx cubed")
    check_vjp(lambda x: Cube.apply(x), [rand((3,), 1)])


def test_a_user_op_that_declares_nothing_falls_back_to_its_name():
    x = Tensor([1.0, 2.0], requires_grad=True, name="x")
    out = Opaque.apply(x)
    assert "(no rule declared)" in draw_graph(out, rules=True).source
    text = explain(out.sum(), quiet=True)
    assert "dL/dx = Opaque_vjp(1)" in text and "Opaque(x)" in text
