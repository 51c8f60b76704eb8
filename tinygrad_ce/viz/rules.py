"""What a recorded op node says about itself, read generically: viewers keep no table of ops.

Every op declares its argument names, formula and VJP rules on its class (see
``autograd.Function``); ``explain`` and ``draw_graph`` read them here. A user's op that declares
nothing is shown by its class name, with ``Name_vjp(g)`` for its gradients.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import symbolic as E
from ..autograd import Namer
from ..symbolic import Expr

NO_RULE = "(no rule declared)"


def is_fused(fn: Any) -> bool:
    """True for a node that stands for several textbook ops (drawn so that it stands out)."""
    return bool(fn.fused)


def rule_lines(fn: Any) -> list[str]:
    """The VJP rules shown on an op node, one line per argument (``dA = g @ B^T``)."""
    return list(fn.rules()) or [NO_RULE]


def rule_parts(fn: Any, n_inputs: int) -> list[str]:
    """One rule per input; when the op declares another number, its whole rule for each."""
    parts = rule_lines(fn)
    if len(parts) != n_inputs:
        return [",  ".join(parts)] * n_inputs
    return parts


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
