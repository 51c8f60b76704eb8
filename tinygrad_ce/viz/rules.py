"""What each op means, in words a reader can follow: its VJP rule text and formula templates.

One source of truth: the rule an op node shows is the part of its class docstring's first line
after the ``;`` (``"z = exp(x);  dx = g * z"`` -> ``dx = g * z``). ``FRIENDLY_RULES`` overrides
that text only where the docstring is too long for a diagram.

For ``explain``'s symbolic gradients there is one small template per op: ``FORWARD`` writes the
op's output in terms of its inputs' names (``exp(x)``, ``A^T y``) and ``BACKWARD`` writes the
gradient sent to each input in terms of the upstream gradient ``g``
(MatMul: ``dA = g @ B^T``, ``dB = A^T @ g``). An op without a template still works: it is
written as ``Name(x, ...)`` and its gradients as ``Name_vjp(g)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from . import expr as E
from .expr import Expr

# ops drawn as "the fused loss": one node that does softmax, log and the sum, and whose
# backward is the famous softmax(z) - target
FUSED_OPS = frozenset({"SoftmaxCrossEntropy"})

FRIENDLY_RULES: dict[str, str] = {
    "Sum": "dx = broadcast(g)",
    "Max": "dx = g * (x == z) / ties",
    "GetItem": "dx = g scattered into zeros",
    "ScatterAdd": "dg = dz[index]",
    "BroadcastTo": "dx = g summed over new axes",
    "Transpose": "dx = g^T",
    # exact when every target row sums to 1 (one-hot, probabilities, label smoothing)
    "SoftmaxCrossEntropy": "dz = g * (softmax(z) - T)",
}


def is_fused(fn: Any) -> bool:
    """True for the fused softmax cross-entropy node (drawn so that it stands out)."""
    return type(fn).__name__ in FUSED_OPS or bool(getattr(type(fn), "fused", False))


def docstring_rule(cls: type) -> tuple[str, str]:
    """``(forward, vjp)`` from the first docstring line ``"z = exp(x);  dx = g * z"``.

    Either part is "" when the docstring does not have it.
    """
    doc = (cls.__doc__ or "").strip().splitlines()
    first = doc[0].strip() if doc else ""
    for sep in (";  ", ";"):
        if sep in first:
            fwd, vjp = first.split(sep, 1)
            return fwd.strip(), vjp.strip()
    return first, ""


def rule_text(fn: Any) -> str:
    """The VJP rule shown on an op node, e.g. ``dA = g @ B^T,  dB = A^T @ g``."""
    name = type(fn).__name__
    if name == "SoftmaxCrossEntropy" and not np.allclose(getattr(fn, "row_sum", 1.0), 1.0):
        name = ""  # target rows that do not sum to 1: the docstring's general rule
    if name in FRIENDLY_RULES:
        return FRIENDLY_RULES[name]
    _, vjp = docstring_rule(type(fn))
    vjp = vjp.split("   (")[0].strip()  # drop a trailing "(remark)"
    return vjp or "(no rule in the docstring)"


def rule_parts(fn: Any, n_inputs: int) -> list[str]:
    """The rule split into one piece per input (``["dA = g @ B^T", "dB = A^T @ g"]``).

    When the text has fewer pieces than the op has inputs, the whole rule is repeated.
    """
    text = rule_text(fn)
    parts = [p.strip() for p in text.split(",  ")]
    if type(fn).__name__ == "SoftmaxCrossEntropy" and len(parts) == 1 and n_inputs == 2:
        return [text, "dT = -g * log_softmax(z)"]  # a probability target that needs a gradient
    if len(parts) != n_inputs:
        return [text] * n_inputs
    return parts


# ---------------------------------------------------------------------------------------------
# formula templates


def _axis_text(axes: Any) -> str:
    axes = tuple(axes) if axes is not None else None
    if axes is None:
        return ""
    return f", axis={axes[0]}" if len(axes) == 1 else f", axis={axes}"


def _reduced_all(fn: Any, ndim: int) -> bool:
    axes = getattr(fn, "axes", None)
    return axes is None or tuple(sorted(axes)) == tuple(range(ndim))


Namer = Callable[[Any], "str | None"]


def _no_names(value: Any) -> str | None:
    return None


def _is_arange(i: Any) -> bool:
    return (
        isinstance(i, np.ndarray)
        and i.ndim == 1
        and i.dtype.kind in "iu"
        and np.array_equal(i, np.arange(len(i)))
    )


def _index_text(index: Any, namer: Namer = _no_names) -> str:
    items = index if isinstance(index, tuple) else (index,)
    out = []
    for i in items:
        if isinstance(i, slice):
            parts = ["" if v is None else str(v) for v in (i.start, i.stop, i.step)]
            out.append(":".join(parts[:2]) + (f":{parts[2]}" if parts[2] else ""))
        elif i is None:
            out.append("None")
        elif i is Ellipsis:
            out.append("...")
        elif isinstance(i, (int, np.integer)):
            out.append(str(int(i)))
        elif isinstance(i, np.ndarray) and i.dtype == bool:
            out.append(namer(i) or "mask")
        elif _is_arange(i):
            out.append("range")
        else:
            out.append(namer(i) or "idx")
    return ", ".join(out)


Forward = Callable[[Any, list[Expr]], Expr]

FORWARD: dict[str, Forward] = {
    "Add": lambda fn, a: E.add(a[0], a[1]),
    "Sub": lambda fn, a: E.sub(a[0], a[1]),
    "Mul": lambda fn, a: E.mul(a[0], a[1]),
    "Div": lambda fn, a: E.div(a[0], a[1]),
    "Pow": lambda fn, a: E.power(a[0], a[1]),
    "Neg": lambda fn, a: E.neg(a[0]),
    "Exp": lambda fn, a: E.call("exp", a[0]),
    "Log": lambda fn, a: E.call("log", a[0]),
    "Abs": lambda fn, a: E.call("abs", a[0]),
    "ReLU": lambda fn, a: E.call("relu", a[0]),
    "Tanh": lambda fn, a: E.call("tanh", a[0]),
    "Sigmoid": lambda fn, a: E.call("sigmoid", a[0]),
    "Cast": lambda fn, a: a[0],
    "MatMul": lambda fn, a: E.product(a[0], a[1]),
    "Reshape": lambda fn, a: a[0],
    "BroadcastTo": lambda fn, a: a[0],
    "Transpose": lambda fn, a: E.T(a[0]),
    "Softmax": lambda fn, a: E.call("softmax", a[0]),
    "LogSoftmax": lambda fn, a: E.call("log_softmax", a[0]),
    "LogSumExp": lambda fn, a: E.call("logsumexp", a[0]),
    "SoftmaxCrossEntropy": lambda fn, a: E.call("CE", E.call("softmax", a[0]), a[1]),
    # nn.Linear's fused node: x @ W^T + b
    "Affine": lambda fn, a: (
        E.add(E.product(a[0], E.T(a[1])), a[2]) if len(a) > 2 else E.product(a[0], E.T(a[1]))
    ),
}


def forward_expr(fn: Any, args: list[Expr], namer: Namer = _no_names) -> Expr:
    """The op's output written in terms of its inputs: ``exp(x)``, ``A^T y``, ``sum(x, axis=1)``."""
    name = type(fn).__name__
    if name in FORWARD:
        return FORWARD[name](fn, args)
    if name in ("Sum", "Max"):
        ndim = np.ndim(fn.arrays[0])
        axes = None if _reduced_all(fn, ndim) else fn.axes
        return E.atom(f"{name.lower()}({args[0].render()}{_axis_text(axes)})")
    if name == "GetItem":
        return E.atom(f"{_paren(args[0])}[{_index_text(fn.index, namer)}]")
    return E.call(name, *args)


