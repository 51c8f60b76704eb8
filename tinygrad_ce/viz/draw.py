"""``draw_graph``: the recorded graph as a Graphviz picture; ``render_graph`` writes it to a file.

Legend (the colours are the same in every picture)::

    rounded box, green      a leaf that needs a gradient (a parameter or an input you
                            differentiate with respect to), labelled with its name
    rounded box, blue-grey  data: a leaf or constant array that needs no gradient
    rounded box, white      an intermediate tensor, labelled with its formula when short
    rounded box, gold       the result you called draw_graph on (usually the loss)
    ellipse, orange         an op (a primitive Function: forward + VJP rule)
    double ellipse, pink    the fused SoftmaxCrossEntropy op
    small grey box          a constant that is not a Tensor (the 2 in ``x * 2``)
    grey note               "... N more nodes": the part of a big graph that was cut

Every tensor node shows its shape and dtype; edges go from inputs to the op that uses them,
and an edge into an op whose argument order matters says which argument it is (``A``/``B``
for MatMul, ``x``/``y`` for Sub; Add and Mul, where the order does not matter, get none). These
are the op's own letters, not names of yours, so they are drawn in purple italics; the same
letters appear in a rule only where an operand has no short name of its own.
"""

from __future__ import annotations

import functools
import html
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..autograd import FreedArray
from ..tensor import Tensor

if TYPE_CHECKING:
    from ..nn import Module
from .graph import Labels, forward_order
from .rules import argument_names, is_fused, named_rule_parts

FONT = "Helvetica"

# fill, border
COLORS = {
    "param": ("#dcf2dc", "#3f8f47"),
    "data": ("#e4ebf5", "#5d7394"),
    "inter": ("#ffffff", "#8d99a6"),
    "root": ("#fff0c2", "#c8950c"),
    "op": ("#ffe2c4", "#d07a26"),
    "fused": ("#fbd0dc", "#c2185b"),
    "const": ("#f3f3f3", "#a0a0a0"),
    "more": ("#f7f7f7", "#9e9e9e"),
}
SUBTLE = "#5f6b76"  # shape/dtype text
GRAD_COLOR = "#b0362b"
GENERIC_COLOR = "#7a4fa3"  # an op's own argument letters (x, y, A, B), not the user's names


INSTALL_HELP = (
    "Graphviz's `dot` program is needed to render pictures, and it was not found on PATH. "
    "Install it with `sudo apt-get install graphviz` (Debian/Ubuntu), `brew install graphviz` "
    "(macOS), `conda install graphviz`, or from https://graphviz.org/download/ (Windows: add "
    "its bin folder to PATH), or run scripts/setup.sh. The DOT text itself works without it: "
    "`draw_graph(...).source`."
)


class GraphvizNotFoundError(RuntimeError):
    """Rendering needs Graphviz's ``dot`` program and it is not installed (message says how)."""


# ---------------------------------------------------------------------------------------------
# text helpers


def _esc(text: str) -> str:
    return html.escape(str(text), quote=False)


def _shape_text(arr: Any) -> str:
    shape = tuple(int(n) for n in np.shape(arr))
    return f"{shape} {np.asarray(arr).dtype}"


def _values_text(arr: np.ndarray, max_size: int = 16) -> list[str]:
    """A few lines showing an array: all values when small, else a summary."""
    if isinstance(arr, FreedArray):
        return ["(freed by backward;", "retain_graph=True keeps it)"]
    arr = np.asarray(arr)
    if arr.size == 0:
        return ["(empty)"]
    if arr.size <= max_size:
        with np.printoptions(precision=3, suppress=True, floatmode="maxprec"):
            text = np.array2string(arr, separator=", ", max_line_width=44)
        return text.splitlines()
    a = arr.astype(np.float64)
    return [
        f"mean {a.mean():.3g}  std {a.std():.3g}",
        f"min {a.min():.3g}  max {a.max():.3g}",
    ]


def _html(lines: list[tuple[str, str]]) -> str:
    """An HTML-like Graphviz label from (kind, text) lines; kind picks the font."""
    out = []
    for kind, text in lines:
        t = _esc(text)
        if kind == "title":
            out.append(f"<b>{t}</b>")
        elif kind == "formula":
            out.append(t)
        elif kind == "small":
            out.append(f'<font point-size="9" color="{SUBTLE}">{t}</font>')
        elif kind == "rule":
            out.append(f'<font point-size="9">{t}</font>')
        elif kind == "rulehtml":  # already HTML (generic letters in italics)
            out.append(f'<font point-size="9">{text}</font>')
        elif kind == "grad":
            out.append(f'<font point-size="9" color="{GRAD_COLOR}">{t}</font>')
    return "<" + "<br/>".join(out) + ">"


