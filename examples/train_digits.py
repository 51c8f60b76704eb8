"""Train an MLP on the bundled 8x8 digits and look at the mistakes it makes.

What it teaches: a realistic small classification workflow. Stratified train/test split,
standardizing with statistics of the training part only, a 64-64-10 MLP trained with Adam on
the fused cross-entropy, the "initial loss is about log 10" check, test accuracy, a confusion
matrix, and the misclassified images themselves.

Run::

    python examples/train_digits.py              # figures go to a new temporary directory
    python examples/train_digits.py OUT_DIR      # or into OUT_DIR
    TINYGRAD_CE_OUT=OUT_DIR python examples/train_digits.py

Takes a second or two. Writes ``digits_history.png`` and ``digits_mistakes.png`` (only there).
"""

from __future__ import annotations

import math
import sys

import numpy as np
from _common import output_dir

from tinygrad_ce import F, Tensor, data, nn, no_grad, optim
from tinygrad_ce.train import evaluate, fit, predict


def main(argv: list[str]) -> int:
    out = output_dir(argv, __doc__, prefix="tinygrad_ce_digits_")
    X, y = data.load_digits()  # (1797, 64) pixel counts 0..16, labels 0..9
    X_train, X_test, y_train, y_test = data.train_test_split(
        X, y, test_size=0.25, seed=0, stratify=True
    )
    scaler = data.Standardizer().fit(X_train)  # training statistics only: no test leakage
    Z_train, Z_test = scaler.transform(X_train), scaler.transform(X_test)

    nn.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    with no_grad():
        initial = F.cross_entropy(model(Tensor(Z_train)), y_train).item()
    print(f"initial loss {initial:.4f} (log 10 = {math.log(10):.4f})")

    loss_fn = nn.CrossEntropyLoss()
    history = fit(
        model,
        loss_fn,
        optim.Adam(model.parameters(), lr=3e-3),
        data.DataLoader(Z_train, y_train, batch_size=64, shuffle=True, seed=0),
        val_data=(Z_test, y_test),
        epochs=30,
    )
    test = evaluate(model, Z_test, y_test, loss_fn)
    print(f"test loss {test.loss:.4f}, test accuracy {test.accuracy:.1%} on {len(y_test)} images")

    pred = predict(model, Z_test)
    confusion = np.zeros((10, 10), dtype=int)
    np.add.at(confusion, (y_test, pred), 1)
    print("confusion matrix (rows: true digit, columns: predicted)")
    print("     " + " ".join(f"{c:>3}" for c in range(10)))
    for c in range(10):
        print(f"{c:>3}  " + " ".join(f"{n:>3}" if n else "  ." for n in confusion[c]))

    from tinygrad_ce.plots import plot_digits, plot_history

    plot_history(history, out / "digits_history.png")
    wrong = np.flatnonzero(pred != y_test)
    if len(wrong):
        plot_digits(
            X_test[wrong],
            y_test[wrong],
            pred[wrong],
            out / "digits_mistakes.png",
            title="misclassified test digits",
        )
    print(f"figures written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
