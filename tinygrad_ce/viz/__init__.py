"""Seeing the graph: ``draw_graph`` (a Graphviz picture), ``explain`` (the backward pass as text),
``to_html`` (a page that steps through both passes in a browser).

All three only read the recorded graph (``tensor._ctx``); none changes it or any ``.grad``
(``to_html`` runs each node's VJP once more on arrays, to show its numbers).
``graphviz`` (the Python package) is imported only when a picture is built.
"""

from .draw import GraphvizNotFoundError, draw_graph, render_graph
from .explain import explain
from .html import HtmlGraph, to_html

__all__ = ["GraphvizNotFoundError", "HtmlGraph", "draw_graph", "explain", "render_graph", "to_html"]