# ---------------------------------------------------------------------------------------------
# the picture


@functools.cache
def _digraph_class() -> type:
    """graphviz.Digraph whose notebook display falls back to the DOT text when dot is missing."""
    import graphviz

    class GraphDrawing(graphviz.Digraph):
        def _repr_mimebundle_(self, include: Any = None, exclude: Any = None, **kw: Any) -> Any:
            try:
                return super()._repr_mimebundle_(include, exclude, **kw)
            except graphviz.ExecutableNotFound:
                return {"text/plain": INSTALL_HELP + "\n\n" + self.source}

    return GraphDrawing


def draw_graph(
    root: Tensor,
    *,
    names: dict[Tensor, str] | Module | None = None,
    show_data: bool = False,
    show_grad: bool = False,
    show_shapes: bool = True,
    rules: bool = False,
    edge_shapes: bool = False,
    compact: bool = False,
    rankdir: str = "LR",
    max_nodes: int = 200,
    legend: bool = False,
    title: str | None = None,
) -> Any:
    """Draw the graph that produced ``root``: tensors, ops, constants, and how they connect.

    Parameters
    ----------
    root : Tensor
        The result to draw back from (usually a loss).
    names : dict mapping Tensor -> str, or an nn.Module, optional
        Labels to use instead of ``tensor.name`` (a Module names its parameters as
        ``named_parameters()`` does: ``0.weight``). A named tensor that enters an op as a plain
        array (a cross-entropy target) is recognised by its data.
    show_data : bool
        Show values: all of them for arrays of at most 16 entries, else mean/std/min/max.
    show_grad : bool
        Show ``.grad`` the same way (red) where it is set, e.g. on leaves after ``backward()``.
    show_shapes : bool
        Show each tensor's shape and dtype under its name.
    rules : bool
        Write each op's VJP rule under its name, for the inputs that need a gradient, in the
        operands' own names where they are known: MatMul's declared ``dB = A^T @ g`` applied to
        ``A^T @ y`` reads ``dy = (A^T)^T @ g = A @ g``. A letter whose operand has no short
        label stays the op's own (``dx = g / x`` of Log), in purple italics.
    edge_shapes : bool
        Also write the tensor's shape on each edge into an op.
    compact : bool
        Leave out the intermediate tensor nodes: ops connect directly, with the shape of the
        tensor passed on each edge (as pytorchviz draws). Half as many nodes for long chains.
    rankdir : "LR", "TB", "RL" or "BT"
        Layout direction; "LR" (left to right) reads like the forward pass.
    max_nodes : int
        At most this many nodes are drawn, the ones nearest ``root`` first; the rest becomes
        one "... N more nodes" note. A 100,000-op chain is cut in milliseconds.
    legend : bool
        Add a small legend of node colours to the picture.
    title : str, optional
        A caption above the picture.

    Returns
    -------
    graphviz.Digraph
        ``.source`` is the DOT text (deterministic: node ids follow a breadth-first walk from
        ``root``, so the same graph gives the same text). Displays inline in Jupyter; write it
        with :func:`render_graph` (``.svg``, ``.png``, ``.pdf``) or ``.render()``.

    Raises
    ------
    TypeError if ``root`` is not a Tensor; ValueError for a bad ``rankdir`` or ``max_nodes``.

    Notes
    -----
    Legend: green rounded boxes are leaves that need a gradient, blue-grey ones data and
    constant arrays, white ones intermediate tensors, the gold one ``root``; orange ellipses
    are ops and the pink double ellipse is the fused ``SoftmaxCrossEntropy``; small grey boxes
    are non-Tensor constants (the 2 in ``x * 2``).
    """
    if not isinstance(root, Tensor):
        raise TypeError(f"draw_graph() takes a Tensor, got {type(root).__name__}")
    if rankdir not in ("LR", "TB", "RL", "BT"):
        raise ValueError(f"rankdir must be 'LR', 'TB', 'RL' or 'BT', got {rankdir!r}")
    if not isinstance(max_nodes, int) or max_nodes < 2:
        raise ValueError(f"max_nodes must be an int >= 2, got {max_nodes!r}")

    walk = _Walk(root, max_nodes)
    drawn = {id(t) for t in walk.tensors}
    labels = Labels(forward_order(root, within=drawn), names, max_len=28)

    dot = _digraph_class()(name="graph", format="svg")
    dot.attr(
        "graph",
        rankdir=rankdir,
        fontname=FONT,
        nodesep="0.25",
        ranksep="0.4",
        bgcolor="white",
        pad="0.2",
    )
    dot.attr("node", fontname=FONT, fontsize="11", style="rounded,filled", penwidth="1.3")
    dot.attr("edge", fontname=FONT, fontsize="9", color="#7b8691", arrowsize="0.7")
    if title:
        dot.attr("graph", label=_html([("title", title)]), labelloc="t", fontsize="14")

    with_op = {id(t) for t in walk.with_op}
    hidden = {
        id(t) for t in walk.tensors if compact and t is not root and id(t) in with_op
    }  # drawn as the edge out of their op
    for t in walk.tensors:
        if id(t) not in hidden:
            _tensor_node(
                dot, t, walk.ids[id(t)], labels, root, show_shapes, show_data, show_grad, compact
            )
    for t in walk.with_op:
        _op_node(dot, t, walk, labels, rules, edge_shapes or compact, show_data, hidden)
    if walk.cut:
        fill, line = COLORS["more"]
        text = [
            ("title", f"... {walk.hidden_nodes:,} more nodes"),
            ("small", f"({walk.hidden_ops:,} ops) not drawn"),
            ("small", f"max_nodes={max_nodes}"),
        ]
        dot.node(
            "more", _html(text), shape="note", style="filled,dashed", fillcolor=fill, color=line
        )
        for target in walk.cut:
            dot.edge("more", target, style="dashed")
    if legend:
        _legend(dot)
    return dot


