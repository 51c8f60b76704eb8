"""``explain`` and ``draw_graph`` pinned byte for byte on the graphs the docs show.

The golden files in ``tests/golden/`` were written by this module (``python
tests/test_viz_golden.py``) before the ops moved into self-describing classes; the refactor had
to reproduce them exactly. A deliberate change of the pictures or texts rewrites them with the
same command and shows up in review as a diff of plain text.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from tinygrad_ce import F, Tensor, draw_graph, explain, nn

GOLDEN = Path(__file__).resolve().parent / "golden"


def textbook(fused: bool) -> tuple[Tensor, dict]:
    """CE(softmax(A^T y), x): the founding question's graph."""
    rng = np.random.default_rng(0)
    A = Tensor(rng.standard_normal((4, 3)), requires_grad=True, name="A")
    y = Tensor(rng.standard_normal(4), requires_grad=True, name="y")
    x = Tensor([0.2, 0.5, 0.3], dtype=np.float64, name="x")
    return F.cross_entropy(A.T @ y, x, fused=fused), {}


def mlp() -> tuple[Tensor, dict]:
    """A two-layer MLP's loss on a batch of labels, parameters named by the model."""
    model = nn.Sequential(nn.Linear(2, 8, rng=0), nn.ReLU(), nn.Linear(8, 3, rng=1))
    X = Tensor(np.random.default_rng(2).standard_normal((5, 2)).astype(np.float32), name="X")
    labels = np.array([0, 2, 1, 1, 0])
    return F.cross_entropy(model(X), labels), model


CASES: dict[str, Callable[[], tuple[Tensor, dict]]] = {
    "textbook_fused": lambda: textbook(True),
    "textbook_unfused": lambda: textbook(False),
    "mlp": mlp,
}


def render(case: str) -> dict[str, str]:
    loss, names = CASES[case]()
    out = {
        "explain.txt": explain(loss, names, quiet=True),
        "graph.dot": draw_graph(loss, names=names).source,
        "graph_rules.dot": draw_graph(loss, names=names, rules=True, edge_shapes=True).source,
    }
    loss.backward()
    out["graph_grad.dot"] = draw_graph(loss, names=names, show_grad=True, show_data=True).source
    return out


@pytest.mark.parametrize("case", sorted(CASES))
def test_explain_and_draw_graph_match_the_golden_files(case):
    for suffix, text in render(case).items():
        expected = (GOLDEN / f"{case}.{suffix}").read_text()
        assert text == expected, f"{case}.{suffix} differs from the golden file"


if __name__ == "__main__":  # rewrite the golden files (a deliberate change)
    GOLDEN.mkdir(exist_ok=True)
    for case in CASES:
        for suffix, text in render(case).items():
            (GOLDEN / f"{case}.{suffix}").write_text(text)
    sys.exit(0)
