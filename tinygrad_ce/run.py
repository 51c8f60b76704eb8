"""One training run from start to finish: what ``tinygrad-ce train`` does, as a library call.

>>> from tinygrad_ce.run import RunConfig, run_training
>>> result = run_training(RunConfig(dataset="moons", epochs=20, out="runs/moons"))  # doctest: +SKIP
>>> result.metrics["final"]["train_accuracy"]  # doctest: +SKIP

:func:`run_training` checks the configuration (filling in the data set's presets), loads and
splits the data, builds an :class:`~tinygrad_ce.models.MLP`, trains it with
:func:`~tinygrad_ce.train.fit`, evaluates it, compares the fused and unfused loss on one batch,
and writes the run's files to the output folder:

* every file is written atomically (a temporary name in the same folder, then ``os.replace``);
* ``metrics.json`` (strict JSON: non-finite numbers are ``null``) comes last, so a folder with
  a ``metrics.json`` holds a complete run;
* without ``out``, each run gets a fresh folder (``runs/<dataset>``, else ``runs/<dataset>-2``,
  ...), so running the same command twice never touches the first run;
* a folder given as ``out`` that already holds files is refused unless ``force=True``; then
  the earlier run's files that this run does not write are removed, and anything that is not
  a run's file makes it refuse too (nothing but a run's own files is ever deleted);
* a run whose loss stops being finite stops early: no weights or figures are written, and
  ``metrics.json`` says ``"status": "diverged"``.

Bad settings raise :class:`ConfigError` before any work is done; a file that cannot be written
raises :class:`RunError`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import platform
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import data, nn, optim
from .data.registry import DatasetInfo
from .models import MLP, cnn_for, mlp_parameter_count
from .outputs import replace_atomic, write_json

__all__ = [
    "MAX_PARAMETERS",
    "ConfigError",
    "RunConfig",
    "RunError",
    "RunResult",
    "check_output_folder",
    "resolve",
    "run_files",
    "run_training",
]

# the trainer is for small models: refuse (rather than run out of memory) above this
MAX_PARAMETERS = 20_000_000
MODELS = ("mlp", "cnn")
OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("cosine", "step", "none")


class ConfigError(ValueError):
    """A setting that cannot work; ``option`` names it (``"epochs"``).

    The message is a template with ``{option}`` where the setting's name goes:
    ``str(err)`` fills in the field name, :meth:`format` any spelling (``"--epochs"``).
    """

    def __init__(self, option: str, template: str) -> None:
        self.option, self.template = option, template
        super().__init__(self.format(option))

    def format(self, name: str) -> str:
        return self.template.replace("{option}", name)


class RunError(RuntimeError):
    """The run could not finish: an output file or folder could not be written."""


@dataclass
class RunConfig:
    """Settings of a run; ``None`` means "the data set's preset" (see ``DATASETS[name].presets``).

    ``out=None`` writes to ``runs/<dataset>``. ``progress``, ``plots`` and ``graph`` switch off
    the progress bar, the PNG figures and the drawing of one batch's loss graph.
    """

    dataset: str = "spiral"
    hidden: list[int] | None = None
    activation: str = "relu"
    epochs: int | None = None
    lr: float = 0.01
    optimizer: str = "adam"
    momentum: float | None = 0.9
    weight_decay: float | None = None
    schedule: str = "cosine"
    batch_size: int = 32
    fused: bool = True
    test_size: float | None = None
    standardize: bool | None = None
    seed: int = 0
    model: str = "mlp"
    batch_norm: bool | None = None
    data_dir: str | None = None
    out: str | None = None
    force: bool = False
    progress: bool = True
    plots: bool = True
    graph: bool = True

    def to_dict(self) -> dict[str, Any]:
        """The settings that shape the result (for ``metrics.json``)."""
        skip = ("force", "progress", "plots", "graph")
        return {k: v for k, v in dataclasses.asdict(self).items() if k not in skip}


@dataclass
class RunResult:
    """What :func:`run_training` did.

    ``status`` is "complete" or "diverged" (then ``message`` says when); ``files`` maps a role
    ("weights", "metrics", "curves", "decision_boundary", "images", "graph") to the file
    written; ``notes`` are things worth telling (a figure skipped ...).
    """

    config: RunConfig
    metrics: dict[str, Any]
    files: dict[str, Path] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    status: str = "complete"
    message: str = ""


# ---------------------------------------------------------------------------------------------
# checking the configuration


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def resolve(config: RunConfig) -> RunConfig:
    """A copy of ``config`` with the data set's presets filled in, checked.

    Raises :class:`ConfigError` for an unknown data set, activation, optimizer or schedule, a
    hidden size < 1, epochs or batch size < 1, a learning rate that is not a positive finite
    number, a momentum outside [0, 1), a weight decay that is negative or not finite, or a
    held-out fraction outside [0, 1).
    """
    info = _dataset(config.dataset)
    c = dataclasses.replace(config)
    _check_model_and_data(c, info)
    p = {**info.presets, **info.cnn_presets} if c.model == "cnn" else info.presets
    c.batch_norm = (
        bool(p["batch_norm"] if c.batch_norm is None else c.batch_norm)
        if c.model == "cnn"
        else None
    )
    c.hidden = list(p["hidden"]) if c.hidden is None else [int(n) for n in c.hidden]
    c.epochs = p["epochs"] if c.epochs is None else c.epochs
    c.test_size = p["test_size"] if c.test_size is None else c.test_size
    c.standardize = p["standardize"] if c.standardize is None else c.standardize
    if c.weight_decay is None:
        c.weight_decay = 0.01 if c.optimizer == "adamw" else 0.0
    if c.out is None:  # the default: a fresh folder for each run, never an earlier run's
        c.out = str(fresh_folder(Path("runs") / c.dataset))
    for name, value, choices in (
        ("activation", c.activation, ("relu", "tanh", "sigmoid")),
        ("optimizer", c.optimizer, OPTIMIZERS),
        ("schedule", c.schedule, SCHEDULES),
    ):
        if value not in choices:
            raise ConfigError(
                name, f"{{option}} must be one of {', '.join(choices)}, got {value!r}"
            )
    if any(n < 1 for n in c.hidden):
        raise ConfigError("hidden", f"{{option}} sizes must be >= 1, got {c.hidden}")
    if c.epochs < 1:
        raise ConfigError("epochs", f"{{option}} must be >= 1, got {c.epochs}")
    if not (_finite(c.lr) and c.lr > 0):
        raise ConfigError("lr", f"{{option}} must be a positive number, got {c.lr}")
    if c.batch_size < 1:
        raise ConfigError("batch_size", f"{{option}} must be >= 1, got {c.batch_size}")
    if c.optimizer == "sgd":
        if not (_finite(c.momentum) and 0 <= c.momentum < 1):
            raise ConfigError("momentum", f"{{option}} must be in [0, 1), got {c.momentum}")
    else:
        c.momentum = None
    if not (_finite(c.weight_decay) and c.weight_decay >= 0):
        raise ConfigError(
            "weight_decay", f"{{option}} must be a finite number >= 0, got {c.weight_decay}"
        )
    if not (_finite(c.test_size) and 0 <= c.test_size < 1):
        raise ConfigError("test_size", f"{{option}} must be in [0, 1), got {c.test_size}")
    c.epochs, c.batch_size, c.seed = int(c.epochs), int(c.batch_size), int(c.seed)
    c.lr, c.weight_decay, c.test_size = float(c.lr), float(c.weight_decay), float(c.test_size)
    c.fused, c.standardize = bool(c.fused), bool(c.standardize)
    return c


def _check_model_and_data(c: RunConfig, info: DatasetInfo) -> None:
    """The model fits the data set (a CNN needs images), and the data can be found."""
    if c.model not in MODELS:
        raise ConfigError(
            "model", f"{{option}} must be one of {', '.join(MODELS)}, got {c.model!r}"
        )
    if c.model == "cnn" and info.image_shape is None:
        images = ", ".join(n for n, i in data.DATASETS.items() if i.image_shape)
        raise ConfigError(
            "model", f"{{option}} cnn needs an image data set ({images}), got {c.dataset!r}"
        )
    if info.needs_data_dir and not c.data_dir:
        raise ConfigError(
            "data_dir",
            f"{c.dataset} is read from IDX files you have: pass {{option}} FOLDER (nothing is "
            "downloaded)",
        )


def fresh_folder(base: Path) -> Path:
    """``base`` when it is missing or empty, else the first free ``base-2``, ``base-3``, ..."""
    candidate, k = base, 1
    while candidate.exists() and (not candidate.is_dir() or any(candidate.iterdir())):
        k += 1
        candidate = base.with_name(f"{base.name}-{k}")
    return candidate


def _dataset(name: str) -> DatasetInfo:
    if name not in data.DATASETS:
        raise ConfigError(
            "dataset", f"unknown dataset {name!r}; choose one of: {', '.join(data.DATASETS)}"
        )
    return data.DATASETS[name]


@dataclass
class _Data:
    X: np.ndarray  # all of it, as loaded (for the figures)
    y: np.ndarray
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray | None
    y_test: np.ndarray | None
    scaler: Any
    classes: int


def _load(c: RunConfig) -> _Data:
    """Load, split (stratified) and standardize; the size guards need the data's shape."""
    X, y = data.load_dataset(
        c.dataset, seed=c.seed, **({"data_dir": c.data_dir} if c.data_dir else {})
    )
    classes = int(y.max()) + 1
    X_train, y_train, X_test, y_test = X, y, None, None
    if c.test_size > 0:
        n_test = round(len(y) * c.test_size)
        if not classes <= n_test <= len(y) - classes:
            lo, hi = classes / len(y), 1 - classes / len(y)
            raise ConfigError(
                "test_size",
                f"{{option}} {c.test_size:g} holds out {n_test} of {len(y)} points; each part "
                f"needs at least one point per class ({classes}): use 0 or a value in "
                f"[{math.ceil(lo * 1000) / 1000:g}, {math.floor(hi * 1000) / 1000:g}]",
            )
        try:
            X_train, X_test, y_train, y_test = data.train_test_split(
                X, y, test_size=c.test_size, seed=c.seed, stratify=True
            )
        except ValueError as err:
            raise ConfigError("test_size", f"{{option}} {c.test_size:g}: {err}") from None
    scaler = None
    if c.standardize:
        scaler = data.Standardizer().fit(X_train)
        X_train = scaler.transform(X_train)
        X_test = scaler.transform(X_test) if X_test is not None else None
    if c.model == "cnn":  # the CNN takes (N, C, H, W) images
        shape = data.DATASETS[c.dataset].image_shape
        X_train = X_train.reshape(-1, *shape)
        X_test = X_test.reshape(-1, *shape) if X_test is not None else None
    n_params = mlp_parameter_count([X.shape[1], *c.hidden, classes])
    if c.model == "mlp" and n_params > MAX_PARAMETERS:
        raise ConfigError(
            "hidden",
            f"{{option}} {','.join(map(str, c.hidden))} makes an MLP with {n_params:,} "
            f"parameters; this trainer is for small models (at most {MAX_PARAMETERS:,})",
        )
    return _Data(X, y, X_train, y_train, X_test, y_test, scaler, classes)