def _paren(e: Expr) -> str:
    return e.render() if e.prec >= 100 or e.kind == "^T" else f"({e.render()})"


def _unbroadcast(g: Expr, out_shape: tuple, in_shape: tuple) -> Expr:
    """``g`` summed back to ``in_shape`` (what the engine does after a broadcasting op)."""
    if tuple(out_shape) == tuple(in_shape) or g.is_one:
        return g
    extra = len(out_shape) - len(in_shape)
    axes = list(range(extra)) + [
        i + extra for i, n in enumerate(in_shape) if n == 1 and out_shape[i + extra] != 1
    ]
    if not axes:
        return g
    ax = axes[0] if len(axes) == 1 else tuple(axes)
    return E.atom(f"sum({g.render()}, axis={ax})")


Backward = Callable[[Any, Expr, list[Expr], Expr], list[Expr | None]]


def _matmul_vjp(fn: Any, g: Expr, a: list[Expr], out: Expr) -> list[Expr | None]:
    A, B = a
    nda, ndb = (np.ndim(x) for x in fn.arrays)
    if nda == 1 and ndb == 1:
        return [E.mul(g, B), E.mul(g, A)]
    if nda == 1:
        return [E.matmul(g, E.T(B)), E.call("outer", A, g)]
    if ndb == 1:
        return [E.call("outer", g, B), E.matmul(E.T(A), g)]
    return [E.matmul(g, E.T(B)), E.matmul(E.T(A), g)]