class _Walk:
    """Breadth-first walk from the root, at most ``max_nodes`` tensor and op nodes.

    ``ids`` maps ``id(tensor)`` to its node id (``t0``, ``t1``, ... in discovery order);
    ``with_op`` lists the tensors whose op is drawn; ``cut`` the node ids that have inputs left
    out; ``hidden_nodes`` / ``hidden_ops`` count what was left out.
    """

    def __init__(self, root: Tensor, max_nodes: int) -> None:
        self.ids: dict[int, str] = {id(root): "t0"}
        self.tensors: list[Tensor] = [root]
        self.with_op: list[Tensor] = []
        self.cut: list[str] = []
        budget = max_nodes - 1
        frontier: list[Tensor] = []  # tensors whose inputs were not drawn
        i = 0
        while i < len(self.tensors):
            t = self.tensors[i]
            i += 1
            if t._ctx is None:
                continue
            if budget < 1:
                self.cut.append(self.ids[id(t)])
                frontier.append(t)
                continue
            budget -= 1
            self.with_op.append(t)
            missing = False
            for x in t._ctx.inputs:
                if not isinstance(x, Tensor) or id(x) in self.ids:
                    continue
                if budget < 1:
                    missing = True
                    continue
                budget -= 1
                self.ids[id(x)] = f"t{len(self.tensors)}"
                self.tensors.append(x)
            if missing:
                self.cut.append(f"op{self.ids[id(t)][1:]}")
                frontier.append(t)
        self.hidden_nodes, self.hidden_ops = self._count_hidden(frontier)

    def _count_hidden(self, frontier: list[Tensor]) -> tuple[int, int]:
        """(nodes, ops) reachable from the cut that are not drawn; iterative."""
        drawn_ops = {id(t) for t in self.with_op}
        tensors = ops = 0
        seen: set[int] = set()
        stack: list[Tensor] = []
        for t in frontier:
            if id(t) not in drawn_ops:
                ops += 1
            stack.extend(
                x for x in t._ctx.inputs if isinstance(x, Tensor) and id(x) not in self.ids
            )
        while stack:
            x = stack.pop()
            if id(x) in seen:
                continue
            seen.add(id(x))
            tensors += 1
            if x._ctx is not None:
                ops += 1
                stack.extend(
                    v
                    for v in x._ctx.inputs
                    if isinstance(v, Tensor) and id(v) not in self.ids and id(v) not in seen
                )
        return tensors + ops, ops


