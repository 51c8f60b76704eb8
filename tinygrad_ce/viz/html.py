"""``to_html``: one self-contained page that steps through the forward and backward pass.

The page holds the Graphviz picture (inline SVG), the numbers of every step as JSON (computed
here, in Python, by running each node's real VJP rule: see ``stepper.py``), and a little CSS and
JavaScript that only display them. No network, no CDN: it opens from disk in any browser, and
in Jupyter the returned object displays inline.
"""

from __future__ import annotations

import html
import json
import os
import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..tensor import Tensor
from .draw import INSTALL_HELP, _Walk, draw_graph
from .graph import Labels, forward_order
from .stepper import MAX_VALUES, record_steps

if TYPE_CHECKING:
    from ..nn import Module

_HERE = Path(__file__).resolve().parent


class HtmlGraph:
    """The stepper page ``to_html`` built: ``.html`` (the text), ``.path`` (where it was written,
    or None), ``.data`` (the steps, as embedded). Displays inline in Jupyter."""

    def __init__(self, page: str, data: dict[str, Any], path: Path | None) -> None:
        self.html = page
        self.data = data
        self.path = path

    def save(self, path: str | os.PathLike) -> Path:
        """Write the page to ``path`` (UTF-8) and return the path."""
        self.path = Path(path)
        self.path.write_text(self.html, encoding="utf-8")
        return self.path

    def _repr_html_(self) -> str:
        # an iframe keeps the page's script and styles apart from the notebook's
        doc = html.escape(self.html, quote=True)
        return (
            f'<iframe srcdoc="{doc}" style="width:100%;height:720px;border:1px solid #ddd" '
            'sandbox="allow-scripts"></iframe>'
        )

    def __repr__(self) -> str:
        where = f" written to {str(self.path)!r}" if self.path else ""
        return f"<HtmlGraph: {len(self.data['steps'])} steps{where}>"


def to_html(
    root: Tensor,
    path: str | os.PathLike | None = None,
    names: dict[Tensor, str] | Module | None = None,
    *,
    max_nodes: int = 80,
    max_values: int = MAX_VALUES,
    rankdir: str = "LR",
    title: str | None = None,
) -> HtmlGraph:
    """Build (and with ``path``, write) a page that steps through the passes of ``root``.

    The page shows the graph (as ``draw_graph`` draws it) and a stepper: the forward pass op by
    op with values, then the backward pass in the order ``backward()`` runs it. Each backward
    step highlights the op, shows the upstream gradient ``g`` that arrived (its shape, and its
    values when it has at most ``max_values`` entries), the VJP rule in the operands' own names
    (``dy = (A^T)^T @ g = A @ g``) and the gradient sent to each input; a side panel keeps the
    running gradient of every leaf. Keys: right/left arrows step, Home/End jump to the first/last
    step, space plays.

    Parameters
    ----------
    root : Tensor
        The result to step through (usually a scalar loss; a larger one is seeded with ones).
    path : str or Path, optional
        Where to write the page (``.html``).
    names : dict mapping Tensor -> str, or an nn.Module, optional
        Labels, as for ``draw_graph`` and ``explain``.
    max_nodes : int
        At most this many nodes are drawn, as in ``draw_graph``; the steps of the part that is
        cut are collapsed into one step each way, with a note.
    max_values : int
        Arrays with at most this many entries are shown in full, larger ones as mean/std/min/max.
    rankdir : "LR" or "TB"
        Layout direction of the picture.
    title : str, optional
        A heading for the page.

    Returns
    -------
    HtmlGraph
        ``.html`` is the page; in Jupyter it displays inline (in an iframe).

    Notes
    -----
    Every number on the page was computed in Python by calling each node's ``backward`` on
    arrays, in the engine's order; the page's script only shows them. Nothing changes the
    graph or any ``.grad``. Without Graphviz's ``dot`` the page says so and lists the nodes
    instead of drawing them; the stepper works the same.
    """
    if not isinstance(root, Tensor):
        raise TypeError(f"to_html() takes a Tensor, got {type(root).__name__}")
    if not isinstance(max_nodes, int) or max_nodes < 2:
        raise ValueError(f"max_nodes must be an int >= 2, got {max_nodes!r}")
    walk = _Walk(root, max_nodes)
    labels = Labels(forward_order(root, within={id(t) for t in walk.tensors}), names, max_len=28)
    data = record_steps(root, labels, walk.ids, max_values)
    data["cut"] = walk.hidden_nodes if walk.cut else 0
    dot = draw_graph(root, names=names, max_nodes=max_nodes, rankdir=rankdir)
    picture, note = _svg(dot)
    if picture is None:
        picture = _list_layout(walk, labels)
    page = _page(data, picture, note, title or f"Backpropagation through {labels.text(root)}")
    result = HtmlGraph(page, data, None)
    if path is not None:
        result.save(path)
    return result


def _svg(dot: Any) -> tuple[str | None, str]:
    """The picture as inline SVG (node groups tagged ``data-node``), or None and a note."""
    import graphviz

    try:
        svg = dot.pipe(format="svg").decode("utf-8")
    except graphviz.ExecutableNotFound:
        return None, INSTALL_HELP + " Meanwhile the nodes are listed below, in forward order."
    svg = svg[svg.index("<svg") :]
    svg = re.sub(
        r'<g id="(?:node|edge)\d+" class="(node|edge)">\s*<title>([^<]*)</title>',
        _tag_group,
        svg,
    )
    return svg, ""


def _tag_group(m: re.Match) -> str:
    kind, title = m.group(1), html.unescape(m.group(2))
    if kind == "node":
        return f'<g class="node" data-node="{html.escape(title)}"><title>{m.group(2)}</title>'
    source, _, target = title.partition("->")
    return (
        f'<g class="edge" data-from="{html.escape(source.split(":")[0])}" '
        f'data-to="{html.escape(target.split(":")[0])}"><title>{m.group(2)}</title>'
    )


def _list_layout(walk: _Walk, labels: Labels) -> str:
    """Without Graphviz: the nodes as a list in forward order, each tagged like the SVG's."""
    items = []
    with_op = {id(t) for t in walk.with_op}
    for t in reversed(walk.tensors):
        node = walk.ids[id(t)]
        if id(t) in with_op:
            items.append(
                f'<li class="node op" data-node="op{node[1:]}">{html.escape(t._ctx.name)}</li>'
            )
        lab = labels.get(t)
        text = lab.render() if lab is not None else "..."
        items.append(
            f'<li class="node tensor" data-node="{node}">{html.escape(text)} '
            f"<small>{tuple(t.shape)}</small></li>"
        )
    return '<ol class="list-layout">' + "".join(items) + "</ol>"


@cache
def _asset(name: str) -> str:
    return (_HERE / name).read_text(encoding="utf-8")


def _page(data: dict[str, Any], picture: str, note: str, title: str) -> str:
    payload = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    cut = ""
    if data.get("cut"):
        cut = (
            f'<p class="note">A large graph: {data["cut"]:,} nodes are not drawn (max_nodes); '
            "their steps are collapsed into one step each way.</p>"
        )
    note_html = f'<p class="note">{html.escape(note)}</p>' if note else ""
    parts = {
        "title": html.escape(title),
        "css": _asset("stepper.css"),
        "notes": note_html + cut,
        "picture": picture,
        "data": payload,
        "js": _asset("stepper.js"),
    }
    return re.sub(r"\{\{(\w+)\}\}", lambda m: parts[m.group(1)], _asset("stepper.html"))