# ---------------------------------------------------------------------------------------------
# the output folder


def run_files() -> set[str]:
    """Names of every file a run may write (whatever its options and data set)."""
    names = {"model.npz", "metrics.json", "curves.png", "decision_boundary.png"}
    names |= {"filters.png", "feature_maps.png"}
    names |= {"graph.svg", "graph.dot"}
    names |= {"samples.txt"}  # a GPT run's (run_gpt.py)
    names |= {f"{n}.png" for n, info in data.DATASETS.items() if info.kind == "images"}
    return names


def _is_run_file(path: Path, names: set[str]) -> bool:
    """A run's file, or a temporary one left by an interrupted write (``.NAME.PID.tmp``)."""
    if not path.is_file() or path.is_symlink():
        return False
    name = path.name
    if name.startswith(".") and name.endswith(".tmp"):
        name = name[1:].rsplit(".", 2)[0]
    return name in names


def check_output_folder(out: str | os.PathLike, force: bool = False) -> None:
    """Raise :class:`ConfigError` (option "out") unless a run may write into ``out``.

    A missing or empty folder is fine. A folder that holds anything is refused, unless
    ``force`` and everything in it is a run's file (those are replaced or removed).
    """
    out = Path(out)
    if not out.is_dir():
        return
    entries = sorted(out.iterdir())
    if not entries:
        return
    names = run_files()
    shown = ", ".join(e.name + ("/" if e.is_dir() else "") for e in entries[:5])
    shown += ", ..." if len(entries) > 5 else ""
    if not force:
        raise ConfigError(
            "out",
            f"{{option}} {str(out)!r} is not empty ({shown}); pass --force (force=True) to "
            "replace the earlier run, or choose another folder",
        )
    foreign = [e for e in entries if not _is_run_file(e, names)]
    if foreign:
        listed = ", ".join(e.name + ("/" if e.is_dir() else "") for e in foreign[:5])
        raise ConfigError(
            "out",
            f"{{option}} {str(out)!r} holds {listed}, which a run does not write; --force only "
            "replaces an earlier run's files: move them or choose another folder",
        )


