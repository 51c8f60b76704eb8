"""Train a small MLP on the 3-class spiral and draw its decision boundary.

What it teaches: the whole training loop on a problem you can see. A 2-64-64-3 MLP
(``nn.Sequential`` of ``Linear`` and ``ReLU``), the fused cross-entropy loss, Adam with a
cosine learning-rate schedule, mini-batches from ``data.DataLoader`` and ``train.fit``; the
"initial loss is about log C" sanity check before training; learning curves and the decision
boundary after it.

Run::

    python examples/train_spiral.py              # figures go to a new temporary directory
    python examples/train_spiral.py OUT_DIR      # or into OUT_DIR
    TINYGRAD_CE_OUT=OUT_DIR python examples/train_spiral.py

Takes about a second. Writes ``spiral_history.png`` and ``spiral_boundary.png`` (only there).
"""

from __future__ import annotations

import math
import sys

import numpy as np
from _common import output_dir

from tinygrad_ce import F, Tensor, data, nn, no_grad, optim
from tinygrad_ce.train import fit, predict


def main(argv: list[str]) -> int:
    out = output_dir(argv, __doc__, prefix="tinygrad_ce_spiral_")
    X, y = data.spiral(n_per_class=100, classes=3, noise=0.2, seed=0)
    X_train, X_test, y_train, y_test = data.train_test_split(
        X, y, test_size=0.25, seed=0, stratify=True
    )

    nn.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(2, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 3)
    )

    # Sanity check: small initial weights -> logits near 0 -> uniform softmax -> loss log C.
    with no_grad():
        initial = F.cross_entropy(model(Tensor(X_train)), y_train).item()
    print(f"initial loss {initial:.4f} (log 3 = {math.log(3):.4f})")

    opt = optim.Adam(model.parameters(), lr=0.01)
    history = fit(
        model,
        nn.CrossEntropyLoss(),
        opt,
        data.DataLoader(X_train, y_train, batch_size=32, shuffle=True, seed=0),
        val_data=(X_test, y_test),
        epochs=100,
        scheduler=optim.CosineAnnealingLR(opt, T_max=100),  # lr from 0.01 down to 0
    )
    print(
        f"after {history.epochs} epochs: train loss {history['train_loss'][-1]:.4f}, "
        f"test accuracy {history['val_acc'][-1]:.1%}"
    )

    from tinygrad_ce.plots import plot_decision_boundary, plot_history

    plot_history(history, out / "spiral_history.png")
    plot_decision_boundary(
        lambda P: predict(model, P), X, y, out / "spiral_boundary.png", title="MLP on the spiral"
    )
    print(f"figures written to {out}")
    return 0 if np.isfinite(history["train_loss"][-1]) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
