"""``tinygrad-ce train``: train an MLP on a built-in data set and write what happened to a folder.

Examples::

    tinygrad-ce train                                   # spiral, MLP 2-64-64-3, a few seconds
    tinygrad-ce train --dataset digits                  # 8x8 digits, 20% held out
    tinygrad-ce train --dataset moons --hidden 32 --hidden 32 --optimizer sgd --lr 0.1
    tinygrad-ce train --unfused --out runs/spiral-unfused

The output folder gets ``model.npz`` (weights), ``metrics.json`` (accuracies, losses, history,
configuration, times, the fused-vs-unfused check), ``curves.png``, ``decision_boundary.png``
(2-D data) or ``digits.png`` (digits), and ``graph.svg``: the graph of one batch's loss
(``graph.dot`` when Graphviz's ``dot`` is missing).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from .argtypes import check_output_dir, non_negative_int

# per data set: hidden sizes and epochs used when --hidden / --epochs are not given, and the
# held-out fraction when --test-size is not given
PRESETS: dict[str, dict[str, Any]] = {
    "digits": {"hidden": [128], "epochs": 30, "test_size": 0.2, "standardize": True},
    "mnist5k": {"hidden": [128], "epochs": 20, "test_size": 0.2, "standardize": True},
    "mnist": {"hidden": [128], "epochs": 5, "test_size": 0.1, "standardize": True},
    "fashion-mnist": {"hidden": [128], "epochs": 5, "test_size": 0.1, "standardize": True},
}
# --model cnn (image data sets only): epochs and whether to batch-normalise, per data set
CNN_PRESETS: dict[str, dict[str, Any]] = {
    "digits": {"epochs": 30, "batch_norm": True, "hidden": [64]},
    "mnist5k": {"epochs": 10, "batch_norm": True, "hidden": [120, 84]},
}
CNN_DEFAULT: dict[str, Any] = {"epochs": 3, "batch_norm": True, "hidden": [120, 84]}
# the trainer is for small models: refuse (rather than run out of memory) above this
MAX_PARAMETERS = 20_000_000
DEFAULT_PRESET: dict[str, Any] = {
    "hidden": [64, 64],
    "epochs": 100,
    "test_size": 0.0,
    "standardize": False,
}


def _dataset_names() -> list[str]:
    from tinygrad_ce.data import DATASETS

    return list(DATASETS)


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``train`` subcommand."""
    names = _dataset_names()
    parser = subparsers.add_parser(
        "train",
        help="train an MLP on a built-in data set (spiral by default) and save the results",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Train a multi-layer perceptron with softmax cross-entropy on a built-in data set\n"
            "(progress bar on a terminal), then compare the fused and the unfused loss on one\n"
            "batch. Writes to --out: model.npz (weights), metrics.json (accuracies, losses,\n"
            "history, config, times, the fused-vs-unfused check), curves.png,\n"
            "decision_boundary.png (2-D data) or digits.png, and graph.svg (the graph of one\n"
            "batch's loss; graph.dot when Graphviz's dot is not installed)."
        ),
        epilog=(
            "defaults per data set:\n"
            "  spiral, moons, circles, blobs, xor: hidden 64,64, 100 epochs, all points used\n"
            "      for training\n"
            "  digits: hidden 128, 30 epochs, 20% held out (stratified), inputs standardized\n"
            "\n"
            "examples:\n"
            "  tinygrad-ce train\n"
            "  tinygrad-ce train --dataset digits --out runs/digits\n"
            "  tinygrad-ce train --dataset moons --hidden 32,32 --optimizer sgd --lr 0.1\n"
            "  tinygrad-ce train --unfused --epochs 50"
        ),
    )
    parser.add_argument(
        "--dataset",
        default="spiral",
        metavar="NAME",
        help=f"one of: {', '.join(names)} (default: spiral)",
    )
    parser.add_argument(
        "--model",
        choices=("mlp", "cnn"),
        default="mlp",
        help="mlp, or cnn: a LeNet-style CNN (models.CNN) for image data sets (default: mlp)",
    )
    parser.add_argument(
        "--data-dir",
        metavar="DIR",
        help="folder with the IDX files of --dataset mnist or fashion-mnist (never downloaded)",
    )
    parser.add_argument(
        "--hidden",
        action="append",
        metavar="SIZES",
        help='hidden layer sizes, comma-separated ("64,64") or repeated (--hidden 64 '
        "--hidden 64); 0 alone means no hidden layer (default: per data set, see below)",
    )
    parser.add_argument(
        "--activation", choices=("relu", "tanh"), default="relu", help="(default: relu)"
    )
    parser.add_argument(
        "--epochs", type=int, help="passes over the training data (default: per data set)"
    )
    parser.add_argument("--lr", type=float, default=0.01, help="learning rate (default: 0.01)")
    parser.add_argument(
        "--optimizer", choices=("sgd", "adam", "adamw"), default="adam", help="(default: adam)"
    )
    parser.add_argument(
        "--momentum", type=float, default=0.9, help="momentum for sgd (default: 0.9)"
    )
    parser.add_argument(
        "--weight-decay",
        type=float,
        help="weight decay (default: 0 for sgd/adam, 0.01 for adamw)",
    )
    parser.add_argument(
        "--schedule",
        choices=("cosine", "step", "none"),
        default="cosine",
        help="learning-rate schedule over the epochs: cosine annealing to 0, step (x0.1 after "
        "every third of the epochs) or none (default: cosine)",
    )
    parser.add_argument("--batch-size", type=int, default=32, help="(default: 32)")
    fused = parser.add_mutually_exclusive_group()
    fused.add_argument(
        "--fused",
        dest="fused",
        action="store_true",
        default=True,
        help="train with the fused SoftmaxCrossEntropy node (the default)",
    )
    fused.add_argument(
        "--unfused",
        dest="fused",
        action="store_false",
        help="train with the cross-entropy composed of primitive ops",
    )
    parser.add_argument(
        "--test-size",
        type=float,
        help="fraction held out for testing, in [0, 1) (default: per data set)",
    )
    parser.add_argument(
        "--seed",
        type=non_negative_int,
        default=0,
        help="seed for data, weights, batches (default: 0)",
    )
    parser.add_argument("--out", metavar="DIR", help="output folder (default: runs/<dataset>)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG figures")
    parser.add_argument("--no-graph", action="store_true", help="skip drawing the loss graph")
    parser.set_defaults(func=run, _parser=parser)
    return parser


