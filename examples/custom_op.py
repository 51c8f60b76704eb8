"""Write your own primitive op with its own VJP rule, and check it with ``gradcheck``.

What it teaches: how every op in tinygrad_ce is made, using ``LogCosh`` (a smooth version of
``|x|``, used as a robust regression loss) as the example:

* subclass ``Function`` and declare its maths as data: ``args`` (the argument names),
  ``formula`` (the forward) and ``vjp`` (one rule per argument). ``explain`` and
  ``draw_graph(rules=True)`` show them with the operands' own names, and they become the first
  line of the class docstring;
* ``forward(self, x)`` works on numpy arrays and returns the value;
* ``backward(self, g, out, x)`` returns one gradient per input: the upstream gradient ``g``
  contracted with the op's Jacobian. For an elementwise op the Jacobian is diagonal, so the
  contraction is an elementwise product: ``g * tanh(x)``;
* call it with ``LogCosh.apply(tensor)``;
* check it with ``gradcheck`` (central differences in float64). Because the rule is written
  with operations that Tensors support too (``_tanh`` below picks ``np.tanh`` or
  ``Tensor.tanh``), ``grad(..., create_graph=True)`` can differentiate it again.

It also shows why one writes a custom op at all: ``log(cosh(x))`` composed from ``exp`` and
``log`` overflows for ``|x| > 710``; the op computes the same value stably, in one node.

Run::

    python examples/custom_op.py

Takes well under a second and writes no files.
"""

from __future__ import annotations

import sys

import numpy as np
from _common import read_args

from tinygrad_ce import Function, GradcheckError, Tensor, explain, grad, gradcheck


def _tanh(x):
    """tanh on a numpy array (fast path) or a Tensor (when a graph of the backward is wanted)."""
    return x.tanh() if isinstance(x, Tensor) else np.tanh(x)


class LogCosh(Function):
    """A smooth |x|: quadratic near 0, linear far out."""

    # what explain() and draw_graph(rules=True) show, with the operand's own name put in for x
    args, formula, vjp = ("x",), "log(cosh(x))", ("dx = g * tanh(x)",)

    def forward(self, x):
        # log(cosh x) = |x| + log(1 + exp(-2|x|)) - log 2: nothing overflows for large |x|
        a = np.abs(x)
        return a + np.log1p(np.exp(-2.0 * a)) - np.log(2.0)

    def backward(self, g, out, x):
        return (g * _tanh(x),)


def log_cosh(x: Tensor) -> Tensor:
    """``log(cosh(x))`` elementwise, one node. Any shape; gradient ``tanh(x)``."""
    return LogCosh.apply(x)


def log_cosh_composed(x: Tensor) -> Tensor:
    """The same function from primitive ops: three nodes and an overflow past |x| = 710."""
    return ((x.exp() + (-x).exp()) * 0.5).log()


class BrokenLogCosh(LogCosh):
    """WRONG on purpose: the rule ignores the upstream gradient g."""

    vjp = ("dx = tanh(x)",)

    def backward(self, g, out, x):
        return (_tanh(x),)


def main(argv: list[str]) -> int:
    read_args(argv, __doc__, max_args=1)  # an output directory is accepted; nothing is written
    rng = np.random.default_rng(0)
    x0 = rng.standard_normal((3, 4)) * 2

    # 1. the value agrees with numpy, the gradient with finite differences
    value = log_cosh(Tensor(x0)).data
    print(f"max |LogCosh - log(cosh(x))|       = {np.abs(value - np.log(np.cosh(x0))).max():.1e}")
    print(f"gradcheck, first derivative        : {gradcheck(log_cosh, x0)}")

    # 2. the rule is differentiable too. The op is elementwise, so its Hessian is diagonal and
    #    differentiating sum(dz/dx) gives that diagonal: d/dx tanh(x) = 1 - tanh(x)^2.
    def first_derivative(x: np.ndarray) -> Tensor:
        xt = Tensor(x, requires_grad=True)
        (g,) = grad(log_cosh(xt).sum(), xt, create_graph=True)  # a graph, not just values
        return g, xt

    g, xt = first_derivative(x0)
    (second,) = grad(g.sum(), xt)
    eps = 1e-6
    numeric = (first_derivative(x0 + eps)[0].data - first_derivative(x0 - eps)[0].data) / (2 * eps)
    exact = 1 - np.tanh(x0) ** 2
    print(f"second derivative vs 1 - tanh(x)^2 : {np.abs(second.data - exact).max():.1e}")
    print(f"second derivative vs finite diff.  : {np.abs(second.data - numeric).max():.1e}")

    # 3. gradcheck catches a rule that forgets to multiply by g
    try:
        gradcheck(BrokenLogCosh.apply, x0)
        print("gradcheck missed the broken rule!")
        return 1
    except GradcheckError as err:
        print(f"gradcheck on a rule that ignores g : fails, as it should\n    {err}")

    # 4. stability: the composed version overflows, the op does not
    np.set_printoptions(precision=4, suppress=True)
    big = Tensor(np.array([1.0, 100.0, 800.0]), requires_grad=True)
    with np.errstate(over="ignore", invalid="ignore"):
        composed = log_cosh_composed(big)
        composed.sum().backward()
    print(f"\ncomposed log(cosh(x)) at x = 1, 100, 800: {composed.data}, gradient {big.grad}")
    big.grad = None
    op = log_cosh(big)
    op.sum().backward()
    print(f"LogCosh op            at x = 1, 100, 800: {op.data}, gradient {big.grad}")

    # 5. the declared formula and rule are what explain() shows for the op
    x = Tensor(x0[0], requires_grad=True, name="x")
    print()
    explain(log_cosh(x).sum())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
