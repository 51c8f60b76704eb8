"""Matplotlib figures: learning curves, decision boundaries, digit grids, a CNN's filters and
feature maps, the fused/unfused comparison.

Plotting is optional: matplotlib is imported inside the functions (install it with
``pip install tinygrad_ce[train]``), and the non-interactive Agg backend is chosen when there is
no display. Every function returns the ``matplotlib.figure.Figure`` it made (managed by pyplot,
so ``plt.show()`` shows it and notebooks display it) and also saves it as a PNG when ``path``
is given. Call ``plt.close(fig)`` when you make many figures in a loop.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .autograd import no_grad
from .outputs import write_atomic
from .tensor import Tensor

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

DPI = 110
_SPLIT_NAMES = {"train": "train", "val": "validation", "valid": "validation", "test": "test"}


def _pyplot() -> Any:
    """Import pyplot, choosing Agg first when nothing else was chosen and there is no display."""
    import matplotlib

    headless = sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    )
    if headless and "matplotlib.pyplot" not in sys.modules and not os.environ.get("MPLBACKEND"):
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Figure, path: str | os.PathLike | None, **options: Any) -> Figure:
    """Save ``fig`` to ``path`` (format from the suffix, PNG if none), atomically."""
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        options = {"dpi": DPI, "bbox_inches": "tight", "pad_inches": 0.08, **options}
        fmt = path.suffix[1:].lower() or "png"
        write_atomic(path, lambda f: fig.savefig(f, format=fmt, **options))
    return fig


def _numpy(a: Any) -> np.ndarray:
    return a.data if isinstance(a, Tensor) else np.asarray(a)


def _class_colors(k: int) -> list[Any]:
    """``k`` distinct, readable colours: tab10 up to 10 classes, then tab20, then a hue wheel."""
    from matplotlib import colormaps

    if k <= 10:
        return list(colormaps["tab10"].colors[:k])
    if k <= 20:
        return list(colormaps["tab20"].colors[:k])
    return [colormaps["hsv"](i / k) for i in range(k)]


def _points(X: Any, y: Any, what: str) -> tuple[np.ndarray, np.ndarray]:
    X, y = _numpy(X), _numpy(y)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"{what} needs 2-D points X of shape (N, 2), got shape {X.shape}")
    if y.shape != (len(X),):
        raise ValueError(f"y must have shape ({len(X)},) to match X {X.shape}, got {y.shape}")
    if len(X) == 0:
        raise ValueError(f"{what} needs at least one point")
    return X, _labels(y, "y")


def _labels(y: np.ndarray, name: str) -> np.ndarray:
    if y.dtype.kind == "b":
        return y.astype(np.int64)
    if y.dtype.kind == "f" and np.all(np.isfinite(y)) and np.all(y == np.round(y)):
        y = y.astype(np.int64)
    if y.dtype.kind not in "iu" or (y.size and y.min() < 0):
        raise ValueError(f"{name} must hold class indices 0, 1, 2, ..., got dtype {y.dtype}")
    return y.astype(np.int64)


def _scatter_classes(ax: Axes, X: np.ndarray, y: np.ndarray, colors: list[Any]) -> None:
    size = 28 if len(X) <= 500 else 14 if len(X) <= 3000 else 6
    for k in np.unique(y):
        pts = X[y == k]
        ax.scatter(
            pts[:, 0],
            pts[:, 1],
            s=size,
            color=colors[k],
            edgecolors="black",
            linewidths=0.4,
            label=f"class {k}",
            zorder=3,
        )
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.set_aspect("equal", adjustable="datalim")


def _legend_outside(ax: Axes, title: str | None = None) -> None:
    ax.legend(
        loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, frameon=False, title=title
    )


def plot_dataset(
    X: Any, y: Any, path: str | os.PathLike | None = None, title: str | None = None
) -> Figure:
    """Scatter plot of 2-D points coloured by class.

    Parameters
    ----------
    X : array_like, shape (N, 2)
    y : array_like of int, shape (N,)
    path : str or path-like, optional
        Save the figure there as PNG.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    X, y = _points(X, y, "plot_dataset")
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.6, 4.6), dpi=DPI, layout="constrained")
    _scatter_classes(ax, X, y, _class_colors(int(y.max()) + 1))
    ax.set_title(title or f"{len(X)} points, {len(np.unique(y))} classes")
    ax.grid(alpha=0.25)
    _legend_outside(ax)
    return _save(fig, path)


