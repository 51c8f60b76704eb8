"""Small example graphs to draw and explain: the textbook loss and a two-layer MLP's loss.

``tinygrad-ce graph`` draws them; the tests and ``benchmarks/bench_viz.py`` use them too.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["mlp_graph", "textbook_graph"]


def textbook_graph(fused: bool = True, seed: int = 0) -> tuple[Any, dict]:
    """The textbook loss ``L = CE(softmax(A^T y), x)`` with A (4, 3), y (4,), x one-hot (3,).

    Returns ``(loss, names)``; ``names`` maps the tensors to "A", "y", "x" (and the loss to
    its formula, also when it is built from primitive ops). The gradient
    reaching ``y`` is ``A @ (softmax(A^T y) - x)``.
    """
    from tinygrad_ce import Tensor
    from tinygrad_ce import functional as F

    rng = np.random.default_rng(seed)
    A = Tensor(rng.standard_normal((4, 3)).astype(np.float32), requires_grad=True, name="A")
    y = Tensor(rng.standard_normal(4).astype(np.float32), requires_grad=True, name="y")
    x = Tensor(np.array([0.0, 1.0, 0.0], dtype=np.float32), name="x")
    loss = F.cross_entropy(A.T @ y, x, fused=fused)
    return loss, {A: "A", y: "y", x: "x", loss: "CE(softmax(A^T y), x)"}


def mlp_graph(fused: bool = True, seed: int = 0) -> tuple[Any, dict]:
    """A two-layer MLP's loss on a batch: ``CE(relu(X W1 + b1) W2 + b2, labels)``.

    X (8, 4) data, W1 (4, 16), b1 (16,), W2 (16, 3), b2 (3,), labels 8 class indices.
    """
    from tinygrad_ce import Tensor
    from tinygrad_ce import functional as F

    rng = np.random.default_rng(seed)

    def param(*shape: int, name: str) -> Tensor:
        data = (rng.standard_normal(shape) / np.sqrt(shape[0])).astype(np.float32)
        return Tensor(data, requires_grad=True, name=name)

    X = Tensor(rng.standard_normal((8, 4)).astype(np.float32), name="X")
    labels = Tensor(rng.integers(0, 3, size=8), name="labels")
    W1, b1 = param(4, 16, name="W1"), param(16, name="b1")
    W2, b2 = param(16, 3, name="W2"), param(3, name="b2")
    logits = (X @ W1 + b1).relu() @ W2 + b2
    loss = F.cross_entropy(logits, labels, fused=fused)
    names = {t: t.name for t in (X, labels, W1, b1, W2, b2)}
    names[loss] = "loss"
    return loss, names
