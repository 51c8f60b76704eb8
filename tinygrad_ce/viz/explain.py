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
    root_label = labels.text(root)
    if root_label in labels.definitions:
        root_label += " = " + labels.definitions[root_label]
    lines = [f"Backward pass of {root_label}  (shape {_fmt_shape(root.shape)}, {root.dtype})"]
    if not steps:
        if root._ctx is None and root.requires_grad:
            lines.append(f"  nothing to do: a leaf; backward() sets {_d(labels[root])} = g")
        else:
            lines.append("  nothing to do: no input of this result requires a gradient")
        return "\n".join(lines)
    seed = E.ONE if root.size == 1 else E.atom("g")
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

    # how many ops send a gradient to each tensor (to write "+=" where they add up)
    fan_in: dict[int, int] = {}
    for t in steps:
        ctx = t._ctx
        for x, need in zip(ctx.inputs, ctx.needs, strict=True):
            if need:
                fan_in[id(x)] = fan_in.get(id(x), 0) + 1

    grads: dict[int, Expr] = {id(root): seed}
    terms: dict[int, int] = {}
    width = max(len(t._ctx.name) for t in steps)
    up_width = max(len(_fmt_shape(t.shape)) for t in steps)
    biggest: tuple[int, str] = (0, "")
    total_entries = 0
    leaf_order: list[Tensor] = []
    leaf_seen: set[int] = set()
    for k, t in enumerate(steps, start=1):
        ctx = t._ctx
        g = grads.pop(id(t), E.atom("0"))
        g_text = g.render()
        if len(g_text) > max_formula // 2:  # name it, so the formulas built from it stay short
            if len(g_text) > 3 * max_formula:
                g_text = f"({len(g_text)} characters)"
            g_text += f"   (call it g{k})"
            g = E.atom(f"g{k}")
        args = [labels.get(x) if isinstance(x, Tensor) else labels.constant(x) for x in ctx.inputs]
        sent = backward_exprs(ctx, g, args, labels[t], labels.constant_name)
        parts = (  # only the printed steps need their rules written out
            [pieces_text(p) for p in named_rule_parts(ctx, args, labels[t])]
            if k <= max_steps
            else [""] * len(args)
        )
        pieces = []
        detail = [f"g = {g_text}"]
        for i, (x, need) in enumerate(zip(ctx.inputs, ctx.needs, strict=True)):
            if not need:
                continue
            pieces.append(f"{parts[i]} -> {_fmt_shape(x.shape)}")
            entries = int(t.size) * int(x.size)
            total_entries += entries
            if entries > biggest[0]:
                biggest = (
                    entries,
                    f"The largest, {ctx.name}'s at step {k} (output {_fmt_shape(t.shape)} by "
                    f"input {_fmt_shape(x.shape)}), would have {_entries(entries)}",
                )
            formula = sent[i] if sent[i] is not None else E.atom("?")
            prev = grads.get(id(x))
            terms[id(x)] = terms.get(id(x), 0) + 1
            if prev is None:
                grads[id(x)] = formula
            elif len(prev.render()) > 3 * max_formula:  # keep the formula (and its depth) bounded
                grads[id(x)] = E.atom(f"(a sum of {terms[id(x)]} terms)")
            else:
                grads[id(x)] = E.add(prev, formula)
            if x._ctx is None and id(x) not in leaf_seen:
                leaf_seen.add(id(x))
                leaf_order.append(x)
            op = "+=" if fan_in.get(id(x), 0) > 1 else "="
            ftext = formula.render()
            if len(ftext) > max_formula:
                ftext = f"({len(ftext)} characters)"
            detail.append(f"{_d(labels[x])} {op} {ftext}")
        if k <= max_steps:
            head = f"{k:>4}  {ctx.name:<{width}}  upstream {_fmt_shape(t.shape):<{up_width}}  "
            lines.append(head + "    ".join(pieces))
            lines.extend(" " * 10 + d for d in detail)
        elif k == max_steps + 1:
            lines.append(f"   ... {len(steps) - max_steps:,} more steps (max_steps={max_steps})")

    lines.append("")
    lines.append("Gradients reaching the leaves:")
    position = {id(t): i for i, t in enumerate(tensors)}
    for x in sorted(leaf_order, key=lambda v: position[id(v)]):
        f = grads.get(id(x))
        ftext = f.render() if f is not None else "0"
        if len(ftext) > 3 * max_formula:
            ftext = f"(a formula {len(ftext)} characters long; see the steps above)"
        lines.append(f"  {_d(labels[x])} = {ftext}    shape {_fmt_shape(x.shape)}")
    if labels.definitions:
        lines.append("where")
        defs = list(labels.definitions.items())
        for sym, definition in defs[:max_steps] if len(defs) > max_steps else defs:
            lines.append(f"  {sym} = {definition}")
        if len(defs) > max_steps:
            lines.append(f"  ... {len(defs) - max_steps:,} more symbols")
    lines.append("")
    lines.extend(
        textwrap.wrap(
            f"No Jacobian was built. {biggest[1]}"
            + (
                f"; all {len(steps):,} together would have {_entries(total_entries)}"
                if len(steps) > 1
                else ""
            )
            + ". Each VJP above contracts g with its op's Jacobian without "
            "forming it.",
            width=100,
        )
    )
    return "\n".join(lines)


def _d(label: Expr) -> str:
    """``dL/dy`` for a name, ``dL/d(A^T y)`` for a formula."""
    text = label.render()
    return f"dL/d{text}" if text.isidentifier() else f"dL/d({text})"


def _entries(n: int) -> str:
    return "1 entry" if n == 1 else f"{n:,} entries"
