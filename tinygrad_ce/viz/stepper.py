"""The numbers behind the HTML stepper: a forward and a backward pass, recorded step by step.

:func:`record_steps` walks a recorded graph the way ``backward()`` does (the engine's own
``topological_order``, reversed, over inputs that need a gradient) and calls each node's real
VJP rule on arrays, writing down at every step the upstream gradient that arrived, the rule in
the operands' names, what was sent to each input and the running gradient of every leaf. The
result is plain data (lists, numbers, strings) that ``to_html`` embeds as JSON: the page only
displays it, so every number a learner sees was computed by the engine's rules in Python.

Nothing here changes the graph or any ``.grad``.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np

from .. import autograd
from .. import symbolic as E
from ..tensor import Tensor
from .graph import Labels
from .rules import Piece, backward_exprs, named_rule_parts

MAX_VALUES = 16  # arrays with at most this many entries are shown in full


def array_info(arr: Any, max_values: int = MAX_VALUES) -> dict[str, Any]:
    """An array as JSON-ready data: shape, dtype, and its values (small) or a summary (large).

    Non-finite numbers become the strings ``"nan"``, ``"inf"``, ``"-inf"`` (JSON has none).
    """
    a = np.asarray(arr)
    info: dict[str, Any] = {"shape": [int(n) for n in a.shape], "dtype": str(a.dtype)}
    if a.size <= max_values:
        info["values"] = _json_numbers(a.tolist())
    else:
        f = a.astype(np.float64)
        info["summary"] = {
            k: _json_number(float(v))
            for k, v in (("mean", f.mean()), ("std", f.std()), ("min", f.min()), ("max", f.max()))
        }
    return info


def _json_number(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
    return v


def _json_numbers(v: Any) -> Any:
    if isinstance(v, list):
        return [_json_numbers(x) for x in v]
    return _json_number(v)


def _pieces(pieces: list[Piece]) -> list[list[Any]]:
    return [[text, generic] for text, generic in pieces]


def record_steps(
    root: Tensor,
    labels: Labels,
    ids: dict[int, str],
    max_values: int = MAX_VALUES,
) -> dict[str, Any]:
    """The forward and backward pass of ``root`` as a list of steps (JSON-ready).

    Parameters
    ----------
    root : Tensor
        The result (usually a scalar loss). A root of more than one entry is seeded with ones.
    labels : Labels
        The names of the tensors (as the picture shows them).
    ids : dict id(tensor) -> node id
        The picture's node ids (``t3``; its op is ``op3``). A tensor not in ``ids`` was cut
        from the picture; its steps are still recorded, with ``node`` set to None.

    Returns
    -------
    dict with ``steps`` (the intro, one step per op forward, the seed, one step per VJP in the
    engine's order, the end), ``leaves`` (every leaf that receives a gradient: node id, label,
    shape) and ``grads`` (each leaf's final gradient, keyed like ``leaves``).
    """
    order = autograd.topological_order(root)
    forward_ops = [t for t in order if t._ctx is not None]
    freed = next((t._ctx.name for t in forward_ops if t._ctx.freed), None)
    if freed is not None:  # the page replays every rule on the values the ops saved
        raise RuntimeError(
            f"to_html needs the values the graph saved, and a backward pass freed them (at "
            f"{freed}): call to_html before backward(), or pass backward(retain_graph=True)"
        )
    steps: list[dict[str, Any]] = []
    leaves_in = [t for t in order if t._ctx is None]
    steps.append(
        {
            "phase": "intro",
            "title": "The inputs",
            "text": f"{len(leaves_in)} leaves, {len(forward_ops)} ops. Step forward to compute "
            "the value of each op in turn, then backward to see each VJP.",
            "values": [_described(x, labels, ids, max_values) for x in leaves_in],
        }
    )
    for t in forward_ops:
        ctx = t._ctx
        if id(t) not in ids:  # beyond the picture's cut: one collapsed step
            if steps[-1]["phase"] != "cut":
                steps.append({"phase": "cut", "title": "", "count": 0})
            steps[-1]["count"] += 1
            steps[-1]["title"] = f"{steps[-1]['count']} forward steps beyond the cut"
            continue
        steps.append(
            {
                "phase": "forward",
                "title": f"forward: {ctx.name}",
                "node": ids.get(id(t)),
                "op": _op_id(ids.get(id(t))),
                "reads": [ids.get(id(x)) for x in ctx.inputs if isinstance(x, Tensor)],
                "declared": _pieces(_declared(ctx)),
                "values": [_described(t, labels, ids, max_values)],
            }
        )
    whole = all(id(t) in ids for t in order)  # nothing cut: every gradient gets its formula
    backward = _backward_steps(root, labels, ids, max_values, whole)
    steps.extend(backward["steps"])
    return {"steps": steps, "leaves": backward["leaves"], "grads": backward["grads"]}


def _backward_steps(
    root: Tensor, labels: Labels, ids: dict[int, str], max_values: int, whole: bool
) -> dict[str, Any]:
    steps: list[dict[str, Any]] = []
    if not root.requires_grad:
        steps.append(
            {
                "phase": "done",
                "title": "no backward pass",
                "text": "Nothing here requires a gradient, so backward() has nothing to do.",
            }
        )
        return {"steps": steps, "leaves": [], "grads": {}}
    seed = np.ones(root.shape, root.dtype)
    order = list(reversed(autograd.topological_order(root, autograd.differentiable_inputs)))
    leaves = [t for t in order if t._ctx is None]
    keys = {id(t): _leaf_key(t, ids, i) for i, t in enumerate(leaves)}
    steps.append(
        {
            "phase": "seed",
            "title": "backward() starts",
            "node": ids.get(id(root)),
            "text": (
                "g = 1 at the root: dL/dL = 1."
                if root.size == 1
                else "g = ones of the root's shape (backward(grad=...) would take it from you)."
            ),
            "upstream": array_info(seed, max_values),
        }
    )
    grads: dict[int, Any] = {id(root): seed}
    running: dict[str, Any] = {}
    formulas = _Formulas(root, labels) if whole else None
    k = 0
    for t in order:
        g = grads.pop(id(t), None)
        if g is None or t._ctx is None:
            continue
        ctx = t._ctx
        k += 1
        with autograd.no_grad():
            sent = ctx.backward(g, t._data, *ctx.arrays)
        node = ids.get(id(t))
        rules = None  # a step beyond the picture's cut is only counted: no rules, no values
        if node is not None:
            args = [
                labels.get(x) if isinstance(x, Tensor) else labels.constant(x) for x in ctx.inputs
            ]
            rules = named_rule_parts(ctx, args, labels.get(t))
        sends, updates = [], {}
        g_text, sent_formulas = formulas.step(t, k) if formulas else ("", [])
        for i, (x, need, gx) in enumerate(zip(ctx.inputs, ctx.needs, sent, strict=True)):
            if not need or gx is None:
                continue
            gx = autograd.fit_gradient(gx, x._data)
            again = id(x) in grads
            grads[id(x)] = gx if not again else grads[id(x)] + gx
            if x._ctx is None:  # the leaf's running gradient: what .grad will receive
                running[keys[id(x)]] = grads[id(x)]
                updates[keys[id(x)]] = array_info(grads[id(x)], max_values)
            if rules is None:
                continue
            sends.append(
                {
                    "to": ids.get(id(x)),
                    "label": _text(labels, x),
                    "rule": _pieces(rules[i]),
                    "adds": bool(again),
                    "jacobian": int(t.size) * int(x.size),
                    "value": array_info(gx, max_values),
                    "formula": sent_formulas[i] if sent_formulas else "",
                }
            )
        if node is None:  # beyond the picture's cut: one collapsed step
            if not steps or steps[-1]["phase"] != "cut":
                steps.append({"phase": "cut", "title": "", "count": 0, "leaf_updates": {}})
            steps[-1]["count"] += 1
            steps[-1]["title"] = f"{steps[-1]['count']} backward steps beyond the cut"
            steps[-1]["leaf_updates"].update(updates)
            continue
        steps.append(
            {
                "phase": "backward",
                "title": f"backward step {k}: {ctx.name}",
                "k": k,
                "node": node,
                "op": _op_id(node),
                "label": _text(labels, t),
                "upstream": array_info(g, max_values),
                "g": g_text,
                "sends": sends,
                "leaf_updates": updates,
            }
        )
    steps.append(
        {
            "phase": "done",
            "title": "done",
            "text": f"{k} VJPs ran, each once, outputs before inputs. backward() would now add "
            "these gradients to each leaf's .grad. No Jacobian was built.",
        }
    )
    leaf_info = [
        {
            "key": keys[id(t)],
            "node": ids.get(id(t)),
            "label": _text(labels, t),
            "shape": [int(n) for n in t.shape],
        }
        for t in leaves
    ]
    final = {key: _json_numbers(np.asarray(v).tolist()) for key, v in running.items()}
    return {"steps": steps, "leaves": leaf_info, "grads": final}


def _declared(ctx: Any) -> list[Piece]:
    """The op's forward as it declares it (``Z = A @ B``), its letters marked as its own."""
    letters = set(ctx.args) | {ctx.output}
    text = f"{ctx.output} = {ctx.formula}" if ctx.formula else ctx.name
    pieces: list[Piece] = []
    pos = 0
    for m in re.finditer(r"[A-Za-z_]\w*", text):
        if m.group(0) in letters and text[m.start() - 1 : m.start()] != ".":
            pieces += [(text[pos : m.start()], False), (m.group(0), True)]
            pos = m.end()
    pieces.append((text[pos:], False))
    return [p for p in pieces if p[0]]


class _Formulas:
    """Each gradient as a formula in the tensors' names, as ``explain`` writes it.

    Only for a graph drawn whole (every tensor has a label). A formula longer than
    ``max_len`` characters is named after its step (``g6``), as ``explain`` does.
    """

    def __init__(self, root: Tensor, labels: Labels, max_len: int = 72) -> None:
        self.labels, self.max_len = labels, max_len
        self.grads: dict[int, Any] = {id(root): E.ONE if root.size == 1 else E.atom("g")}

    def step(self, t: Tensor, k: int) -> tuple[str, list[str]]:
        """``g`` arriving at ``t`` (step ``k``) and ``dL/d(input) = ...`` for each input."""
        labels, ctx = self.labels, t._ctx
        g = self.grads.pop(id(t), E.atom("0"))
        g_text = g.render()
        if len(g_text) > self.max_len // 2:
            g_text, g = f"{g_text}   (call it g{k})", E.atom(f"g{k}")
        args = [labels.get(x) if isinstance(x, Tensor) else labels.constant(x) for x in ctx.inputs]
        sent = backward_exprs(ctx, g, args, labels[t], labels.constant_name)
        out = []
        for x, need, d in zip(ctx.inputs, ctx.needs, sent, strict=True):
            if not need or d is None:
                out.append("")
                continue
            prev = self.grads.get(id(x))
            self.grads[id(x)] = d if prev is None else E.add(prev, d)
            text = d.render()
            op = "+=" if prev is not None else "="
            out.append(
                f"dL/d{_wrapped(labels[x])} {op} {text}" if len(text) <= 3 * self.max_len else ""
            )
        return g_text, out


def _wrapped(label: Any) -> str:
    text = label.render()
    return text if text.isidentifier() else f"({text})"


def _described(t: Tensor, labels: Labels, ids: dict[int, str], max_values: int) -> dict:
    return {"node": ids.get(id(t)), "label": _text(labels, t), **array_info(t._data, max_values)}


def _text(labels: Labels, t: Tensor) -> str:
    lab = labels.get(t)
    return lab.render() if lab is not None else "(not drawn)"


def _op_id(node: str | None) -> str | None:
    return None if node is None else f"op{node[1:]}"


def _leaf_key(t: Tensor, ids: dict[int, str], i: int) -> str:
    return ids.get(id(t)) or f"leaf{i}"