def _predict_classes(predict_fn: Callable[[np.ndarray], Any], points: np.ndarray) -> np.ndarray:
    with no_grad():  # only values are needed: record no graph
        out = _numpy(predict_fn(points))
    if out.ndim == 2 and out.shape[1] == 1:  # one logit per point: binary classifier
        out = (out[:, 0] > 0).astype(np.int64)
    elif out.ndim == 2:
        out = out.argmax(axis=1)
    elif out.ndim != 1:
        raise ValueError(
            f"predict_fn must return class indices (M,) or scores (M, C); got shape {out.shape} "
            f"for M={len(points)} points"
        )
    if len(out) != len(points):
        raise ValueError(
            f"predict_fn returned {len(out)} predictions for {len(points)} points "
            f"(output shape {out.shape})"
        )
    return _labels(out, "predict_fn's 1-D output")


def plot_decision_boundary(
    predict_fn: Callable[[np.ndarray], Any],
    X: Any,
    y: Any,
    path: str | os.PathLike | None = None,
    resolution: int = 200,
    title: str | None = None,
) -> Figure:
    """Colour the plane by the predicted class and scatter the points on top.

    Parameters
    ----------
    predict_fn : callable
        Maps float32 points of shape (M, 2) to class indices (M,), or to scores / logits
        (M, C) of which the argmax is taken; a single column (M, 1) is read as one logit
        (class 1 where > 0). ndarrays and Tensors are both accepted. Called on a
        ``resolution x resolution`` grid and once on ``X`` (for the accuracy shown), under
        ``no_grad``. Put a model with dropout in evaluation mode first.
    X : array_like, shape (N, 2)
    y : array_like of int, shape (N,)
        True classes (colour of the points).
    path : str or path-like, optional
        Save the figure there as PNG.
    resolution : int
        Grid points per axis.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    X, y = _points(X, y, "plot_decision_boundary")
    if resolution < 2:
        raise ValueError(f"resolution must be >= 2, got {resolution}")
    lo, hi = X.min(axis=0).astype(np.float64), X.max(axis=0).astype(np.float64)
    pad = np.where(hi > lo, 0.08 * (hi - lo), 0.5)
    xs = np.linspace(lo[0] - pad[0], hi[0] + pad[0], resolution)
    ys = np.linspace(lo[1] - pad[1], hi[1] + pad[1], resolution)
    gx, gy = np.meshgrid(xs, ys)
    grid = np.stack([gx.ravel(), gy.ravel()], axis=1).astype(np.float32)
    zone = _predict_classes(predict_fn, grid).reshape(gx.shape)
    accuracy = float(np.mean(_predict_classes(predict_fn, X.astype(np.float32)) == y))

    k = int(max(y.max(), zone.max())) + 1
    colors = _class_colors(k)
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.8, 4.6), dpi=DPI, layout="constrained")
    ax.contourf(gx, gy, zone, levels=np.arange(k + 1) - 0.5, colors=colors, alpha=0.28)
    _scatter_classes(ax, X, y, colors)
    ax.set_xlim(xs[0], xs[-1])
    ax.set_ylim(ys[0], ys[-1])
    ax.set_aspect("equal", adjustable="box")
    ax.set_title(title or "Decision boundary")
    _legend_outside(ax, title=f"accuracy\n{accuracy:.1%} of {len(X)}")
    return _save(fig, path)


def _curves(history: Mapping[str, Any]) -> dict[str, list[tuple[str, np.ndarray]]]:
    """Sort history entries into loss and accuracy curves, labelled by split (train first)."""
    panels: dict[str, list[tuple[str, np.ndarray]]] = {"loss": [], "accuracy": []}
    order = {"train": 0, "validation": 1, "test": 2}
    for key, values in history.items():
        split, _, metric = str(key).rpartition("_")
        panel = {"loss": "loss", "acc": "accuracy", "accuracy": "accuracy"}.get(metric)
        if panel is None:
            continue
        values = np.asarray(values, dtype=np.float64).ravel()
        if values.size:
            panels[panel].append((_SPLIT_NAMES.get(split, split or "train"), values))
    for curves in panels.values():
        curves.sort(key=lambda c: order.get(c[0], 3))
    return {name: curves for name, curves in panels.items() if curves}


def plot_history(history: Mapping[str, Any], path: str | os.PathLike | None = None) -> Figure:
    """Learning curves: loss and accuracy per epoch, for training and validation.

    Parameters
    ----------
    history : mapping of str to sequence of float
        E.g. ``{"train_loss": [...], "val_loss": [...], "train_acc": [...], "val_acc": [...]}``;
        any subset. Keys ending in ``_loss`` go to the loss panel, ``_acc`` / ``_accuracy`` to
        the accuracy panel (accuracies are fractions in [0, 1]); other keys are ignored.
    path : str or path-like, optional
        Save the figure there as PNG.

    Returns
    -------
    matplotlib.figure.Figure
        One panel per kind of curve present.
    """
    if not isinstance(history, Mapping):
        history = getattr(history, "history", history)  # e.g. an object with a .history dict
    if not isinstance(history, Mapping):
        raise TypeError(f"history must be a dict of lists, got {type(history).__name__}")
    panels = _curves(history)
    if not panels:
        raise ValueError(
            "history has no non-empty '<split>_loss' or '<split>_acc' entries; "
            f"keys found: {sorted(map(str, history))}"
        )
    from matplotlib.ticker import MaxNLocator, PercentFormatter

    plt = _pyplot()
    fig, axes = plt.subplots(
        1, len(panels), figsize=(5.0 * len(panels), 3.8), dpi=DPI, layout="constrained"
    )
    axes = np.atleast_1d(axes)
    styles = {
        "train": ("tab:blue", "-"),
        "validation": ("tab:orange", "-"),
        "test": ("tab:green", "--"),
    }
    for ax, (panel, curves) in zip(axes, panels.items(), strict=True):
        for split, values in curves:
            color, line = styles.get(split, (None, ":"))
            epochs = np.arange(1, len(values) + 1)
            ax.plot(
                epochs,
                values,
                line,
                color=color,
                marker="o" if len(values) <= 30 else None,
                markersize=3,
                label=f"{split} (last {values[-1]:.3g})"
                if panel == "loss"
                else f"{split} (last {values[-1]:.1%})",
            )
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        if panel == "loss":
            ax.set_title("Loss")
            ax.set_ylabel("cross-entropy loss")
            if all(v.min() > 0 for _, v in curves):
                top = max(v.max() for _, v in curves)
                bottom = min(v.min() for _, v in curves)
                if top / bottom > 100:
                    ax.set_yscale("log")
        else:
            ax.set_title("Accuracy")
            ax.set_ylabel("accuracy")
            ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0))
            if all(v.max() <= 1.0 for _, v in curves):
                ax.set_ylim(top=1.01)
        ax.legend(frameon=False)
    return _save(fig, path)


def _as_images(images: Any) -> np.ndarray:
    images = _numpy(images)
    if images.ndim == 4 and images.shape[1] == 1:  # (N, 1, H, W): one channel, as a CNN takes
        images = images[:, 0]
    if images.ndim == 3:
        return images
    if images.ndim == 2:
        side = math.isqrt(images.shape[1])
        if side * side == images.shape[1]:
            return images.reshape(len(images), side, side)
    raise ValueError(
        "images must have shape (N, H, W) or (N, D) with D a square number "
        f"(e.g. (N, 64) for 8x8 digits), got {images.shape}"
    )


def plot_digits(
    images: Any,
    labels: Any,
    predictions: Any = None,
    path: str | os.PathLike | None = None,
    ncols: int = 8,
    max_images: int = 64,
    title: str | None = None,
) -> Figure:
    """A grid of small grey-scale images with their labels (and predictions, if given).

    With ``predictions``, each caption reads ``true -> predicted``, red where they differ.
    To look at the mistakes: ``wrong = pred != y; plot_digits(X[wrong], y[wrong], pred[wrong])``.

    Parameters
    ----------
    images : array_like, shape (N, 64), (N, D) with D square, or (N, H, W)
    labels : array_like of int, shape (N,)
    predictions : array_like of int, shape (N,), optional
    path : str or path-like, optional
        Save the figure there as PNG.
    ncols : int
        Images per row.
    max_images : int
        Show at most this many (the first ones).
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    images = _as_images(images)
    labels = _numpy(labels).ravel()
    n_total = len(images)
    if n_total == 0:
        raise ValueError("plot_digits needs at least one image")
    if len(labels) != n_total:
        raise ValueError(f"got {n_total} images but {len(labels)} labels")
    if predictions is not None:
        predictions = _numpy(predictions).ravel()
        if len(predictions) != n_total:
            raise ValueError(f"got {n_total} images but {len(predictions)} predictions")
    if ncols < 1 or max_images < 1:
        raise ValueError(f"ncols and max_images must be >= 1, got {ncols} and {max_images}")
    n = min(n_total, max_images)
    cols = min(ncols, n)
    rows = math.ceil(n / cols)
    vmin, vmax = float(images[:n].min()), float(images[:n].max())

    plt = _pyplot()
    fig, axes = plt.subplots(
        rows,
        cols,
        figsize=(
            0.95 * cols + 0.3,
            1.1 * rows + (0.2 if predictions is None and title is None and n == n_total else 0.5),
        ),
        dpi=DPI,
        layout="constrained",
        squeeze=False,
    )
    for i, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if i >= n:
            continue
        ax.imshow(images[i], cmap="gray_r", vmin=vmin, vmax=vmax, interpolation="nearest")
        if predictions is None:
            ax.set_title(str(labels[i]), fontsize=9)
        else:
            wrong = predictions[i] != labels[i]
            ax.set_title(
                f"{labels[i]} \u2192 {predictions[i]}",
                fontsize=9,
                color="tab:red" if wrong else "black",
                fontweight="bold" if wrong else "normal",
            )
    parts = [title] if title else []
    if predictions is not None:
        parts.append("label \u2192 prediction (red: wrong)")
    if n < n_total:
        parts.append(f"first {n} of {n_total} images")
    if parts:
        fig.suptitle(" \u00b7 ".join(parts), fontsize=10)
    return _save(fig, path)