def _remove_stale(out: Path, written: set[str]) -> None:
    """Remove an earlier run's files that this run did not write (and temporary leftovers)."""
    names = run_files()
    for entry in out.iterdir():
        if entry.name not in written and _is_run_file(entry, names):
            entry.unlink()


# ---------------------------------------------------------------------------------------------
# building blocks


def _optimizer(c: RunConfig, params: Any) -> optim.Optimizer:
    if c.optimizer == "sgd":
        return optim.SGD(params, lr=c.lr, momentum=c.momentum, weight_decay=c.weight_decay)
    cls = optim.Adam if c.optimizer == "adam" else optim.AdamW
    return cls(params, lr=c.lr, weight_decay=c.weight_decay)


def _scheduler(c: RunConfig, optimizer: Any) -> Any:
    if c.schedule == "cosine":
        return optim.CosineAnnealingLR(optimizer, T_max=c.epochs)
    if c.schedule == "step":
        return optim.StepLR(optimizer, step_size=max(c.epochs // 3, 1), gamma=0.1)
    return None


@contextlib.contextmanager
def _one_blas_thread() -> Iterator[None]:
    """Small matrices run fastest on one BLAS thread, and a busy machine makes several threads
    much slower; limit them when threadpoolctl is installed (it is optional)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def _diverged(epoch: int, history: Any) -> bool:
    """fit's callback: stop as soon as an epoch's loss is not finite."""
    return not math.isfinite(history.history["train_loss"][-1])


# ---------------------------------------------------------------------------------------------
# the run


def run_training(config: RunConfig, echo: Callable[[str], Any] | None = None) -> RunResult:
    """Train, evaluate, compare, write; see the module docstring.

    Parameters
    ----------
    config : RunConfig
    echo : callable, optional
        Called with one line describing the run just before training starts.

    Raises
    ------
    ConfigError before any work for a bad setting or an output folder that may not be used;
    RunError when the output folder or a file cannot be written.
    """
    started = time.perf_counter()
    c = resolve(config)
    d = _load(c)
    out = Path(c.out)
    if out.exists() and not out.is_dir():
        raise ConfigError("out", f"{{option}} {str(out)!r} is a file, not a folder")
    check_output_folder(out, c.force)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise RunError(f"cannot create output folder {out}: {err.strerror or err}") from None
    with _one_blas_thread():
        result, model, history = _train(c, d, echo)
    try:
        _write(result, d, model, history, out, started)
    except OSError as err:
        where = f" {err.filename}" if err.filename else ""
        raise RunError(f"cannot write{where}: {err.strerror or err}") from None
    return result


def _train(c: RunConfig, d: _Data, echo: Any) -> tuple[RunResult, MLP, Any]:
    from .compare import fused_vs_unfused
    from .train import evaluate, fit

    nn.manual_seed(c.seed)
    if c.model == "cnn":
        model: Any = cnn_for(d.X_train.shape[1:], d.classes, c.hidden, c.batch_norm)
    else:
        model = MLP(d.X_train.shape[1], *c.hidden, d.classes, activation=c.activation)
    optimizer = _optimizer(c, model.parameters())
    loss_fn = nn.CrossEntropyLoss(fused=c.fused)
    loader = data.DataLoader(
        d.X_train, d.y_train, batch_size=c.batch_size, shuffle=True, seed=c.seed
    )
    val = (d.X_test, d.y_test) if d.X_test is not None else None
    if echo is not None:
        echo(
            f"training {c.model.upper()} {model.layout} ({model.num_parameters():,} parameters, "
            f"{c.activation}) on {c.dataset}: {len(d.y_train)} training points"
            + (f", {len(d.y_test)} held out" if val else "")
            + f"; {c.optimizer} lr {c.lr:g}, {c.schedule} schedule, batch {c.batch_size}, "
            f"{c.epochs} epochs, {'fused' if c.fused else 'unfused'} cross-entropy"
        )
    t0 = time.perf_counter()
    # overflow on the way to a non-finite loss is reported once, by _diverged, not as warnings
    with np.errstate(over="ignore", invalid="ignore"):
        history = fit(
            model,
            loss_fn,
            optimizer,
            loader,
            val_data=val,
            epochs=c.epochs,
            progress=c.progress,
            scheduler=_scheduler(c, optimizer),
            callback=_diverged,
        )
    seconds = time.perf_counter() - t0
    metrics: dict[str, Any] = {
        "dataset": c.dataset,
        "status": "complete",
        "model": {
            "kind": c.model,
            "layers": model.layout,
            "parameters": model.num_parameters(),
            "repr": repr(model),
        },
    }
    result = RunResult(c, metrics)
    last = history.history["train_loss"][-1]
    if not math.isfinite(last):
        result.status = metrics["status"] = "diverged"
        result.message = metrics["message"] = (
            f"training diverged: the loss became {last} in epoch {history.epochs} of "
            f"{c.epochs}, so training stopped; try a smaller learning rate (lr {c.lr:g})"
        )
    else:
        final_train = evaluate(model, d.X_train, d.y_train, loss_fn)
        final_test = evaluate(model, *val, loss_fn) if val else None
        best_epoch, best_train = history.best("train_acc")
        metrics["final"] = {
            "train_loss": final_train.loss,
            "train_accuracy": final_train.accuracy,
            "test_loss": final_test.loss if final_test else None,
            "test_accuracy": final_test.accuracy if final_test else None,
        }
        metrics["best"] = {"train_accuracy": best_train, "train_accuracy_epoch": best_epoch}
        if final_test:
            epoch, value = history.best("val_acc")
            metrics["best"].update(test_accuracy=value, test_accuracy_epoch=epoch)
    metrics["history"] = history.to_dict()
    metrics["config"] = c.to_dict()
    metrics["time"] = {"train_seconds": seconds}
    if result.status == "complete":
        xb, yb = d.X_train[: c.batch_size], d.y_train[: c.batch_size]
        metrics["fused_vs_unfused"] = fused_vs_unfused(model, xb, yb)
    metrics["environment"] = {"python": platform.python_version(), "numpy": np.__version__}
    if d.scaler is not None:
        metrics["preprocessing"] = {
            "standardize_mean": d.scaler.mean.tolist(),
            "standardize_std": d.scaler.std.tolist(),
        }
    return result, model, history


def _write(
    result: RunResult, d: _Data, model: MLP, history: Any, out: Path, started: float
) -> None:
    """Write the run's files: the old metrics.json goes first, the new one comes last."""
    (out / "metrics.json").unlink(missing_ok=True)  # the folder no longer holds a complete run
    files, notes, c = result.files, result.notes, result.config
    if result.status == "complete":
        files["weights"] = out / "model.npz"
        nn.save(model, files["weights"])
        if c.plots:
            try:
                files.update(_write_plots(c, d, model, history, out))
            except ImportError as err:
                notes.append(f"plots skipped: {err} (pip install matplotlib)")
        if c.graph:
            path, note = _write_graph(model, d, c, out)
            files["graph"] = path
            if note:
                notes.append(note)
    files["metrics"] = out / "metrics.json"
    _remove_stale(out, {p.name for p in files.values()})
    result.metrics["files"] = {k: str(v) for k, v in files.items()}
    result.metrics["time"]["total_seconds"] = time.perf_counter() - started
    write_json(files["metrics"], result.metrics)


def _write_graph(model: Any, d: _Data, c: RunConfig, out: Path) -> tuple[Path, str | None]:
    """Draw one batch's loss; returns (path, note). SVG needs ``dot``; else the DOT text."""
    from . import functional as F
    from . import viz
    from .tensor import Tensor

    xb, yb = d.X_train[: c.batch_size], d.y_train[: c.batch_size]
    x, labels = Tensor(xb, name="X"), Tensor(yb, name="y")
    loss = F.cross_entropy(model(x), labels, fused=c.fused)
    names = {p: name for name, p in model.named_parameters()}
    names.update({x: "X", labels: "y", loss: "loss"})
    title = (
        f"{'fused' if c.fused else 'unfused'} cross-entropy loss of one batch "
        f"(X: {len(xb)} rows, y: their labels)"
    )
    rankdir = "TB" if c.model == "cnn" else "LR"  # a CNN's graph is long: top down
    dot = viz.draw_graph(loss, names=names, rules=True, title=title, rankdir=rankdir)

    def render(path: Path, fmt: str) -> Path:
        return replace_atomic(path, lambda tmp: viz.render_graph(dot, tmp, format=fmt))

    try:
        return render(out / "graph.svg", "svg"), None
    except viz.GraphvizNotFoundError as err:
        note = f"Graphviz's dot is not installed, so the graph was written as DOT text ({err})"
        return render(out / "graph.dot", "dot"), note.splitlines()[0]


def _write_plots(c: RunConfig, d: _Data, model: Any, history: Any, out: Path) -> dict:
    """The learning curves, and what suits the data set's kind (decision boundary, images)."""
    from . import plots
    from .train import predict, predict_scores

    kind = data.DATASETS[c.dataset].kind
    figures = [plots.plot_history(history, out / "curves.png")]
    files = {"curves": out / "curves.png"}
    if kind == "points2d" and d.X.shape[1] == 2:

        def predict_fn(points: np.ndarray) -> np.ndarray:
            points = d.scaler.transform(points) if d.scaler is not None else points
            return predict_scores(model, points)

        path = out / "decision_boundary.png"
        title = f"{c.dataset}: decision boundary after {c.epochs} epochs"
        figures.append(plots.plot_decision_boundary(predict_fn, d.X, d.y, path, title=title))
        files["decision_boundary"] = path
    elif kind == "images":
        held_out = d.X_test is not None
        X_show = d.X_test if held_out else d.X_train
        y_show = d.y_test if held_out else d.y_train
        pred = predict(model, X_show)
        flat = X_show.reshape(len(X_show), -1)  # a CNN's inputs are (N, C, H, W)
        images = d.scaler.inverse_transform(flat) if d.scaler is not None else flat
        wrong = np.flatnonzero(pred != y_show)
        order = np.concatenate([wrong, np.flatnonzero(pred == y_show)])[:40]
        path = out / f"{c.dataset}.png"
        title = f"{len(wrong)} mistakes of {len(y_show)} images (mistakes first)"
        figures.append(
            plots.plot_digits(images[order], y_show[order], pred[order], path, title=title)
        )
        files["images"] = path
        if c.model == "cnn":  # what the network learned: its first filters, one image's maps
            conv = next(m for m in model.modules() if isinstance(m, nn.Conv2d))
            path = out / "filters.png"
            figures.append(
                plots.plot_filters(conv.weight, path, title="first conv layer's filters")
            )
            files["filters"] = path
            path = out / "feature_maps.png"
            title = f"feature maps of a held-out image (label {y_show[0]})"
            figures.append(plots.plot_feature_maps(model, X_show[:1], path, title=title))
            files["feature_maps"] = path
    import matplotlib.pyplot as plt

    for fig in figures:
        plt.close(fig)
    return files