def _affine_vjp(fn: Any, g: Expr, a: list[Expr], out: Expr) -> list[Expr | None]:
    """nn's ``Affine``: ``dx = g @ W``, ``dW = g^T @ x``, ``db = sum(g, axis=0)``."""
    x, w = a[0], a[1]
    ndim = np.ndim(fn.arrays[0])
    if ndim == 1:
        grads = [E.matmul(g, w), E.call("outer", g, x), g]
    else:
        rows_g, rows_x = (g, x) if ndim == 2 else (E.call("rows", g), E.call("rows", x))
        db = E.atom(f"sum({rows_g.render()}, axis=0)")
        grads = [E.matmul(g, w), E.matmul(E.T(rows_g), rows_x), db]
    return grads[: len(a)]


def _pow_vjp(fn: Any, g: Expr, a: list[Expr], out: Expr) -> list[Expr | None]:
    x, y = a
    ex = fn.arrays[1]
    if np.ndim(ex) == 0 and not _is_tensor(fn.inputs[1]):
        c = float(ex)
        dx = E.mul(g, E.mul(E.number(c), E.power(x, E.number(c - 1)))) if c != 1 else g
        if c == 2:
            dx = E.mul(g, E.mul(E.number(2), x))
        if c == 0.5:
            dx = E.div(g, E.mul(E.number(2), E.call("sqrt", x)))
    else:
        dx = E.mul(g, E.mul(y, E.power(x, E.sub(y, E.ONE))))
    return [dx, E.mul(g, E.mul(out, E.call("log", x)))]


def _is_tensor(x: Any) -> bool:
    return type(x).__name__ == "Tensor"


def _sce_vjp(fn: Any, g: Expr, a: list[Expr], out: Expr) -> list[Expr | None]:
    """``softmax(z) - x`` for a target row summing to 1, ``onehot(y)`` for plain labels."""
    z, t = a
    spec = getattr(fn, "spec", None)
    kind = getattr(spec, "kind", "prob")
    plain_prob = kind == "prob" and not getattr(spec, "eps", 0) and spec_weight(spec) is None
    if kind == "index" and getattr(spec, "plain", True):
        t = E.call("onehot", t)
    elif not plain_prob:
        t = E.atom("T")  # the smoothed / weighted target matrix
    row_sum = getattr(fn, "row_sum", 1.0)
    soft = E.call("softmax", z)
    if not np.allclose(row_sum, 1.0):
        soft = E.mul(E.call("sum", t), soft)
    grad = E.sub(soft, t)
    scale = float(getattr(fn, "scale", 1.0))
    if scale not in (0.0, 1.0):
        grad = E.div(grad, E.number(round(1.0 / scale, 6)))
    if getattr(fn, "reduction", None) == "none" and len(np.shape(fn.arrays[0])) > 1:
        g = E.atom(f"{_paren(g)}[..., None]")  # one upstream value per row
    dt = None
    if len(fn.needs) > 1 and fn.needs[1]:  # -log p for a probability target, scaled alike
        dt = E.neg(E.call("log_softmax", z))
        dt = E.div(dt, E.number(round(1.0 / scale, 6))) if scale not in (0.0, 1.0) else dt
        dt = E.mul(g, dt)
    return [E.mul(g, grad), dt]


def spec_weight(spec: Any) -> Any:
    return getattr(spec, "weight", None)