# ---------------------------------------------------------------------------------------------
# the fused vs unfused comparison


def plot_comparison(result: Any, path: str | os.PathLike | None = None) -> Figure:
    """Time per method (left) and the stability sweep's errors (right) of a
    :class:`tinygrad_ce.compare.ComparisonResult`.

    A bare ``Figure``, not pyplot: saving it needs no backend, so calling this from a notebook
    leaves the notebook's (inline) backend alone. Saved at 120 dpi when ``path`` is given.
    """
    from matplotlib.figure import Figure

    methods = [m for m in result.timing if m != "ratios"]
    if not result.stability:
        fig = Figure(figsize=(5.5, 4.2))
        ax1 = fig.subplots()
    else:
        fig = Figure(figsize=(11, 4.8))
        ax1, ax2 = fig.subplots(1, 2)
    xs = np.arange(len(methods))
    fwd = [result.timing[m]["forward"] * 1e3 for m in methods]
    bwd = [result.timing[m]["backward"] * 1e3 for m in methods]
    ax1.bar(xs, fwd, label="forward")
    ax1.bar(xs, bwd, bottom=fwd, label="backward")
    ax1.set_xticks(xs, methods)
    ax1.set_ylabel("median time per call (ms)")
    c = result.config
    ax1.set_title(f"batch {c['batch']}, classes {c['classes']}, {c['dtype']}")
    ax1.legend()
    if result.stability:
        _plot_stability(ax2, result.stability)
    fig.tight_layout()
    return _save(fig, path, dpi=120, bbox_inches=None)