# ---------------------------------------------------------------------------------------------
# arguments


def parse_hidden(specs: list[str]) -> list[int]:
    """``["64,64"]`` or ``["64", "64"]`` -> ``[64, 64]``; ``["0"]`` -> ``[]`` (no hidden layer).

    Raises ValueError naming the bad part.
    """
    sizes: list[int] = []
    for spec in specs:
        for part in str(spec).replace(" ", "").split(","):
            if not part:
                raise ValueError(f"bad hidden spec {spec!r}: empty size (use e.g. 64,64)")
            try:
                n = int(part)
            except ValueError:
                raise ValueError(
                    f"bad hidden spec {spec!r}: {part!r} is not an integer (use e.g. 64,64)"
                ) from None
            if n < 0:
                raise ValueError(f"bad hidden spec {spec!r}: sizes must be positive, got {n}")
            sizes.append(n)
    if sizes == [0]:
        return []
    if any(n == 0 for n in sizes):
        raise ValueError(f"bad hidden spec {','.join(specs)!r}: sizes must be positive")
    return sizes


def resolve_config(args: argparse.Namespace, error: Any) -> dict[str, Any]:
    """Check the arguments and fill the per-data-set defaults; ``error(msg)`` exits."""
    names = _dataset_names()
    if args.dataset not in names:
        error(f"unknown dataset {args.dataset!r}; choose one of: {', '.join(names)}")
    preset = PRESETS.get(args.dataset, DEFAULT_PRESET)
    model_kind = getattr(args, "model", "mlp")
    cnn_preset = CNN_PRESETS.get(args.dataset, CNN_DEFAULT)
    info = _dataset_info(args.dataset)
    if model_kind == "cnn" and info.image_shape is None:
        images = ", ".join(n for n in names if _dataset_info(n).image_shape)
        error(f"--model cnn needs an image data set ({images}), got {args.dataset!r}")
    data_dir = getattr(args, "data_dir", None)
    if info.needs_data_dir and not data_dir:
        error(f"--dataset {args.dataset} is read from IDX files you have: pass --data-dir DIR")
    if model_kind == "cnn":
        preset = {**preset, "epochs": cnn_preset["epochs"], "hidden": cnn_preset["hidden"]}
    try:
        hidden = parse_hidden(args.hidden) if args.hidden else list(preset["hidden"])
    except ValueError as err:
        error(f"--hidden: {err}")
    epochs = preset["epochs"] if args.epochs is None else args.epochs
    if epochs < 1:
        error(f"--epochs must be >= 1, got {epochs}")
    if not args.lr > 0 or not np.isfinite(args.lr):
        error(f"--lr must be a positive number, got {args.lr}")
    if args.batch_size < 1:
        error(f"--batch-size must be >= 1, got {args.batch_size}")
    if not 0 <= args.momentum < 1:
        error(f"--momentum must be in [0, 1), got {args.momentum}")
    if args.weight_decay is not None and not args.weight_decay >= 0:
        error(f"--weight-decay must be >= 0, got {args.weight_decay}")
    test_size = preset["test_size"] if args.test_size is None else args.test_size
    if not 0 <= test_size < 1:
        error(f"--test-size must be in [0, 1), got {test_size}")
    out = check_output_dir(error, "--out", args.out or str(Path("runs") / args.dataset))
    weight_decay = args.weight_decay
    if weight_decay is None:
        weight_decay = 0.01 if args.optimizer == "adamw" else 0.0
    return {
        "dataset": args.dataset,
        "model": model_kind,
        "batch_norm": bool(cnn_preset["batch_norm"]) if model_kind == "cnn" else None,
        "data_dir": data_dir,
        "hidden": hidden,
        "activation": args.activation,
        "epochs": int(epochs),
        "lr": float(args.lr),
        "optimizer": args.optimizer,
        "momentum": float(args.momentum) if args.optimizer == "sgd" else None,
        "weight_decay": float(weight_decay),
        "schedule": args.schedule,
        "batch_size": int(args.batch_size),
        "fused": bool(args.fused),
        "test_size": float(test_size),
        "standardize": bool(preset["standardize"]),
        "seed": int(args.seed),
        "out": str(out),
        "no_progress": bool(args.no_progress),
        "no_plots": bool(args.no_plots),
        "no_graph": bool(args.no_graph),
    }


