"""``explain``: the backward pass as text, one line per op, with each gradient as a formula."""

from __future__ import annotations

import sys
import textwrap
from typing import IO, TYPE_CHECKING, Any

from ..tensor import Tensor

if TYPE_CHECKING:
    from ..nn import Module
from .. import symbolic as E
from ..symbolic import Expr
from .graph import Labels, backward_order, forward_order
from .rules import backward_exprs, named_rule_parts, pieces_text


def explain(
    root: Tensor,
    names: dict[Tensor, str] | Module | None = None,
    *,
    file: IO[str] | None = None,
    quiet: bool = False,
    max_formula: int = 72,
    max_steps: int = 200,
) -> str:
    """Print (and return) the backward pass of ``root``, step by step, as ``backward()`` runs it.

    Each step is one op's vector-Jacobian product (VJP): the op, the shape of the upstream
    gradient ``g`` it receives, the rule it applies (the op's declared rule with its operands'
    names filled in, then simplified) and the shape of the gradient it sends to each input::

        2  MatMul  upstream (3,)  d(A^T) = g @ y^T -> (3, 4)   dy = (A^T)^T @ g = A @ g -> (4,)

    Under it, the same step in symbols: what ``g`` is, and the gradient each input receives
    (``dL/dy = A @ (softmax(A^T y) - x)``), built from the names of the tensors. The footer
    lists the gradient reaching every leaf and the size of the largest Jacobian that the
    backward pass never built.

    Parameters
    ----------
    root : Tensor
        The result to differentiate (usually a scalar loss; otherwise ``g`` is the seed given
        to ``backward``).
    names : dict mapping Tensor -> str, or an nn.Module, optional
        Names to use instead of ``tensor.name`` (a Module names its parameters as
        ``named_parameters()`` does: ``0.weight``). A named tensor that enters an op as a plain
        array (a cross-entropy target, say) is recognised by its data.
    file : text stream, optional
        Where to print (default ``sys.stdout``).
    quiet : bool
        Only return the text, print nothing.
    max_formula : int
        A formula longer than this is replaced by a symbol (``g7`` is the upstream gradient of
        step 7), so the text stays readable on long graphs.
    max_steps : int
        Print at most this many steps (the first ones); the rest are still followed, so the
        leaves' gradients at the end are complete.

    Returns
    -------
    str
        The text printed.

    Notation
    --------
    ``^T`` transpose; ``@`` a matrix product (contraction) in a gradient; a matrix product
    inside a value is written by juxtaposition (``A^T y``); ``outer(a, b)`` is ``a b^T``;
    ``[x > 0]`` is 1 where true, else 0; ``sum(g, axis=0)`` undoes broadcasting; ``onehot(y)``
    the one-hot rows of class labels. In a rule, ``{x}`` is the op's own letter, left where
    its operand has no short name (``d{x} = g / {x}``), never one of your tensors. Unnamed
    leaves are ``t1, t2, ...`` and constant arrays ``c1, c2, ...``; a long intermediate value
    gets a ``t<k>`` symbol defined at the end. The seed ``g = 1`` of a scalar loss drops out of
    the formulas.
    """
    if not isinstance(root, Tensor):
        raise TypeError(f"explain() takes a Tensor, got {type(root).__name__}")
    text = _explain_text(root, names, max_formula, max_steps)
    if not quiet:
        print(text, file=file if file is not None else sys.stdout)
    return text


def _fmt_shape(shape: tuple[int, ...]) -> str:
    return str(tuple(int(n) for n in shape))


def _explain_text(root: Tensor, names: Any, max_formula: int, max_steps: int) -> str:
    tensors = forward_order(root)
    labels = Labels(tensors, names)
    steps = backward_order(root)
    lines = _header(root, labels, steps)
    if not steps:
        return "\n".join(lines)
    walk = _SymbolicWalk(root, labels, steps, max_formula)
    width = max(len(t._ctx.name) for t in steps)
    up_width = max(len(_fmt_shape(t.shape)) for t in steps)
    for k, t in enumerate(steps, start=1):
        pieces, detail = walk.step(k, t, rules=k <= max_steps)
        if k <= max_steps:
            head = f"{k:>4}  {t._ctx.name:<{width}}  upstream {_fmt_shape(t.shape):<{up_width}}  "
            lines.append(head + "    ".join(pieces))
            lines.extend(" " * 10 + d for d in detail)
        elif k == max_steps + 1:
            lines.append(f"   ... {len(steps) - max_steps:,} more steps (max_steps={max_steps})")
    lines += ["", "Gradients reaching the leaves:"]
    position = {id(t): i for i, t in enumerate(tensors)}
    for x in sorted(walk.leaf_order, key=lambda v: position[id(v)]):
        f = walk.grads.get(id(x))
        ftext = f.render() if f is not None else "0"
        if len(ftext) > 3 * max_formula:
            ftext = f"(a formula {len(ftext)} characters long; see the steps above)"
        lines.append(f"  {_d(labels[x])} = {ftext}    shape {_fmt_shape(x.shape)}")
    lines += _definitions(labels, max_steps)
    lines.append("")
    lines.extend(textwrap.wrap(walk.summary(len(steps)), width=100))
    return "\n".join(lines)


