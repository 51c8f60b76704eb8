"""Draw the graph of L = CE(softmax(A^T y), x), fused and unfused, and explain its backward pass.

What it teaches: what the engine records. ``draw_graph`` turns the graph behind a loss into a
Graphviz picture (green: leaves that need a gradient, orange: ops with their VJP rule, pink:
the fused SoftmaxCrossEntropy node); ``explain`` prints the backward pass one VJP at a time,
ending with ``dL/dy = A @ (softmax(A^T y) - x)``. The unfused version of the same loss shows
the dozen primitive ops that the fused node replaces.

Run::

    python examples/draw_graph.py              # pictures go to a new temporary directory
    python examples/draw_graph.py OUT_DIR      # or into OUT_DIR
    TINYGRAD_CE_OUT=OUT_DIR python examples/draw_graph.py

Writes ``ce_fused.svg``/``.png`` and ``ce_unfused.svg``/``.png``. Without Graphviz's ``dot``
program it writes the DOT text (``.dot``) instead and says how to install Graphviz.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from _common import output_dir

from tinygrad_ce import F, Tensor, draw_graph, explain
from tinygrad_ce.viz import GraphvizNotFoundError, render_graph


def textbook_loss(fused: bool) -> tuple[Tensor, dict[Tensor, str], Tensor, Tensor]:
    """L = CE(softmax(A^T y), x) with A (4, 3), y (4,) and a target distribution x (3,)."""
    rng = np.random.default_rng(0)
    A = Tensor(rng.standard_normal((4, 3)), requires_grad=True, name="A")
    y = Tensor(rng.standard_normal(4), requires_grad=True, name="y")
    x = Tensor(np.array([0.2, 0.7, 0.1]), name="x")
    loss = F.cross_entropy(A.T @ y, x, fused=fused)
    return loss, {x: "x"}, A, y


def save(dot: object, stem: Path) -> list[Path]:
    """Write ``stem.svg`` and ``stem.png``; fall back to ``stem.dot`` without Graphviz."""
    try:
        return [
            render_graph(dot, stem.with_suffix(".svg")),
            render_graph(dot, stem.with_suffix(".png")),
        ]
    except GraphvizNotFoundError as err:
        print(f"note: {err}")
        return [render_graph(dot, stem.with_suffix(".dot"))]


def main(argv: list[str]) -> int:
    out = output_dir(argv, __doc__, prefix="tinygrad_ce_graph_")
    written = []

    loss, names, A, y = textbook_loss(fused=True)
    explain(loss, names=names)
    written += save(draw_graph(loss, names=names, rules=True, legend=True), out / "ce_fused")

    # the check that the story is right: the gradient reaching y is A (softmax(A^T y) - x)
    loss.backward()
    x = np.array([0.2, 0.7, 0.1])
    expected = A.data @ (F.softmax(A.T @ y).data - x)
    print(f"\nmax |y.grad - A (softmax(A^T y) - x)| = {np.abs(y.grad - expected).max():.1e}")

    unfused, names, _, _ = textbook_loss(fused=False)
    written += save(draw_graph(unfused, names=names, rankdir="TB"), out / "ce_unfused")

    print("\nwritten:")
    for path in written:
        print(f"  {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