def _plot_stability(ax2: Axes, stability: list[dict[str, Any]]) -> None:
    markers = {"fused": "o", "unfused": "s", "naive": "x"}
    styles = {"float32": "-", "float64": "--"}
    ceiling = 1.0
    for d in dict.fromkeys(r["dtype"] for r in stability):
        for m in dict.fromkeys(r["method"] for r in stability):
            rows = [r for r in stability if r["dtype"] == d and r["method"] == m]
            err = [max(r["loss_rel_err"], r["grad_rel_err"], 1e-17) for r in rows]
            err = [e if math.isfinite(e) else ceiling * 10 for e in err]
            ax2.plot(
                [r["scale"] for r in rows],
                err,
                styles.get(d, "-"),
                marker=markers.get(m, "o"),
                label=f"{m} {d}",
                # fused on top, bigger hollow markers under it: overlapping lines stay visible
                zorder={"fused": 3, "unfused": 2}.get(m, 1),
                markersize={"fused": 5, "unfused": 9}.get(m, 7),
                markerfacecolor="none" if m == "unfused" else None,
            )
    ax2.axhline(ceiling * 10, color="grey", lw=0.5)
    ax2.text(1, ceiling * 14, "inf or nan", fontsize=8, color="grey")
    ax2.set_xscale("log")
    ax2.set_yscale("log")
    ax2.set_xlabel("logit scale")
    ax2.set_ylabel("relative error vs float64 reference")
    ax2.set_title("stability sweep")
    # below the axes, so it never covers a curve
    ax2.legend(fontsize=7, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.16))