BACKWARD: dict[str, Backward] = {
    "Add": lambda fn, g, a, out: [g, g],
    "Sub": lambda fn, g, a, out: [g, E.neg(g)],
    "Mul": lambda fn, g, a, out: [E.mul(g, a[1]), E.mul(g, a[0])],
    "Div": lambda fn, g, a, out: [
        E.div(g, a[1]),
        E.neg(E.div(E.mul(g, a[0]), E.power(a[1], E.number(2)))),
    ],
    "Pow": _pow_vjp,
    "Neg": lambda fn, g, a, out: [E.neg(g)],
    "Exp": lambda fn, g, a, out: [E.mul(g, out)],
    "Log": lambda fn, g, a, out: [E.div(g, a[0])],
    "Abs": lambda fn, g, a, out: [E.mul(g, E.call("sign", a[0]))],
    "ReLU": lambda fn, g, a, out: [E.mul(g, E.atom(f"[{a[0].render()} > 0]"))],
    "Tanh": lambda fn, g, a, out: [E.mul(g, E.sub(E.ONE, E.power(out, E.number(2))))],
    "Sigmoid": lambda fn, g, a, out: [E.mul(g, E.mul(out, E.sub(E.ONE, out)))],
    "Cast": lambda fn, g, a, out: [g],
    "MatMul": _matmul_vjp,
    "Sum": lambda fn, g, a, out: [g],
    "Max": lambda fn, g, a, out: [E.mul(g, E.atom(f"[{a[0].render()} == {out.render()}]"))],
    "Reshape": lambda fn, g, a, out: [g],
    "Transpose": lambda fn, g, a, out: [E.T(g)],
    "BroadcastTo": lambda fn, g, a, out: [g],
    "Softmax": lambda fn, g, a, out: [E.mul(out, E.sub(g, E.call("sum", E.mul(g, out))))],
    "LogSoftmax": lambda fn, g, a, out: [
        E.sub(g, E.mul(E.call("softmax", a[0]), E.call("sum", g)))
    ],
    "LogSumExp": lambda fn, g, a, out: [E.mul(g, E.call("softmax", a[0]))],
    "SoftmaxCrossEntropy": _sce_vjp,
    "Affine": _affine_vjp,
}

ELEMENTWISE_BINARY = frozenset({"Add", "Sub", "Mul", "Div", "Pow"})


def _getitem_vjp(fn: Any, g: Expr, namer: Namer) -> Expr:
    """``scatter(g)``; for one entry per row, ``x[range, labels]``, ``g * onehot(labels)``."""
    index = fn.index
    if (
        isinstance(index, tuple)
        and len(index) == 2
        and np.ndim(fn.arrays[0]) == 2
        and _is_arange(index[0])
        and isinstance(index[1], np.ndarray)
        and index[1].shape == index[0].shape
    ):
        onehot = E.call("onehot", E.atom(namer(index[1]) or "idx"))
        col = g if _is_number(g) else E.atom(f"{_paren(g)}[:, None]")
        return E.mul(col, onehot)
    if g.kind == "neg":
        return E.neg(E.call("scatter", g.args[0]))
    return E.call("scatter", g)


def _is_number(e: Expr) -> bool:
    if e.kind == "neg":
        return _is_number(e.args[0])
    try:
        float(e.text)
    except ValueError:
        return False
    return e.kind == "atom"


def backward_exprs(
    fn: Any, g: Expr, args: list[Expr], out: Expr, namer: Namer = _no_names
) -> list[Expr | None]:
    """The gradient sent to each input, as formulas in ``g`` and the inputs' names."""
    name = type(fn).__name__
    if name == "GetItem":
        return [_getitem_vjp(fn, g, namer)]
    if name in BACKWARD:
        grads = list(BACKWARD[name](fn, g, args, out))
    else:
        grads = [
            E.call(f"{name}_vjp{i}" if len(args) > 1 else f"{name}_vjp", g)
            for i in range(len(args))
        ]
    grads += [None] * (len(args) - len(grads))
    if name in ELEMENTWISE_BINARY:
        out_shape = np.broadcast_shapes(*(np.shape(x) for x in fn.arrays))
        grads = [
            None if d is None else _unbroadcast(d, out_shape, np.shape(x))
            for d, x in zip(grads, fn.arrays, strict=True)
        ]
    return grads
