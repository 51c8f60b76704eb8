"""``tinygrad-ce graph``: draw the textbook cross-entropy graph (or a small MLP's) to a file.

Examples::

    tinygrad-ce graph --out textbook.svg --rules            # CE(softmax(A^T y), x), fused
    tinygrad-ce graph --unfused --out unfused.png --explain  # the same loss from primitive ops
    tinygrad-ce graph --which mlp --out mlp.pdf
    tinygrad-ce graph --html textbook.html                  # step through backward in a browser
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .argtypes import check_output_file, non_negative_int

_SUFFIXES = (".svg", ".png", ".pdf", ".dot", ".gv")
_HTML = (".html", ".htm")


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``graph`` subcommand."""
    parser = subparsers.add_parser(
        "graph",
        help="draw the cross-entropy graph (textbook or MLP) to SVG/PNG/PDF/DOT",
        description=(
            "Draw the computation graph of the textbook loss CE(softmax(A^T y), x) (fused: one "
            "SoftmaxCrossEntropy node; unfused: primitive ops) or of a small MLP's loss. The "
            "file format follows the --out suffix: .svg, .png, .pdf (need Graphviz's dot) or "
            ".dot (the DOT text)."
        ),
    )
    parser.add_argument(
        "--which",
        choices=("textbook", "textbook-fused", "textbook-unfused", "mlp"),
        default="textbook",
        help="which graph (default: textbook)",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--fused", dest="fused", action="store_true", default=None, help="fused loss (default)"
    )
    mode.add_argument(
        "--unfused", dest="fused", action="store_false", help="loss built from primitive ops"
    )
    parser.add_argument(
        "--out",
        default=None,
        help="output file, .svg/.png/.pdf/.dot (default graph.svg, or none when --html is given)",
    )
    parser.add_argument(
        "--html",
        default=None,
        metavar="OUT.html",
        help="write a self-contained page that steps through the forward and backward pass",
    )
    parser.add_argument("--rules", action="store_true", help="write each op's VJP rule")
    parser.add_argument("--explain", action="store_true", help="also print explain()'s text")
    parser.add_argument("--show-data", action="store_true", help="show values (small arrays)")
    parser.add_argument(
        "--show-grad", action="store_true", help="run backward() and show the leaves' gradients"
    )
    parser.add_argument("--edge-shapes", action="store_true", help="write shapes on edges")
    parser.add_argument(
        "--compact", action="store_true", help="no intermediate tensor nodes (shapes on edges)"
    )
    parser.add_argument("--legend", action="store_true", help="add a colour legend")
    parser.add_argument("--rankdir", choices=("LR", "TB"), default="LR", help="layout direction")
    parser.add_argument("--max-nodes", type=int, default=200, help="draw at most N nodes")
    parser.add_argument("--dpi", type=int, default=None, help="PNG resolution (default 96)")
    parser.add_argument("--title", default=None, help="a caption above the picture")
    parser.add_argument(
        "--seed", type=non_negative_int, default=0, help="seed for the example's values"
    )
    parser.set_defaults(func=run, _parser=parser)
    return parser


def run(args: argparse.Namespace) -> int:
    parser = args._parser
    out = None
    if args.out is not None or args.html is None:
        out = check_output_file(parser.error, "--out", args.out or "graph.svg", _SUFFIXES)
    page = (
        None if args.html is None else check_output_file(parser.error, "--html", args.html, _HTML)
    )
    if args.max_nodes < 2:
        parser.error(f"--max-nodes must be at least 2, got {args.max_nodes}")
    if args.dpi is not None and not 10 <= args.dpi <= 1200:
        parser.error(f"--dpi must be between 10 and 1200, got {args.dpi}")
    which = args.which
    fused = args.fused
    if which.startswith("textbook-"):
        implied = which == "textbook-fused"
        if fused is not None and fused != implied:
            parser.error(f"--which {which} contradicts --{'fused' if fused else 'unfused'}")
        fused, which = implied, "textbook"
    fused = True if fused is None else fused

    from tinygrad_ce.example_graphs import mlp_graph, textbook_graph
    from tinygrad_ce.viz import GraphvizNotFoundError, draw_graph, explain, render_graph

    build = textbook_graph if which == "textbook" else mlp_graph
    loss, names = build(fused=fused, seed=args.seed)
    kind = "fused" if fused else "unfused"
    if page is not None:
        if not _write_page(loss, names, page, args):
            return 1
        print(
            f"wrote {page} ({which}, {kind} loss = {float(loss.item()):.4f}): open it in a browser",
            file=sys.stderr,
        )
        if out is None:
            if args.explain:
                explain(loss, names=names)
            return 0
    if args.show_grad:
        loss.backward()
    dot = draw_graph(
        loss,
        names=names,
        rules=args.rules,
        show_data=args.show_data,
        show_grad=args.show_grad,
        edge_shapes=args.edge_shapes,
        compact=args.compact,
        legend=args.legend,
        rankdir=args.rankdir,
        max_nodes=args.max_nodes,
        title=args.title,
    )
    if args.explain:
        explain(loss, names=names)
    try:
        render_graph(dot, out, dpi=args.dpi)
    except GraphvizNotFoundError as err:
        print(f"tinygrad-ce graph: error: {err}", file=sys.stderr)
        return 1
    except OSError as err:
        print(
            f"tinygrad-ce graph: error: cannot write {out}: {err.strerror or err}", file=sys.stderr
        )
        return 1
    print(f"wrote {out} ({which}, {kind} loss = {float(loss.item()):.4f})", file=sys.stderr)
    return 0


def _write_page(loss: Any, names: dict, page: Any, args: argparse.Namespace) -> bool:
    """The stepper page (``viz.to_html``); False, with the reason on stderr, if it failed."""
    from tinygrad_ce.viz import to_html

    try:
        to_html(loss, page, names, max_nodes=args.max_nodes, rankdir=args.rankdir, title=args.title)
    except OSError as err:
        print(
            f"tinygrad-ce graph: error: cannot write {page}: {err.strerror or err}", file=sys.stderr
        )
        return False
    return True