def _header(root: Tensor, labels: Labels, steps: list[Tensor]) -> list[str]:
    """The title line, and what backward() does first (or that there is nothing to do)."""
    root_label = labels.text(root)
    if root_label in labels.definitions:
        root_label += " = " + labels.definitions[root_label]
    lines = [f"Backward pass of {root_label}  (shape {_fmt_shape(root.shape)}, {root.dtype})"]
    if not steps:
        if root._ctx is None and root.requires_grad:
            lines.append(f"  nothing to do: a leaf; backward() sets {_d(labels[root])} = g")
        else:
            lines.append("  nothing to do: no input of this result requires a gradient")
        return lines
    lines.append(
        (
            "  backward() starts with g = 1 at the root and runs "
            if root.size == 1
            else "  backward(g) starts with the g you pass (the root's shape) and runs "
        )
        + (
            "one vector-Jacobian product (VJP):"
            if len(steps) == 1
            else f"{len(steps):,} vector-Jacobian products (VJPs), in this order:"
        )
    )
    lines.append("")
    return lines


class _SymbolicWalk:
    """The backward pass run on formulas: the gradient each tensor has received so far."""

    def __init__(self, root: Tensor, labels: Labels, steps: list[Tensor], max_formula: int):
        self.labels, self.max_formula = labels, max_formula
        self.grads: dict[int, Expr] = {id(root): E.ONE if root.size == 1 else E.atom("g")}
        self.terms: dict[int, int] = {}
        # how many ops send a gradient to each tensor (to write "+=" where they add up)
        self.fan_in: dict[int, int] = {}
        for t in steps:
            for x, need in zip(t._ctx.inputs, t._ctx.needs, strict=True):
                if need:
                    self.fan_in[id(x)] = self.fan_in.get(id(x), 0) + 1
        self.biggest: tuple[int, str] = (0, "")
        self.total_entries = 0
        self.leaf_order: list[Tensor] = []  # leaves in the order gradients reach them
        self._leaves: set[Tensor] = set()

    def step(self, k: int, t: Tensor, rules: bool) -> tuple[list[str], list[str]]:
        """Step ``k`` (the VJP of ``t``'s op): its rules per input, and the formulas it sends."""
        ctx, labels = t._ctx, self.labels
        g = self.grads.pop(id(t), E.atom("0"))
        g_text = g.render()
        if len(g_text) > self.max_formula // 2:  # name it: the formulas built from it stay short
            if len(g_text) > 3 * self.max_formula:
                g_text = f"({len(g_text)} characters)"
            g_text += f"   (call it g{k})"
            g = E.atom(f"g{k}")
        args = [labels.get(x) if isinstance(x, Tensor) else labels.constant(x) for x in ctx.inputs]
        sent = backward_exprs(ctx, g, args, labels[t], labels.constant_name)
        parts = (  # only the printed steps need their rules written out
            [pieces_text(p) for p in named_rule_parts(ctx, args, labels[t])]
            if rules
            else [""] * len(args)
        )
        pieces, detail = [], [f"g = {g_text}"]
        for i, (x, need) in enumerate(zip(ctx.inputs, ctx.needs, strict=True)):
            if need:
                pieces.append(f"{parts[i]} -> {_fmt_shape(x.shape)}")
                self._count(k, t, x)
                formula = sent[i] if sent[i] is not None else E.atom("?")
                detail.append(self._send(x, formula))
        return pieces, detail

    def _count(self, k: int, t: Tensor, x: Tensor) -> None:
        """The size of the Jacobian of step ``k`` with respect to ``x``, never built."""
        entries = int(t.size) * int(x.size)
        self.total_entries += entries
        if entries > self.biggest[0]:
            self.biggest = (
                entries,
                f"The largest, {t._ctx.name}'s at step {k} (output {_fmt_shape(t.shape)} by "
                f"input {_fmt_shape(x.shape)}), would have {_entries(entries)}",
            )

    def _send(self, x: Tensor, formula: Expr) -> str:
        """Add ``formula`` to what ``x`` has received; the line that says so."""
        key = id(x)
        prev = self.grads.get(key)
        self.terms[key] = self.terms.get(key, 0) + 1
        if prev is None:
            self.grads[key] = formula
        elif len(prev.render()) > 3 * self.max_formula:  # keep the formula (and its depth) bounded
            self.grads[key] = E.atom(f"(a sum of {self.terms[key]} terms)")
        else:
            self.grads[key] = E.add(prev, formula)
        if x._ctx is None and x not in self._leaves:
            self._leaves.add(x)
            self.leaf_order.append(x)
        op = "+=" if self.fan_in.get(key, 0) > 1 else "="
        ftext = formula.render()
        if len(ftext) > self.max_formula:
            ftext = f"({len(ftext)} characters)"
        return f"{_d(self.labels[x])} {op} {ftext}"

    def summary(self, n_steps: int) -> str:
        """The closing remark: the Jacobians the pass never built."""
        return (
            f"No Jacobian was built. {self.biggest[1]}"
            + (
                f"; all {n_steps:,} together would have {_entries(self.total_entries)}"
                if n_steps > 1
                else ""
            )
            + ". Each VJP above contracts g with its op's Jacobian without forming it."
        )


def _definitions(labels: Labels, max_steps: int) -> list[str]:
    """The ``where`` block: what each generated symbol (``t3``, ``c1``) stands for."""
    if not labels.definitions:
        return []
    lines = ["where"]
    defs = list(labels.definitions.items())
    for sym, definition in defs[:max_steps]:
        lines.append(f"  {sym} = {definition}")
    if len(defs) > max_steps:
        lines.append(f"  ... {len(defs) - max_steps:,} more symbols")
    return lines


def _d(label: Expr) -> str:
    """``dL/dy`` for a name, ``dL/d(A^T y)`` for a formula."""
    text = label.render()
    return f"dL/d{text}" if text.isidentifier() else f"dL/d({text})"


def _entries(n: int) -> str:
    return "1 entry" if n == 1 else f"{n:,} entries"