def _tensor_node(
    dot: Any,
    t: Tensor,
    node_id: str,
    labels: Labels,
    root: Tensor,
    show_shapes: bool,
    show_data: bool,
    show_grad: bool,
    compact: bool = False,
) -> None:
    if t is root:
        kind = "root"
    elif t._ctx is not None:
        kind = "inter"
    else:
        kind = "param" if t.requires_grad else "data"
    lines: list[tuple[str, str]] = []
    lab = labels.get(t)
    text = lab.render() if lab is not None else ""
    generated = text in labels.definitions or text == "..."
    if t is root and compact and not labels.is_named(t) and labels.uses_symbols(t):
        # its symbols name tensors that are not drawn: the whole formula when it fits
        text, generated = labels.full_text(t, 64) or "result", False
    if labels.is_named(t):
        lines.append(("title", text))
    elif t._ctx is None:
        lines.append(("title", text))  # t1, t2, ... for unnamed leaves
    elif generated and text != "...":
        lines.append(("title", text))  # a symbol other labels refer to (t3 = ...)
    elif text and not generated:
        lines.append(("formula", text))
    if show_shapes or not lines:
        lines.append(("small", _shape_text(t._data)))
    if show_data:
        lines.extend(("small", v) for v in _values_text(t._data))
    if show_grad and t.grad is not None:
        grad_lines = _values_text(t.grad)
        lines.append(("grad", "grad " + grad_lines[0]))
        lines.extend(("grad", v) for v in grad_lines[1:])
    fill, line = COLORS[kind]
    extra = {"penwidth": "2.2"} if kind == "root" else {}
    dot.node(node_id, _html(lines), shape="box", fillcolor=fill, color=line, **extra)


def _op_node(
    dot: Any,
    t: Tensor,
    walk: _Walk,
    labels: Labels,
    rules: bool,
    edge_shapes: bool,
    show_data: bool,
    hidden: set[int],
) -> None:
    ctx = t._ctx
    op_id = f"op{walk.ids[id(t)][1:]}"
    fused = is_fused(ctx)
    lines: list[tuple[str, str]] = [("title", ctx.name)]
    if ctx.detail():
        lines.append(("small", ctx.detail()))
    if fused:
        lines.append(("small", f"fused: {ctx.fused} in one node"))
    if rules:
        lines.extend(("rulehtml", part) for part in _rule_html(ctx, t, labels, hidden))
    fill, line = COLORS["fused" if fused else "op"]
    attrs = {"peripheries": "2", "penwidth": "1.8"} if fused else {}
    dot.node(
        op_id,
        _html(lines),
        shape="ellipse",
        style="filled",
        fillcolor=fill,
        color=line,
        margin="0.06,0.03",
        **attrs,
    )
    if id(t) not in hidden:
        dot.edge(op_id, walk.ids[id(t)])

    # edges say which argument they are where the order matters, in the names the rules use
    ordered = not ctx.commutative and (rules or bool(ctx.args))
    roles = argument_names(ctx, len(ctx.inputs)) if ordered and len(ctx.inputs) > 1 else None
    for i, x in enumerate(ctx.inputs):
        edge_text: list[tuple[str, bool]] = []
        if roles is not None:
            edge_text.append((roles[i], True))
        if isinstance(x, Tensor):
            if id(x) not in walk.ids:
                continue  # beyond the cut
            if edge_shapes:
                edge_text.append((str(tuple(x.shape)), False))
            node = walk.ids[id(x)]
            source = f"op{node[1:]}" if id(x) in hidden else node
            dot.edge(source, op_id, label=_edge_label(edge_text))
            continue
        # a constant argument: a small grey node of its own
        const_id = f"{op_id}c{i}"
        name = labels.constant_name(x)
        if name is not None:  # a named tensor's data, passed as an array
            fill, line = COLORS["data"]
            lines = [("title", name), ("small", _shape_text(x))]
            if show_data:
                lines.extend(("small", v) for v in _values_text(x))
            label = _html(lines)
            dot.node(const_id, label, shape="box", fillcolor=fill, color=line)
        else:
            fill, line = COLORS["const"]
            dot.node(
                const_id,
                _html(_const_lines(x, show_data, labels.constant(x).render())),
                shape="box",
                fillcolor=fill,
                color=line,
                fontsize="9",
                height="0.2",
                margin="0.05,0.02",
            )
        dot.edge(const_id, op_id, label=_edge_label(edge_text), style="dashed")


