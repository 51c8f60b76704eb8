"""What a recorded op node says about itself, read generically: viewers keep no table of ops.

Every op declares its argument names, formula and VJP rules on its class (see
``autograd.Function``); ``explain`` and ``draw_graph`` read them here. A user's op that declares
nothing is shown by its class name, with ``Name_vjp(g)`` for its gradients.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from .. import symbolic as E
from ..autograd import Namer
from ..symbolic import Expr

NO_RULE = "(no rule declared)"


def is_fused(fn: Any) -> bool:
    """True for a node that stands for several textbook ops (drawn so that it stands out)."""
    return bool(fn.fused)  # the ops it fuses, "" for a primitive


def argument_names(fn: Any, n_inputs: int) -> list[str]:
    """The names the rules use for the inputs (``A``, ``B``); else ``x``, ``y`` or ``arg<i>``."""
    declared = tuple(fn.args)[:n_inputs]
    if len(declared) == n_inputs and len(set(declared)) == n_inputs:
        return list(declared)
    return (["x", "y"] if n_inputs == 2 else [f"arg{i}" for i in range(n_inputs)])[:n_inputs]


def backward_exprs(
    fn: Any, g: Expr, args: list[Expr], out: Expr, namer: Namer | None = None
) -> list[Expr | None]:
    """The gradient sent to each input, as formulas in ``g`` and the inputs' names.

    For a broadcasting op, a gradient is written summed back to its input's shape, as the
    engine does after the rule.
    """
    grads = list(fn.vjp_exprs(g, args, out, namer))[: len(args)]
    grads += [None] * (len(args) - len(grads))
    if fn.broadcasts:
        out_shape = np.broadcast_shapes(*(np.shape(x) for x in fn.arrays))
        grads = [
            None if d is None else _unbroadcast(d, out_shape, np.shape(x))
            for d, x in zip(grads, fn.arrays, strict=True)
        ]
    return grads


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


# ---------------------------------------------------------------------------------------------
# rules in the operands' own names

Piece = tuple[str, bool]  # (text, is a generic letter of the op's declared rule)
_LETTER = re.compile(r"\{([A-Za-z_]\w*)\}|[A-Za-z_]\w*")  # {T}: the op's own symbol


def known_label(label: Expr | None, max_len: int = 16) -> Expr | None:
    """``label`` when it can stand in a rule (a name, a symbol or a short formula), else None."""
    if label is None:
        return None
    text = label.render()
    if text == "..." or len(text) > max_len:
        return None
    return label


def named_rules(fn: Any, labels: list[Expr | None], out: Expr | None = None) -> list[list[Piece]]:
    """One rule per argument, its letters replaced by the operands' labels where they are known.

    ``labels[i]`` is the label of ``fn.inputs[i]`` (None when unknown or too long), ``out`` the
    output's. MatMul's ``dB = A^T @ g`` for ``A^T @ y`` reads ``dy = (A^T)^T @ g = A @ g``: the
    rule filled in, then simplified where that changes it. A letter whose operand has no usable
    label stays the op's own letter, marked as generic (``True`` in its piece) so a viewer can
    show it in another style. An op that declares no rules gives ``[(NO_RULE, False)]``.
    """
    rules = list(fn.rules())
    if not rules:
        return [[(NO_RULE, False)]]
    letters = list(argument_names(fn, len(labels)))
    known: dict[str, Expr | None] = dict(zip(letters, labels, strict=False))
    if fn.output not in known:
        known[fn.output] = out
    result = []
    for i, rule in enumerate(rules):
        lhs, _, rhs = rule.partition("=")
        if not rhs:
            lhs, rhs = f"d{letters[i] if i < len(letters) else 'x'}", rule
        letter = lhs.strip()[1:] if lhs.strip().startswith("d") else ""
        pieces: list[Piece] = []
        if letter in known and known[letter] is not None:
            name = known[letter].render()
            pieces.append(("d" + (name if name.isidentifier() else f"({name})"), False))
        elif letter in known:
            pieces += [("d", False), (letter, True)]
        else:
            pieces.append((lhs.strip(), False))
        pieces.append((" = ", False))
        body = _substitute(rhs.strip(), known)
        pieces += body
        if all(not generic for _, generic in body):
            simple = _simplified(rhs.strip(), known)
            if simple is not None and _squash(simple) != _squash("".join(t for t, _ in body)):
                pieces.append((" = " + simple, False))
        result.append(_merge(pieces))
    return result


def named_rule_parts(
    fn: Any, labels: list[Expr | None], out: Expr | None = None
) -> list[list[Piece]]:
    """:func:`named_rules`, one per input; all of them for each when the counts differ."""
    rules = named_rules(fn, [known_label(x) for x in labels], known_label(out))
    if len(rules) != len(labels):
        joined: list[Piece] = []
        for i, rule in enumerate(rules):
            joined += ([(",  ", False)] if i else []) + rule
        return [_merge(joined)] * len(labels)
    return rules


def pieces_text(pieces: list[Piece]) -> str:
    """A rule as plain text: generic letters in braces (``d{x} = g / {x}``)."""
    return "".join(f"{{{t}}}" if generic else t for t, generic in pieces)


def _operand_text(label: Expr, alone: bool) -> str:
    text = label.render()
    if label.prec >= 100 or alone:
        return text
    return f"({text})"


def _substitute(template: str, known: dict[str, Expr | None]) -> list[Piece]:
    pieces: list[Piece] = []
    pos = 0
    for m in _LETTER.finditer(template):
        word = m.group(1) or m.group(0)
        braced = m.group(1) is not None
        if not braced and (word not in known or template[m.start() - 1 : m.start()] == "."):
            continue  # a function name, or an attribute (g.reshape, x.shape)
        pieces.append((template[pos : m.start()], False))
        label = None if braced else known[word]
        if label is None:
            pieces.append((word, True))
        else:
            before = template[: m.start()].rstrip()[-1:]
            after = template[m.end() :].lstrip()[:1]
            # a whole argument, or a whole group before a comparison: no parentheses needed
            alone = before in ("(", ",") and after in (")", ",", ">", "<", "=")
            pieces.append((_operand_text(label, alone), False))
        pos = m.end()
    pieces.append((template[pos:], False))
    return [p for p in pieces if p[0]]


def _simplified(template: str, known: dict[str, Expr | None]) -> str | None:
    values = {k: v for k, v in known.items() if v is not None}
    values["g"] = E.atom("g")
    expr = E.fill(template, values)
    return None if expr.kind == "text" else expr.render()  # text: fill() could not simplify


def _squash(text: str) -> str:
    return text.replace(" ", "")


def _merge(pieces: list[Piece]) -> list[Piece]:
    out: list[Piece] = []
    for text, generic in pieces:
        if out and not generic and not out[-1][1]:
            out[-1] = (out[-1][0] + text, False)
        else:
            out.append((text, generic))
    return out
