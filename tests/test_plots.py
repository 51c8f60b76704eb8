"""tinygrad_ce.plots: every figure is made, returned, and saved as a real PNG."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from matplotlib.figure import Figure  # noqa: E402

from tinygrad_ce import Tensor, is_grad_enabled  # noqa: E402
from tinygrad_ce.data import load_digits, spiral  # noqa: E402
from tinygrad_ce.plots import (  # noqa: E402
    plot_dataset,
    plot_decision_boundary,
    plot_digits,
    plot_history,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


def assert_png(path, min_bytes=5_000):
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC
    assert len(data) > min_bytes  # a plot, not an empty canvas


def linear_scores(points):
    """Three fixed linear scores: a 3-class classifier with straight boundaries, (M, 3)."""
    W = np.array([[1.0, 0.0, -1.0], [0.0, 1.0, -1.0]], dtype=np.float32)
    return points @ W


HISTORY = {
    "train_loss": [1.0, 0.6, 0.4, 0.3],
    "val_loss": [1.1, 0.7, 0.5, 0.45],
    "train_acc": [0.5, 0.7, 0.8, 0.9],
    "val_acc": [0.45, 0.65, 0.75, 0.8],
    "lr": [0.1, 0.1, 0.05, 0.05],
}


def test_plot_history_full(tmp_path):
    fig = plot_history(HISTORY, tmp_path / "h.png")
    assert isinstance(fig, Figure)
    assert_png(tmp_path / "h.png")
    loss_ax, acc_ax = fig.axes
    assert loss_ax.get_title() == "Loss" and acc_ax.get_title() == "Accuracy"
    assert [line.get_label() for line in loss_ax.lines] == [
        "train (last 0.3)",
        "validation (last 0.45)",
    ]
    np.testing.assert_array_equal(acc_ax.lines[1].get_ydata(), HISTORY["val_acc"])
    np.testing.assert_array_equal(acc_ax.lines[0].get_xdata(), [1, 2, 3, 4])


def test_plot_history_subset_and_nested_dirs(tmp_path):
    fig = plot_history({"train_loss": [3.0, 2.0, 1.0]}, tmp_path / "a" / "b" / "loss.png")
    assert len(fig.axes) == 1 and len(fig.axes[0].lines) == 1
    assert_png(tmp_path / "a" / "b" / "loss.png", min_bytes=2_000)
    fig = plot_history({"val_acc": [0.2, 0.9], "train_loss": []})
    assert [ax.get_title() for ax in fig.axes] == ["Accuracy"]


def test_plot_history_accepts_any_mapping():
    from collections.abc import Mapping

    class Record(Mapping):  # like train.History: a read-only mapping, not a dict
        def __init__(self, data):
            self._data = data

        def __getitem__(self, key):
            return self._data[key]

        def __iter__(self):
            return iter(self._data)

        def __len__(self):
            return len(self._data)

    fig = plot_history(Record({"train_loss": [1.0, 0.5], "epoch_time": [0.1, 0.1]}))
    assert len(fig.axes) == 1 and fig.axes[0].lines[0].get_label() == "train (last 0.5)"


def test_plot_history_log_scale_for_wide_range():
    fig = plot_history({"train_loss": list(np.logspace(1, -4, 50))})
    assert fig.axes[0].get_yscale() == "log"


def test_plot_history_errors():
    with pytest.raises(ValueError, match=r"keys found: \['lr'\]"):
        plot_history({"lr": [0.1]})
    with pytest.raises(TypeError, match="dict of lists"):
        plot_history([1.0, 2.0])


@pytest.mark.parametrize("output", ["scores", "indices", "tensor", "one_logit"])
def test_plot_decision_boundary_outputs(tmp_path, output):
    X, y = spiral(n_per_class=30)
    path = tmp_path / f"{output}.png"
    seen = []

    def predict(points):
        seen.append((points.shape, points.dtype))
        assert not is_grad_enabled()
        scores = linear_scores(points)
        if output == "indices":
            return scores.argmax(axis=1)
        if output == "tensor":
            return Tensor(scores)
        if output == "one_logit":
            return scores[:, :1]
        return scores

    fig = plot_decision_boundary(predict, X, y, path, resolution=50, title="spiral")
    assert isinstance(fig, Figure)
    assert_png(path)
    assert seen[0] == ((2500, 2), np.float32) and seen[1] == ((90, 2), np.float32)
    ax = fig.axes[0]
    assert ax.get_title() == "spiral"
    expected = np.mean(linear_scores(X).argmax(1) == y)
    if output == "one_logit":
        expected = np.mean((X[:, 0] > 0) == y)
    assert f"{expected:.1%}" in ax.get_legend().get_title().get_text()


def test_plot_decision_boundary_errors():
    X, y = spiral(n_per_class=10)
    with pytest.raises(ValueError, match=r"shape \(N, 2\), got shape \(30, 3\)"):
        plot_decision_boundary(linear_scores, np.zeros((30, 3)), y)
    with pytest.raises(ValueError, match=r"y must have shape \(30,\)"):
        plot_decision_boundary(linear_scores, X, y[:-1])
    with pytest.raises(ValueError, match="returned 1 predictions"):
        plot_decision_boundary(lambda p: np.zeros(1, int), X, y, resolution=10)
    with pytest.raises(ValueError, match="class indices"):
        plot_decision_boundary(lambda p: np.full(len(p), 0.5), X, y, resolution=10)
    with pytest.raises(ValueError, match=r"got shape \(100, 2, 2\)"):
        plot_decision_boundary(lambda p: np.zeros((len(p), 2, 2)), X, y, resolution=10)


def test_plot_digits(tmp_path):
    X, y = load_digits()
    pred = y.copy()
    pred[:5] = (pred[:5] + 1) % 10
    fig = plot_digits(X[:20], y[:20], pred[:20], tmp_path / "d.png", ncols=5)
    assert isinstance(fig, Figure)
    assert_png(tmp_path / "d.png")
    assert len(fig.axes) == 20
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[0] == f"{y[0]} \u2192 {pred[0]}"
    assert fig.axes[0].title.get_color() == "tab:red"
    assert fig.axes[10].title.get_color() == "black"
    assert "red: wrong" in fig._suptitle.get_text()


def test_plot_digits_shapes_and_limits(tmp_path):
    X, y = load_digits()
    fig = plot_digits(X, y, path=tmp_path / "all.png")  # 1797 images: only the first 64
    assert sum(ax.has_data() for ax in fig.axes) == 64
    assert "first 64 of 1797" in fig._suptitle.get_text()
    fig = plot_digits(X[:3].reshape(3, 8, 8), y[:3], ncols=8)
    assert len(fig.axes) == 3 and fig.axes[0].get_title() == str(y[0])
    fig = plot_digits(np.zeros((2, 784)), [1, 2])  # 28x28
    assert fig.axes[0].images[0].get_array().shape == (28, 28)


def test_plot_digits_errors():
    with pytest.raises(ValueError, match="square number"):
        plot_digits(np.zeros((2, 10)), [0, 1])
    with pytest.raises(ValueError, match="2 images but 3 labels"):
        plot_digits(np.zeros((2, 64)), [0, 1, 2])
    with pytest.raises(ValueError, match="2 images but 1 predictions"):
        plot_digits(np.zeros((2, 64)), [0, 1], [0])
    with pytest.raises(ValueError, match="at least one image"):
        plot_digits(np.zeros((0, 64)), [])


def test_plot_dataset(tmp_path):
    X, y = spiral()
    fig = plot_dataset(X, y, tmp_path / "s.png")
    assert isinstance(fig, Figure)
    assert_png(tmp_path / "s.png")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["class 0", "class 1", "class 2"]
    assert ax.get_title() == "300 points, 3 classes"
    with pytest.raises(ValueError, match="2-D points"):
        plot_dataset(np.zeros((5, 64)), np.zeros(5, int))


def test_import_is_lazy():
    import subprocess
    import sys
    from pathlib import Path

    code = "import sys, tinygrad_ce.plots, tinygrad_ce.data; print('matplotlib' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert out.stdout.strip() == "False"