def _rule_html(ctx: Any, t: Tensor, labels: Labels, hidden: set[int]) -> list[str]:
    """The op's rules in its operands' names, one per input that needs a gradient (as HTML).

    A tensor not drawn (``compact``) whose label uses a symbol (``t1``) is not named in a rule:
    the symbol would point at nothing in the picture."""

    def shown(x: Tensor) -> Any:
        return None if id(x) in hidden and labels.uses_intermediate_symbols(x) else labels.get(x)

    args = [shown(x) if isinstance(x, Tensor) else labels.constant(x) for x in ctx.inputs]
    parts = named_rule_parts(ctx, args, shown(t))
    wanted = [p for p, need in zip(parts, ctx.needs, strict=True) if need] or parts[:1]
    out: list[str] = []
    for pieces in wanted:
        text = "".join(_generic(t) if generic else _esc(t) for t, generic in pieces)
        if text not in out:
            out.append(text)
    return out


def _generic(letter: str) -> str:
    """An op's own letter (not a name of yours): italic and coloured, as in the legend."""
    return f'<font color="{GENERIC_COLOR}"><i>{_esc(letter)}</i></font>'


def _edge_label(parts: list[tuple[str, bool]]) -> str | None:
    if not parts:
        return None
    if not any(generic for _, generic in parts):
        return " ".join(text for text, _ in parts)
    return "<" + " ".join(_generic(t) if g else _esc(t) for t, g in parts) + ">"


def _const_lines(x: Any, show_data: bool, symbol: str) -> list[tuple[str, str]]:
    arr = np.asarray(x)
    if arr.ndim == 0 and arr.dtype.kind in "fiub":
        return [("formula", f"{arr.item():.4g}" if arr.dtype.kind == "f" else str(arr.item()))]
    if arr.dtype == object:
        return [("formula", type(x).__name__)]
    lines: list[tuple[str, str]] = [("formula", f"{symbol}: constant"), ("small", _shape_text(arr))]
    if show_data or arr.size <= 4:
        lines.extend(("small", v) for v in _values_text(arr, max_size=8))
    return lines


def _legend(dot: Any) -> None:
    """One small table node showing what the colours mean."""
    items = [
        ("param", "leaf that needs a gradient"),
        ("data", "data / constant"),
        ("inter", "intermediate tensor"),
        ("root", "result"),
        ("op", "op (forward + VJP)"),
        ("fused", "fused loss op"),
    ]
    rows = "".join(
        f'<tr><td bgcolor="{COLORS[k][0]}" color="{COLORS[k][1]}" border="1" '
        f'style="rounded" width="18"> </td><td align="left">{_esc(text)}</td></tr>'
        for k, text in items
    )
    table = (
        '<<table border="0" cellspacing="3" cellpadding="2">'
        f'<tr><td colspan="2"><b>legend</b></td></tr>{rows}</table>>'
    )
    dot.node("legend", table, shape="box", style="rounded,dashed", color="#b0b0b0", fontsize="9")


# ---------------------------------------------------------------------------------------------
# writing files


_FORMATS = {".svg": "svg", ".png": "png", ".pdf": "pdf", ".dot": "dot", ".gv": "dot"}


def render_graph(
    dot: Any, path: str | os.PathLike, format: str | None = None, dpi: int | None = None
) -> Path:
    """Write a picture from :func:`draw_graph` to ``path`` and return the path.

    Parameters
    ----------
    dot : graphviz.Digraph
        What ``draw_graph`` returned.
    path : str or Path
        The file to write; its suffix picks the format unless ``format`` is given:
        ``.svg``, ``.png``, ``.pdf`` (rendered by Graphviz's ``dot``) or ``.dot``/``.gv``
        (the DOT text, no Graphviz needed).
    format : "svg", "png", "pdf" or "dot", optional
    dpi : int, optional
        Resolution for PNG (Graphviz's default is 96).

    Raises
    ------
    GraphvizNotFoundError (a RuntimeError) when ``dot`` is not installed, saying how to
    install it; ValueError for an unknown format.
    """
    path = Path(path)
    fmt = format or _FORMATS.get(path.suffix.lower())
    if fmt not in ("svg", "png", "pdf", "dot"):
        raise ValueError(
            f"cannot tell the format of {str(path)!r}: use a .svg, .png, .pdf or .dot file name "
            f"or pass format= (got {format!r})"
        )
    if fmt == "dot":
        path.write_text(dot.source, encoding="utf-8")
        return path
    import graphviz

    graph = dot
    if dpi is not None and fmt == "png":
        graph = dot.copy()
        graph.attr("graph", dpi=str(int(dpi)))
    try:
        data = graph.pipe(format=fmt)
    except graphviz.ExecutableNotFound:
        raise GraphvizNotFoundError(INSTALL_HELP) from None
    path.write_bytes(data)
    return path