# ---------------------------------------------------------------------------------------------
# building blocks


def _dataset_info(name: str) -> Any:
    from tinygrad_ce.data import DATASETS

    return DATASETS[name]


def build_model(cfg: dict[str, Any], n_in: int, n_out: int) -> Any:
    """The MLP, or for ``--model cnn`` a ``models.CNN`` sized for the data set's images."""
    if cfg.get("model") != "cnn":
        return build_mlp(n_in, cfg["hidden"], n_out, cfg["activation"])
    from tinygrad_ce.models import CNN

    shape = _dataset_info(cfg["dataset"]).image_shape
    if shape[1] >= 28:  # LeNet-5's layout: 5x5 kernels, 6 and 16 channels
        return CNN(shape, n_out, channels=(6, 16), kernel_size=5, padding=(2, 0),
                   hidden=cfg["hidden"], batch_norm=cfg["batch_norm"])  # fmt: skip
    return CNN(shape, n_out, hidden=cfg["hidden"], batch_norm=cfg["batch_norm"])


def build_mlp(n_in: int, hidden: list[int], n_out: int, activation: str = "relu") -> Any:
    """``Linear -> act -> ... -> Linear`` as an ``nn.Sequential`` (weights from nn's generator)."""
    from tinygrad_ce import nn

    layers: list[Any] = []
    width = n_in
    for h in hidden:
        layers += [nn.Linear(width, h), nn.ReLU() if activation == "relu" else nn.Tanh()]
        width = h
    layers.append(nn.Linear(width, n_out))
    return nn.Sequential(*layers)


def mlp_parameters(sizes: list[int]) -> int:
    """The number of weights and biases of an MLP with layer widths ``sizes``."""
    return sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:], strict=True))


def build_optimizer(cfg: dict[str, Any], params: Any) -> Any:
    from tinygrad_ce import optim

    if cfg["optimizer"] == "sgd":
        return optim.SGD(
            params, lr=cfg["lr"], momentum=cfg["momentum"], weight_decay=cfg["weight_decay"]
        )
    cls = optim.Adam if cfg["optimizer"] == "adam" else optim.AdamW
    return cls(params, lr=cfg["lr"], weight_decay=cfg["weight_decay"])


