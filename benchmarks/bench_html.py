"""How long ``to_html`` takes, next to the ``backward()`` it records, in one run.

For each graph: the median time of ``loss.backward()``, of the stepper's recording walk alone
(``record_steps``: every VJP run once more on arrays, every number written down), of the whole
``to_html`` (the walk, the Graphviz SVG when ``dot`` is installed, the page), the ratios
walk / backward and to_html / backward, and the page's size.

    python benchmarks/bench_html.py            # all cases
    python benchmarks/bench_html.py --quick    # fewer repeats
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench_engine import median_time  # noqa: E402  # same timer as the engine benchmark
from bench_viz import chain, fmt  # noqa: E402

from tinygrad_ce.cli.graph import mlp_graph, textbook_graph  # noqa: E402
from tinygrad_ce.viz import to_html  # noqa: E402
from tinygrad_ce.viz.draw import _Walk  # noqa: E402
from tinygrad_ce.viz.graph import Labels, forward_order  # noqa: E402
from tinygrad_ce.viz.stepper import record_steps  # noqa: E402


def walk_only(loss, names) -> None:
    walk = _Walk(loss, 80)
    labels = Labels(forward_order(loss, within={id(t) for t in walk.tensors}), names, max_len=28)
    record_steps(loss, labels, walk.ids)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    args = parser.parse_args()
    small, big = (5, 1) if args.quick else (20, 3)
    cases = [
        ("textbook, fused", lambda: textbook_graph(True), small),
        ("textbook, unfused", lambda: textbook_graph(False), small),
        ("MLP 4-16-3, batch 8, fused", lambda: mlp_graph(True), small),
        ("MLP 4-16-3, batch 8, unfused", lambda: mlp_graph(False), small),
        ("chain of 100,000 Mul ops", lambda: chain(100_000), big),
    ]
    print(
        f"{'graph':30} {'backward':>12} {'walk':>12} {'walk/bwd':>9} {'to_html':>12} "
        f"{'html/bwd':>9} {'page':>9}"
    )
    for name, build, repeats in cases:
        loss, names = build()
        backward = median_time(loss.backward, repeats)
        walk = median_time(lambda loss=loss, names=names: walk_only(loss, names), repeats)
        page = to_html(loss, names=names)
        whole = median_time(lambda loss=loss, names=names: to_html(loss, names=names), repeats)
        print(
            f"{name:30} {fmt(backward)} {fmt(walk)} {walk / backward:8.1f}x {fmt(whole)} "
            f"{whole / backward:8.1f}x {len(page.html) / 1024:7.1f} kB"
        )
    print("to_html draws at most max_nodes=80 nodes; the walk still runs every VJP of the graph.")


if __name__ == "__main__":
    main()
