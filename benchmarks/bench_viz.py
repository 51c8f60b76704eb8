"""How long drawing and explaining take, next to the computation they describe, in one run.

For each graph the table gives the median time of building it (the forward pass that records
it), of ``loss.backward()``, of ``draw_graph`` (DOT text only), of ``explain`` and, for the small
graphs, of rendering an SVG with Graphviz's ``dot``; the ratio column is draw_graph / forward.

    python benchmarks/bench_viz.py            # all cases
    python benchmarks/bench_viz.py --quick    # fewer repeats
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench_engine import median_time  # noqa: E402  # same timer as the engine benchmark

from tinygrad_ce import Tensor  # noqa: E402
from tinygrad_ce.example_graphs import mlp_graph, textbook_graph  # noqa: E402
from tinygrad_ce.viz import draw_graph, explain  # noqa: E402


def chain(n: int) -> tuple[Tensor, dict]:
    x = Tensor(np.float32(1.0), requires_grad=True, name="x")
    y = x
    for _ in range(n):
        y = y * 1.0001
    return y, {}


def fmt(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds * 1e3:9.2f} ms" if seconds < 10 else f"{seconds:8.1f} s "


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    args = parser.parse_args()
    big_repeats = 1 if args.quick else 3
    small_repeats = 5 if args.quick else 30
    have_dot = shutil.which("dot") is not None

    cases = [
        ("textbook, fused", lambda: textbook_graph(True), small_repeats, True),
        ("textbook, unfused", lambda: textbook_graph(False), small_repeats, True),
        ("MLP 4-16-3, batch 8, fused", lambda: mlp_graph(True), small_repeats, True),
        ("MLP 4-16-3, batch 8, unfused", lambda: mlp_graph(False), small_repeats, True),
        ("chain of 100,000 Mul ops", lambda: chain(100_000), big_repeats, False),
    ]
    header = (
        f"{'graph':30} {'ops':>7} {'forward':>12} {'backward':>12} {'draw_graph':>12} "
        f"{'draw/fwd':>9} {'explain':>12} {'render svg':>12}"
    )
    print(header)
    print("-" * len(header))
    for title, build, repeats, render in cases:
        forward = median_time(build, repeats)
        loss, names = build()
        n_ops = _count_ops(loss)
        backward = median_time(lambda loss=loss: loss.backward(), repeats)
        draw = median_time(lambda loss=loss, names=names: draw_graph(loss, names=names), repeats)
        expl = median_time(
            lambda loss=loss, names=names: explain(loss, names=names, quiet=True), repeats
        )
        svg = None
        if render and have_dot:
            dot = draw_graph(loss, names=names, rules=True)
            svg = median_time(lambda dot=dot: dot.pipe(format="svg"), max(3, repeats // 5))
        print(
            f"{title:30} {n_ops:>7,} {fmt(forward):>12} {fmt(backward):>12} {fmt(draw):>12} "
            f"{draw / forward:>8.2f}x {fmt(expl):>12} {fmt(svg):>12}"
        )
    print()
    print("draw_graph stops at max_nodes=200 (the chain becomes 200 nodes and a '... more' note);")
    print("it still walks the whole graph once to count what it left out. explain walks it all.")


def _count_ops(root: Tensor) -> int:
    seen: set[int] = set()
    stack = [root]
    ops = 0
    while stack:
        t = stack.pop()
        if t._ctx is None or id(t) in seen:
            continue
        seen.add(id(t))
        ops += 1
        stack.extend(x for x in t._ctx.inputs if isinstance(x, Tensor))
    return ops


if __name__ == "__main__":
    main()