# ---------------------------------------------------------------------------------------------


def _image_grid(
    tiles: Any, captions: list[str], ncols: int, title: str | None, symmetric: bool
) -> Figure:
    """One small image per tile (``(n, h, w)``); a diverging colour map when ``symmetric``."""
    plt = _pyplot()
    n = len(tiles)
    nrows = max(1, math.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.1 * ncols, 1.2 * nrows + 0.4), squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        if k >= n or tiles[k] is None:
            ax.axis("off")
            continue
        tile = tiles[k]
        if symmetric:
            lim = float(np.abs(tile).max()) or 1.0
            ax.imshow(tile, cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest")
        else:
            ax.imshow(tile, cmap="gray_r", interpolation="nearest")
        ax.set_title(captions[k], fontsize=7, pad=2)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def plot_filters(
    weight: Any,
    path: str | os.PathLike | None = None,
    channel: int = 0,
    ncols: int = 8,
    max_filters: int = 64,
    title: str | None = None,
) -> Figure:
    """The kernels of a conv layer, one small image each (red positive, blue negative).

    Parameters
    ----------
    weight : Tensor or array, shape (O, C, kh, kw)
        E.g. ``model[0].weight`` of a :class:`nn.Conv2d`.
    path : str or path-like, optional
        Save the figure there as PNG.
    channel : int
        Which input channel of each kernel to show (the only one for grey-scale images).
    ncols, max_filters : int
        Filters per row; at most this many (the first ones).
    title : str, optional
    """
    w = _numpy(weight)
    if w.ndim != 4:
        raise ValueError(f"plot_filters needs a conv weight of shape (O, C, kh, kw), got {w.shape}")
    if not 0 <= channel < w.shape[1]:
        raise ValueError(f"channel {channel} is out of range for a weight of shape {w.shape}")
    tiles = w[:max_filters, channel]
    captions = [f"filter {o}" for o in range(len(tiles))]
    fig = _image_grid(tiles, captions, min(ncols, len(tiles)), title, symmetric=True)
    return _save(fig, path)


def plot_feature_maps(
    model: Any,
    image: Any,
    path: str | os.PathLike | None = None,
    max_maps: int = 8,
    title: str | None = None,
) -> Figure:
    """What each conv layer of a sequential CNN makes of one image: a row of maps per layer.

    Parameters
    ----------
    model : nn.Sequential (e.g. ``models.CNN``)
        Run layer by layer in eval mode without recording a graph; the output of every
        ``Conv2d`` (after its batch norm and activation, when they follow) is shown.
    image : array_like, shape (C, H, W) or (1, C, H, W)
    path : str or path-like, optional
    max_maps : int
        Channels shown per layer (the first ones).
    title : str, optional
    """
    from .nn import BatchNorm2d, Conv2d, ReLU, Sequential, Sigmoid, Tanh
    from .train import _EvalMode

    if not isinstance(model, Sequential):
        raise TypeError(
            f"plot_feature_maps runs a Sequential model layer by layer, got {type(model).__name__}"
        )
    x = _numpy(image)
    if x.ndim == 3:
        x = x[None]
    if x.ndim != 4 or len(x) != 1:
        raise ValueError(f"plot_feature_maps needs one image (C, H, W), got shape {x.shape}")
    rows: list[tuple[str, np.ndarray]] = [("input", x[0])]
    pending: str | None = None  # a conv's output, shown once its norm and activation ran
    with _EvalMode(model):
        out = Tensor(x)
        for i, layer in enumerate(model):
            if pending is not None and not isinstance(layer, (BatchNorm2d, ReLU, Tanh, Sigmoid)):
                rows.append((pending, out.data[0]))
                pending = None
            if out.ndim != 4:
                break
            out = layer(out)
            if isinstance(layer, Conv2d):
                pending = f"conv {i}"
    if pending is not None:
        rows.append((pending, out.data[0]))
    width = min(max_maps, max(len(maps) for _, maps in rows))
    tiles: list[np.ndarray | None] = []
    captions: list[str] = []
    for name, maps in rows:
        for c in range(width):
            blank = c >= len(maps)
            tiles.append(None if blank else maps[c])
            captions.append("" if blank else (f"{name}: ch {c}" if c == 0 else f"ch {c}"))
    fig = _image_grid(tiles, captions, width, title, symmetric=False)
    return _save(fig, path)
