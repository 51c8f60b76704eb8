"""A short training loop (:func:`fit`) and helpers to evaluate a model without recording a graph.

``fit`` does what a hand-written loop does, one batch at a time::

    for xb, yb in train_loader:
        optimizer.zero_grad()
        loss = loss_fn(model(Tensor(xb)), yb)
        loss.backward()
        optimizer.step()

and adds the bookkeeping: per-epoch training and validation loss and accuracy in a
:class:`History`, an optional schedule, and a progress bar (tqdm when installed, else one plain
line; only on a terminal). Writing that loop yourself stays just as easy: :func:`evaluate`,
:func:`predict` and :func:`accuracy` work on any model.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, NamedTuple, TextIO

import numpy as np

from .autograd import no_grad
from .nn import Module
from .tensor import Tensor

__all__ = [
    "Evaluation",
    "History",
    "accuracy",
    "evaluate",
    "fit",
    "predict",
    "predict_scores",
    "train_epoch",
]

_KEYS = ("train_loss", "train_acc", "val_loss", "val_acc", "lr", "epoch_time")


class History(Mapping):
    """Per-epoch records of a :func:`fit` run, readable as a dict of lists.

    Keys: ``train_loss``, ``train_acc``, ``val_loss``, ``val_acc`` (only with validation data),
    ``lr`` (the first group's learning rate used in the epoch) and ``epoch_time`` (seconds).
    Accuracies are fractions in [0, 1], or absent when the task is not classification.
    ``plots.plot_history(history)`` draws it.
    """

    def __init__(self) -> None:
        self.history: dict[str, list[float]] = {key: [] for key in _KEYS}

    def __getitem__(self, key: str) -> list[float]:
        values = self.history.get(key)
        if not values:
            raise KeyError(f"history has no {key!r} values (keys: {list(self)})")
        return values

    def __iter__(self) -> Iterator[str]:
        return (k for k, v in self.history.items() if v)

    def __len__(self) -> int:
        return sum(1 for _ in self)

    @property
    def epochs(self) -> int:
        """Number of epochs recorded."""
        return len(self.history["train_loss"])

    def append(self, **values: float | None) -> None:
        for key, value in values.items():
            if value is not None:
                self.history[key].append(float(value))

    def best(self, key: str = "val_acc") -> tuple[int, float]:
        """``(epoch, value)`` of the best entry of ``key`` (highest accuracy, lowest loss);
        epochs count from 1. NaN epochs (a diverged step) are never picked; ValueError when
        every entry is NaN."""
        values = self.history.get(key) or []
        if not values:
            raise KeyError(f"history has no {key!r} values (keys: {list(self)})")
        if all(np.isnan(values)):
            raise ValueError(f"history has no finite {key!r} values: every epoch is NaN")
        pick = np.nanargmin if key.endswith("loss") else np.nanargmax
        i = int(pick(values))
        return i + 1, values[i]

    def to_dict(self) -> dict[str, list[float]]:
        """A plain dict of the non-empty lists (for JSON)."""
        return {k: list(self.history[k]) for k in self}

    def __repr__(self) -> str:
        last = ", ".join(f"{k}={self.history[k][-1]:.4g}" for k in self if k != "epoch_time")
        return f"History(epochs={self.epochs}{', ' + last if last else ''})"


class Evaluation(NamedTuple):
    """What :func:`evaluate` returns: the mean loss and the accuracy (None if not classes)."""

    loss: float
    accuracy: float | None


# ---------------------------------------------------------------------------------------------
# evaluation without a graph


def _check_batch_size(batch_size: Any, what: str) -> None:
    if batch_size is None:
        return
    if (
        isinstance(batch_size, bool)
        or not isinstance(batch_size, (int, np.integer))
        or batch_size <= 0
    ):
        raise ValueError(
            f"{what}: batch_size must be a positive integer (or None for all rows at once), "
            f"got {batch_size!r}"
        )


def _batches(n: int, batch_size: int | None) -> Iterator[slice]:
    step = n if not batch_size else int(batch_size)
    for start in range(0, n, max(step, 1)):
        yield slice(start, start + step)


def _is_classification(scores: np.ndarray, y: Any) -> bool:
    y = np.asarray(y)
    return scores.ndim == 2 and y.ndim == 1 and y.dtype.kind in "iu"


def _correct(scores: np.ndarray, y: Any) -> int:
    return int(np.count_nonzero(scores.argmax(axis=1) == np.asarray(y)))


class _EvalMode:
    """``model.eval()`` and ``no_grad`` for a block; the model's previous mode comes back."""

    def __init__(self, model: Module) -> None:
        self.model = model
        self.no_grad = no_grad()

    def __enter__(self) -> None:
        self.was_training = [(m, m.training) for m in self.model.modules()]
        self.model.eval()
        self.no_grad.__enter__()

    def __exit__(self, *exc: object) -> None:
        self.no_grad.__exit__(*exc)
        for m, mode in self.was_training:
            object.__setattr__(m, "training", mode)


def predict_scores(model: Module, X: Any, batch_size: int | None = None) -> np.ndarray:
    """The model's raw outputs for ``X`` (e.g. logits ``(N, C)``), in eval mode, no graph."""
    _check_batch_size(batch_size, "predict")
    X = np.asarray(X._data if isinstance(X, Tensor) else X)
    if X.ndim == 0 or len(X) == 0:
        raise ValueError(f"predict: X has no rows (shape {X.shape}); pass at least one row")
    with _EvalMode(model):
        parts = [model(Tensor(X[s])).data for s in _batches(len(X), batch_size)]
    return np.concatenate(parts) if len(parts) != 1 else parts[0]


def predict(model: Module, X: Any, batch_size: int | None = None) -> np.ndarray:
    """Predicted classes ``(N,)``: the argmax of the model's scores ``(N, C)``."""
    scores = predict_scores(model, X, batch_size)
    if scores.ndim != 2:
        raise ValueError(f"predict needs scores of shape (N, C), the model gave {scores.shape}")
    return scores.argmax(axis=1)


def accuracy(model: Module, X: Any, y: Any, batch_size: int | None = None) -> float:
    """Fraction of rows of ``X`` whose predicted class equals ``y``."""
    y = np.asarray(y)
    pred = predict(model, X, batch_size)
    if pred.shape != y.shape:
        raise ValueError(f"{len(pred)} predictions for labels of shape {y.shape}")
    return float(np.mean(pred == y))


def evaluate(
    model: Module,
    X: Any,
    y: Any,
    loss_fn: Callable[[Tensor, Any], Tensor],
    batch_size: int | None = None,
) -> Evaluation:
    """Mean loss and accuracy of ``model`` on ``(X, y)``, in eval mode and without a graph.

    Parameters
    ----------
    model : Module
    X : array_like, shape (N, ...)
    y : array_like, shape (N,) class indices (or any target ``loss_fn`` takes)
    loss_fn : callable
        ``loss_fn(outputs, y) -> scalar Tensor``, a mean over the batch.
    batch_size : int, optional
        Evaluate in chunks (the mean is weighted by chunk size); default all at once.

    Returns
    -------
    Evaluation(loss, accuracy): accuracy is None unless outputs are ``(N, C)`` scores and ``y``
    integer labels.
    """
    _check_batch_size(batch_size, "evaluate")
    X = np.asarray(X._data if isinstance(X, Tensor) else X)
    y = np.asarray(y._data if isinstance(y, Tensor) else y)
    if len(X) != len(y):
        raise ValueError(f"X has {len(X)} rows but y has {len(y)}")
    if len(X) == 0:
        raise ValueError("cannot evaluate on an empty data set")
    total_loss, correct, classify = 0.0, 0, True
    with _EvalMode(model):
        for s in _batches(len(X), batch_size):
            out = model(Tensor(X[s]))
            total_loss += float(loss_fn(out, y[s]).item()) * len(y[s])
            classify = classify and _is_classification(out.data, y[s])
            if classify:
                correct += _correct(out.data, y[s])
    return Evaluation(total_loss / len(X), correct / len(X) if classify else None)


# ---------------------------------------------------------------------------------------------
# progress display


def _import_tqdm() -> Any:
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm


class _PlainProgress:
    """The fallback without tqdm: one line rewritten in place with ``\\r``."""

    def __init__(self, total: int, file: TextIO) -> None:
        self.total, self.file, self.n, self.postfix = total, file, 0, ""
        self.start = time.perf_counter()

    def set_postfix_str(self, text: str) -> None:
        self.postfix = text

    def update(self, n: int = 1) -> None:
        self.n += n
        elapsed = time.perf_counter() - self.start
        self.file.write(f"\repoch {self.n}/{self.total} [{elapsed:.1f}s] {self.postfix}")
        self.file.flush()

    def close(self) -> None:
        self.file.write("\n")
        self.file.flush()


class _NoProgress:
    def set_postfix_str(self, text: str) -> None:
        pass

    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def _progress(total: int, enabled: bool, file: TextIO | None) -> Any:
    file = sys.stderr if file is None else file
    isatty = getattr(file, "isatty", None)
    if not enabled or not (isatty is not None and isatty()):
        return _NoProgress()
    tqdm = _import_tqdm()
    if tqdm is None:
        return _PlainProgress(total, file)
    return tqdm(total=total, file=file, unit="epoch", desc="training", leave=True)


def _status(history: History) -> str:
    h = history.history
    parts = [f"loss {h['train_loss'][-1]:.4f}"]
    if h["train_acc"]:
        parts.append(f"acc {h['train_acc'][-1]:.1%}")
    if h["val_loss"]:
        parts.append(f"val_loss {h['val_loss'][-1]:.4f}")
    if h["val_acc"]:
        parts.append(f"val_acc {h['val_acc'][-1]:.1%}")
    return " ".join(parts)


# ---------------------------------------------------------------------------------------------
# the loop


def _as_loader(train_loader: Any) -> Iterable[tuple[Any, Any]]:
    """A DataLoader (anything re-iterable over ``(xb, yb)``), or ``(X, y)`` for full batches
    (arrays or Tensors: a Tensor's values are used)."""
    if isinstance(train_loader, Tensor):
        raise TypeError(
            "fit: train_loader is a Tensor; pass a pair (X, y), a DataLoader or a list of "
            "(xb, yb) batches"
        )
    if (
        isinstance(train_loader, list)
        and len(train_loader) == 2
        and isinstance(train_loader[0], (np.ndarray, Tensor))
    ):
        raise TypeError(
            "fit: train_loader looks like [X, y] (a list of two arrays); pass the tuple "
            "(X, y) for full-batch training, or a list of (xb, yb) batches"
        )
    if (
        isinstance(train_loader, tuple)
        and len(train_loader) == 2
        and isinstance(train_loader[0], (np.ndarray, Tensor, list))
    ):
        X, y = (_batch_array(a, name) for a, name in zip(train_loader, "Xy", strict=True))
        _check_pair(X, y, "fit")
        return [(X, y)]
    if iter(train_loader) is train_loader:
        raise TypeError(
            "train_loader is a one-shot iterator (it would be empty after the first epoch); "
            "pass a DataLoader, a list of batches or a tuple (X, y)"
        )
    return train_loader


def _batch_array(a: Any, name: str) -> Any:
    """A batch's inputs or targets as an ndarray (a Tensor's values); lists are an error."""
    if isinstance(a, Tensor):
        return a._data
    if isinstance(a, (list, tuple)):
        raise TypeError(
            f"fit: {name} is a Python {type(a).__name__}; pass an ndarray, e.g. "
            f"np.asarray({name}, dtype=np.float32)" + (" / np.asarray(y)" if name == "X" else "")
        )
    return a


def _check_pair(X: Any, y: Any, what: str) -> None:
    nx, ny = (len(a) if np.ndim(a) else None for a in (X, y))
    if nx is None or ny is None or nx != ny:
        raise ValueError(
            f"{what}: X has {nx} rows but y has {ny}; they must have the same number of rows "
            f"(X shape {np.shape(X)}, y shape {np.shape(y)})"
        )


def train_epoch(
    model: Module,
    loss_fn: Callable[[Tensor, Any], Tensor],
    optimizer: Any,
    batches: Iterable[tuple[Any, Any]],
) -> Evaluation:
    """One pass over ``batches`` with an optimizer step per batch, in training mode.

    Returns the mean training loss and accuracy over the epoch (measured on each batch before
    its step, as usual), weighted by batch size.
    """
    model.train()
    total_loss, correct, seen, classify = 0.0, 0, 0, True
    for xb, yb in batches:
        xb, yb = _batch_array(xb, "X"), _batch_array(yb, "y")
        _check_pair(xb, yb, "fit")
        optimizer.zero_grad()
        out = model(Tensor(xb))
        loss = loss_fn(out, yb)
        loss.backward()
        optimizer.step()
        n = len(yb)
        total_loss += float(loss.item()) * n
        seen += n
        classify = classify and _is_classification(out._data, yb)
        if classify:
            correct += _correct(out._data, yb)
    if seen == 0:
        raise ValueError("the training loader yielded no batches")
    return Evaluation(total_loss / seen, correct / seen if classify else None)


def fit(
    model: Module,
    loss_fn: Callable[[Tensor, Any], Tensor],
    optimizer: Any,
    train_loader: Any,
    val_data: tuple[Any, Any] | None = None,
    epochs: int = 10,
    progress: bool = True,
    scheduler: Any = None,
    callback: Callable[[int, History], Any] | None = None,
    file: TextIO | None = None,
) -> History:
    """Train ``model`` for ``epochs`` passes over ``train_loader``.

    Parameters
    ----------
    model : Module
    loss_fn : callable
        ``loss_fn(outputs, yb) -> scalar Tensor``, e.g. ``nn.CrossEntropyLoss()``.
    optimizer : optim.Optimizer
    train_loader : iterable of (xb, yb)
        A ``data.DataLoader`` (re-iterated every epoch), a list of batches, or a tuple
        ``(X, y)`` of arrays meaning full-batch training.
    val_data : (X_val, y_val), optional
        Evaluated after every epoch (eval mode, no graph).
    epochs : int
        Number of passes (>= 0).
    progress : bool
        Show a progress bar (epoch, loss, accuracy) on ``file`` (stderr) when it is a terminal;
        tqdm when installed, else a plain line. Never shown when not a terminal.
    scheduler : optim.LRScheduler, optional
        ``scheduler.step()`` is called after every epoch.
    callback : callable, optional
        ``callback(epoch, history)`` after every epoch (epochs count from 1); return True to
        stop early.
    file : text stream, optional
        Where the progress bar goes (default ``sys.stderr``).

    Returns
    -------
    History
        ``train_loss``, ``train_acc``, ``val_loss``, ``val_acc``, ``lr``, ``epoch_time`` per
        epoch.
    """
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
        raise ValueError(f"epochs must be a non-negative integer, got {epochs!r}")
    batches = _as_loader(train_loader)
    if val_data is not None:
        if not (isinstance(val_data, (tuple, list)) and len(val_data) == 2):
            raise TypeError("val_data must be a pair (X_val, y_val)")
    history = History()
    bar = _progress(int(epochs), progress, file)
    try:
        for epoch in range(1, int(epochs) + 1):
            start = time.perf_counter()
            lr = optimizer.param_groups[0]["lr"] if hasattr(optimizer, "param_groups") else None
            train = train_epoch(model, loss_fn, optimizer, batches)
            val = evaluate(model, *val_data, loss_fn) if val_data is not None else None
            if scheduler is not None:
                scheduler.step()
            history.append(
                train_loss=train.loss,
                train_acc=train.accuracy,
                val_loss=val.loss if val else None,
                val_acc=val.accuracy if val else None,
                lr=lr,
                epoch_time=time.perf_counter() - start,
            )
            bar.set_postfix_str(_status(history))
            bar.update(1)
            if callback is not None and callback(epoch, history):
                break
    finally:
        bar.close()
    return history