def build_scheduler(cfg: dict[str, Any], optimizer: Any) -> Any:
    from tinygrad_ce import optim

    if cfg["schedule"] == "cosine":
        return optim.CosineAnnealingLR(optimizer, T_max=cfg["epochs"])
    if cfg["schedule"] == "step":
        return optim.StepLR(optimizer, step_size=max(cfg["epochs"] // 3, 1), gamma=0.1)
    return None


@contextlib.contextmanager
def _one_blas_thread() -> Any:
    """Small matrices run fastest on one BLAS thread, and a busy machine makes several threads
    much slower; limit them when threadpoolctl is installed (it is optional)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def _load(cfg: dict[str, Any]) -> dict[str, Any]:
    from tinygrad_ce import data

    extra = {"data_dir": cfg["data_dir"]} if cfg.get("data_dir") else {}
    X, y = data.load_dataset(cfg["dataset"], seed=cfg["seed"], **extra)
    if cfg["test_size"] > 0:
        X_train, X_test, y_train, y_test = data.train_test_split(
            X, y, test_size=cfg["test_size"], seed=cfg["seed"], stratify=True
        )
    else:
        X_train, y_train, X_test, y_test = X, y, None, None
    scaler = None
    if cfg["standardize"]:
        scaler = data.Standardizer().fit(X_train)
        X_train = scaler.transform(X_train)
        X_test = scaler.transform(X_test) if X_test is not None else None
    if cfg.get("model") == "cnn":  # the CNN takes (N, C, H, W) images
        shape = _dataset_info(cfg["dataset"]).image_shape
        X_train = X_train.reshape(-1, *shape)
        X_test = X_test.reshape(-1, *shape) if X_test is not None else None
    return {
        "X_raw": X,
        "y_raw": y,
        "X_train": X_train,
        "y_train": y_train,
        "X_test": X_test,
        "y_test": y_test,
        "scaler": scaler,
        "classes": int(y.max()) + 1,
    }


# ---------------------------------------------------------------------------------------------
# outputs


def _write_graph(
    model: Any, xb: np.ndarray, yb: np.ndarray, fused: bool, out: Path, rankdir: str = "LR"
) -> tuple:
    """Draw one batch's loss; returns (path, note). SVG needs ``dot``; else the DOT text."""
    from tinygrad_ce import Tensor
    from tinygrad_ce import functional as F
    from tinygrad_ce.viz import GraphvizNotFoundError, draw_graph, render_graph

    x, labels = Tensor(xb, name="X"), Tensor(yb, name="y")
    loss = F.cross_entropy(model(x), labels, fused=fused)
    names = {p: name for name, p in model.named_parameters()}
    names.update({x: "X", labels: "y", loss: "loss"})
    title = (
        f"{'fused' if fused else 'unfused'} cross-entropy loss of one batch "
        f"(X: {len(xb)} rows, y: their labels)"
    )
    dot = draw_graph(loss, names=names, rules=True, title=title, rankdir=rankdir)
    try:
        return render_graph(dot, out / "graph.svg"), None
    except GraphvizNotFoundError as err:
        path = render_graph(dot, out / "graph.dot")
        note = f"Graphviz's dot is not installed, so the graph was written as DOT text ({err})"
        return path, note.splitlines()[0]


def _write_plots(cfg: dict, d: dict, model: Any, history: Any, out: Path) -> dict[str, Path]:
    from tinygrad_ce import plots
    from tinygrad_ce.train import predict, predict_scores

    plots.plot_history(history, out / "curves.png")
    files = {"curves": out / "curves.png"}
    if d["X_raw"].shape[1] == 2:
        scaler = d["scaler"]

        def predict_fn(points: np.ndarray) -> np.ndarray:
            points = scaler.transform(points) if scaler is not None else points
            return predict_scores(model, points)

        plots.plot_decision_boundary(
            predict_fn,
            d["X_raw"],
            d["y_raw"],
            out / "decision_boundary.png",
            title=f"{cfg['dataset']}: decision boundary after {cfg['epochs']} epochs",
        )
        files["decision_boundary"] = out / "decision_boundary.png"
    elif _dataset_info(cfg["dataset"]).image_shape is not None:
        X_show = d["X_test"] if d["X_test"] is not None else d["X_train"]
        y_show = d["y_test"] if d["y_test"] is not None else d["y_train"]
        pred = predict(model, X_show)
        flat = X_show.reshape(len(X_show), -1)
        images = d["scaler"].inverse_transform(flat) if d["scaler"] is not None else flat
        wrong = np.flatnonzero(pred != y_show)
        order = np.concatenate([wrong, np.flatnonzero(pred == y_show)])[:40]
        plots.plot_digits(
            images[order],
            y_show[order],
            pred[order],
            out / "digits.png",
            title=f"{len(wrong)} mistakes of {len(y_show)} digits (mistakes first)",
        )
        files["digits"] = out / "digits.png"
        if cfg.get("model") == "cnn":
            files.update(_write_cnn_plots(model, X_show[:1], y_show[0], out))
    import matplotlib.pyplot as plt

    plt.close("all")
    return files


def _write_cnn_plots(model: Any, image: np.ndarray, label: int, out: Path) -> dict[str, Path]:
    """The first conv layer's filters, and the feature maps of one test image."""
    from tinygrad_ce import nn, plots

    conv = next(m for m in model.modules() if isinstance(m, nn.Conv2d))
    plots.plot_filters(conv.weight, out / "filters.png", title="first conv layer's filters")
    plots.plot_feature_maps(
        model, image, out / "feature_maps.png", title=f"feature maps of a test digit ({label})"
    )
    return {"filters": out / "filters.png", "feature_maps": out / "feature_maps.png"}


def _fmt_pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.1%}"


def run(args: argparse.Namespace) -> int:
    """Train, save, compare, report. Returns the exit code."""
    parser = args._parser
    started = time.perf_counter()
    cfg = resolve_config(args, parser.error)
    d = _load(cfg)
    n_params = mlp_parameters([d["X_raw"].shape[1], *cfg["hidden"], d["classes"]])
    if cfg.get("model") != "cnn" and n_params > MAX_PARAMETERS:
        parser.error(
            f"--hidden {','.join(map(str, cfg['hidden']))} makes an MLP with {n_params:,} "
            f"parameters; this trainer is for small models (at most {MAX_PARAMETERS:,})"
        )
    with _one_blas_thread():
        return _run(cfg, d, started)


def _run(cfg: dict[str, Any], d: dict[str, Any], started: float) -> int:
    from tinygrad_ce import data, nn
    from tinygrad_ce.train import evaluate, fit, fused_vs_unfused

    out = Path(cfg["out"])
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        reason = err.strerror or err
        print(
            f"tinygrad-ce train: error: cannot create output folder {out}: {reason}",
            file=sys.stderr,
        )
        return 1

    nn.manual_seed(cfg["seed"])
    model = build_model(cfg, d["X_raw"].shape[1], d["classes"])
    optimizer = build_optimizer(cfg, model.parameters())
    scheduler = build_scheduler(cfg, optimizer)
    loss_fn = nn.CrossEntropyLoss(fused=cfg["fused"])
    loader = data.DataLoader(
        d["X_train"], d["y_train"], batch_size=cfg["batch_size"], shuffle=True, seed=cfg["seed"]
    )
    val = (d["X_test"], d["y_test"]) if d["X_test"] is not None else None
    sizes = "-".join(str(n) for n in [d["X_raw"].shape[1], *cfg["hidden"], d["classes"]])
    if cfg.get("model") == "cnn":
        convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
        fcs = [m for m in model.modules() if isinstance(m, nn.Linear)]
        widths = [fcs[0].in_features] + [m.out_features for m in fcs]
        sizes = "conv " + "-".join(str(c.out_channels) for c in convs)
        sizes += ", fc " + "-".join(map(str, widths))
    kind = "CNN" if cfg.get("model") == "cnn" else "MLP"
    print(
        f"training {kind} {sizes} ({model.num_parameters():,} parameters, {cfg['activation']}) on "
        f"{cfg['dataset']}: {len(d['y_train'])} training points"
        + (f", {len(d['y_test'])} held out" if val else "")
        + f"; {cfg['optimizer']} lr {cfg['lr']:g}, {cfg['schedule']} schedule, batch "
        f"{cfg['batch_size']}, {cfg['epochs']} epochs, {'fused' if cfg['fused'] else 'unfused'} "
        "cross-entropy"
    )
    sys.stdout.flush()

    t0 = time.perf_counter()
    history = fit(
        model,
        loss_fn,
        optimizer,
        loader,
        val_data=val,
        epochs=cfg["epochs"],
        progress=not cfg.get("no_progress", False),
        scheduler=scheduler,
    )
    train_seconds = time.perf_counter() - t0

    final_train = evaluate(model, d["X_train"], d["y_train"], loss_fn)
    final_test = evaluate(model, *val, loss_fn) if val else None
    xb, yb = d["X_train"][: cfg["batch_size"]], d["y_train"][: cfg["batch_size"]]
    check = fused_vs_unfused(model, xb, yb)

    files: dict[str, Path] = {}
    notes: list[str] = []
    nn.save(model, out / "model.npz")
    files["weights"] = out / "model.npz"
    if not cfg.get("no_plots"):
        try:
            files.update(_write_plots(cfg, d, model, history, out))
        except ImportError as err:
            notes.append(f"plots skipped: {err} (pip install matplotlib)")
    if not cfg.get("no_graph"):
        rankdir = "TB" if cfg.get("model") == "cnn" else "LR"  # a CNN's graph is long: top down
        path, note = _write_graph(model, xb, yb, cfg["fused"], out, rankdir)
        files["graph"] = path
        if note:
            notes.append(note)

    best_epoch, best_train = history.best("train_acc")
    metrics: dict[str, Any] = {
        "dataset": cfg["dataset"],
        "model": {
            "layers": sizes,
            "parameters": model.num_parameters(),
            "repr": repr(model),
        },
        "final": {
            "train_loss": final_train.loss,
            "train_accuracy": final_train.accuracy,
            "test_loss": final_test.loss if final_test else None,
            "test_accuracy": final_test.accuracy if final_test else None,
        },
        "best": {"train_accuracy": best_train, "train_accuracy_epoch": best_epoch},
        "history": history.to_dict(),
        "config": {
            k: v for k, v in cfg.items() if k not in ("no_progress", "no_plots", "no_graph")
        },
        "time": {"train_seconds": train_seconds},
        "fused_vs_unfused": check,
        "environment": {"python": platform.python_version(), "numpy": np.__version__},
    }
    if final_test:
        epoch, value = history.best("val_acc")
        metrics["best"].update(test_accuracy=value, test_accuracy_epoch=epoch)
    if d["scaler"] is not None:
        metrics["preprocessing"] = {
            "standardize_mean": d["scaler"].mean.tolist(),
            "standardize_std": d["scaler"].std.tolist(),
        }
    files["metrics"] = out / "metrics.json"
    metrics["files"] = {k: str(v) for k, v in files.items()}
    metrics["time"]["total_seconds"] = time.perf_counter() - started
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")

    _report(cfg, final_train, final_test, train_seconds, check, files, notes)
    return 0


def _report(cfg, final_train, final_test, seconds, check, files, notes) -> None:
    print(
        f"done in {seconds:.2f} s: train loss {final_train.loss:.4f}, accuracy "
        f"{_fmt_pct(final_train.accuracy)}"
        + (
            f"; test loss {final_test.loss:.4f}, accuracy {_fmt_pct(final_test.accuracy)}"
            if final_test
            else ""
        )
    )
    print(
        f"fused vs unfused cross-entropy, same batch of {check['batch']} through the model:\n"
        f"  |loss difference| {check['loss_abs_diff']:.2g}, max |gradient difference| "
        f"{check['grad_max_abs_diff']:.2g}\n"
        f"  graph nodes {check['nodes_fused']} (fused) vs {check['nodes_unfused']} (unfused); "
        f"time unfused/fused {check['step_time_ratio']:.2f}x for the whole step, "
        f"{check['loss_time_ratio']:.2f}x for the loss alone"
    )
    labels = {
        "weights": "trained weights (nn.load(model, path))",
        "metrics": "metrics, history, config, fused-vs-unfused check",
        "curves": "loss and accuracy curves",
        "decision_boundary": "decision boundary",
        "digits": "test digits, mistakes first",
        "filters": "first conv layer's filters",
        "feature_maps": "feature maps of one test digit",
        "graph": "graph of one batch's loss",
    }
    print(f"wrote to {cfg['out']}/:")
    width = max(len(Path(p).name) for p in files.values())
    for key, path in files.items():
        print(f"  {Path(path).name:<{width}}  {labels.get(key, key)}")
    for note in notes:
        print(f"note: {note}")
