"""Fused vs unfused softmax cross-entropy, side by side, on the same logits and labels.

:func:`compare_cross_entropy` measures

* agreement: loss and gradient of ``F.cross_entropy(fused=True)``, ``fused=False`` and a
  hand-written numpy reference (log-sum-exp forward, ``(softmax - onehot) / N`` backward);
* time: median forward and backward time of each, and the ratios;
* graph: the number of Function nodes reachable from the loss, the bytes the graph holds for
  the backward pass, and the peak memory of one forward + backward (tracemalloc);
* stability: over logit scales 1 .. 1e4 in float32 and float64, whether the loss and the
  gradient of the fused loss, the unfused loss and the naive textbook formula
  ``-log(exp(z_y) / sum(exp(z)))`` (no max shift) are finite and right.

:func:`fused_vs_unfused` does the same for one training step of a real model.

The loss itself always comes from :mod:`tinygrad_ce.functional`; the numpy references and the
naive formula (the thing that breaks) are in :mod:`tinygrad_ce.reference`, the timing harness
in :mod:`tinygrad_ce.timing`, the figure in :func:`tinygrad_ce.plots.plot_comparison`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from . import functional as F
from .autograd import Function, topological_order
from .nn import Module
from .outputs import jsonable
from .reference import (
    naive_cross_entropy,
    numpy_backward,
    numpy_forward,
    numpy_tuned_backward,
    numpy_tuned_forward,
)
from .tensor import Tensor
from .timing import Runner, calibrate_number, held_bytes, median_time, peak_bytes, time_runners

__all__ = [
    "ComparisonResult",
    "compare_cross_entropy",
    "engine_runner",
    "fused_vs_unfused",
    "graph_nodes",
    "naive_cross_entropy",
    "numpy_backward",
    "numpy_forward",
    "numpy_runner",
    "numpy_tuned_backward",
    "numpy_tuned_forward",
    "saved_bytes",
    "stability_sweep",
]

METHODS = ("fused", "unfused", "numpy")
SWEEP_METHODS = ("fused", "unfused", "naive")
DEFAULT_SCALES = (1.0, 10.0, 100.0, 1e3, 1e4)
DEFAULT_DTYPES = ("float32", "float64")
# a sweep result is "ok" when finite and within this normwise relative error of float64
SWEEP_RTOL = {"float32": 1e-4, "float64": 1e-10}
# the comparison holds a few copies of the (batch, classes) logits: refuse (rather than run out
# of memory) above this many, as ``run.MAX_PARAMETERS`` does for training
MAX_LOGITS = 20_000_000


# ---------------------------------------------------------------------------------------------
# graph measurements


def graph_nodes(out: Tensor) -> list[Function]:
    """The Function nodes reachable from ``out`` (each once), each after its inputs' nodes."""
    return [t._ctx for t in topological_order(out) if t._ctx is not None]


def _owner(a: np.ndarray) -> np.ndarray:
    while isinstance(a.base, np.ndarray):
        a = a.base
    return a


def _arrays_in(value: Any, depth: int = 0) -> Iterable[np.ndarray]:
    """ndarrays referenced by ``value``: itself, inside tuples/lists, or attributes (2 levels)."""
    if isinstance(value, np.ndarray):
        yield value
    elif isinstance(value, Tensor):
        yield value._data
    elif isinstance(value, (tuple, list)):
        for v in value:
            yield from _arrays_in(v, depth)
    elif depth < 2 and hasattr(value, "__dict__") and not isinstance(value, type):
        for v in vars(value).values():
            yield from _arrays_in(v, depth + 1)


def saved_bytes(out: Tensor, exclude: Iterable[np.ndarray] = ()) -> int:
    """Bytes held by the graph of ``out`` for its backward pass.

    Counts every distinct ndarray buffer (a view counts as its owner, once) that a node
    reachable from ``out`` references: intermediate results, saved values, constants, index
    arrays and ``out`` itself. Leaf tensors' data (the inputs) and the arrays in ``exclude``
    (such as the labels) are not counted.
    """
    nodes = graph_nodes(out)
    skip = {id(_owner(a)) for a in exclude}
    for node in nodes:
        for x in node.inputs:
            if isinstance(x, Tensor) and x._ctx is None:
                skip.add(id(_owner(x._data)))
    counted: dict[int, int] = {}
    for arr in [out._data, *(a for node in nodes for a in _arrays_in(node))]:
        base = _owner(arr)
        if id(base) not in skip:
            counted[id(base)] = base.nbytes
    return sum(counted.values())


# ---------------------------------------------------------------------------------------------
# timing


def engine_runner(z: np.ndarray, y: np.ndarray, fused: bool, **options: Any) -> Runner:
    """A :class:`Runner` for ``F.cross_entropy`` on a leaf holding ``z``.

    The leaf shares ``z``'s memory (no copy), so every runner reads the very same buffer: the
    relative placement of input and output buffers measurably changes numpy's speed.
    """
    x = Tensor._make(z, True, None)  # a leaf that shares z (Tensor(z) would copy it)

    def forward() -> Tensor:
        return F.cross_entropy(x, y, fused=fused, **options)

    def backward(loss: Tensor) -> np.ndarray:
        loss.backward()
        g, x.grad = x.grad, None
        return g

    return Runner(forward, backward)


def numpy_runner(z: np.ndarray, y: np.ndarray, tuned: bool = False) -> Runner:
    """A :class:`Runner` for the hand-written numpy reference (or its tuned variant)."""
    fwd, bwd = (
        (numpy_tuned_forward, numpy_tuned_backward) if tuned else (numpy_forward, numpy_backward)
    )
    return Runner(lambda: fwd(z, y), lambda state: bwd(state[1]))


# ---------------------------------------------------------------------------------------------
# agreement and stability


def _diff(a: Any, b: Any) -> dict[str, float]:
    """Max absolute difference and the normwise relative one, ``max|a - b| / max|b|``."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        abs_ = float(np.max(np.abs(a - b))) if a.size else 0.0
        scale = float(np.max(np.abs(b))) if b.size else 0.0
    rel = abs_ / scale if scale else (0.0 if abs_ == 0 else math.inf)
    return {"abs": abs_, "rel": rel}


def _loss_and_grad(method: str, z: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    if method == "numpy":
        loss, saved = numpy_forward(z, y)
        return float(loss), numpy_backward(saved)
    x = Tensor(z, requires_grad=True)
    if method == "naive":
        loss = naive_cross_entropy(x, y)
    else:
        loss = F.cross_entropy(x, y, fused=(method == "fused"))
    loss.backward()
    return float(loss.item()), x.grad


def _verdict(values: np.ndarray, rel_err: float, tol: float) -> str:
    if np.isnan(values).any():
        return "nan"
    if not np.isfinite(values).all():
        return "inf"
    return "ok" if rel_err <= tol else "off"


def stability_sweep(
    batch: int,
    classes: int,
    scales: Iterable[float] = DEFAULT_SCALES,
    dtypes: Iterable[str] = DEFAULT_DTYPES,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Loss and gradient of fused, unfused and naive at each logit scale and dtype.

    The logits are ``scale * standard_normal((batch, classes))`` rounded to the dtype; the
    truth is the numpy reference in float64 on those same rounded values. Each row says
    whether the loss and the gradient are finite, their normwise relative errors, and a
    status: "ok" when both are finite and within ``SWEEP_RTOL``, otherwise "LOSS/GRAD" with
    each part "ok", "off" (finite but outside the tolerance), "inf" or "nan" (e.g. "nan/nan").
    """
    rng = np.random.default_rng(seed)
    base = rng.standard_normal((batch, classes))
    y = rng.integers(0, classes, batch)
    rows = []
    for dtype in dtypes:
        tol = SWEEP_RTOL[dtype]
        for scale in scales:
            z = (base * scale).astype(dtype)
            true_loss, true_grad = _loss_and_grad("numpy", z.astype(np.float64), y)
            for method in SWEEP_METHODS:
                with np.errstate(all="ignore"):
                    loss, g = _loss_and_grad(method, z, y)
                loss_ok, grad_ok = math.isfinite(loss), bool(np.all(np.isfinite(g)))
                loss_err = _diff(loss, true_loss)["rel"] if loss_ok else math.inf
                grad_err = _diff(g, true_grad)["rel"] if grad_ok else math.inf
                parts = (_verdict(np.asarray(loss), loss_err, tol), _verdict(g, grad_err, tol))
                status = "ok" if parts == ("ok", "ok") else "/".join(parts)
                rows.append(
                    {
                        "dtype": dtype,
                        "scale": float(scale),
                        "method": method,
                        "loss": loss,
                        "loss_finite": loss_ok,
                        "grad_finite": grad_ok,
                        "loss_rel_err": loss_err,
                        "grad_rel_err": grad_err,
                        "status": status,
                    }
                )
    return rows


# ---------------------------------------------------------------------------------------------
# the result


def _fmt_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def _fmt_time(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} us"
    return f"{seconds * 1e3:.2f} ms"


@dataclass
class ComparisonResult:
    """What :func:`compare_cross_entropy` measured. ``to_dict()`` for JSON, ``table()`` to read.

    Attributes
    ----------
    config : dict
        batch, classes, dtype, scale, seed, repeats, number (calls per timed block).
    losses : dict
        method -> loss value ("fused", "unfused", "numpy").
    agreement : dict
        "fused_vs_unfused", "fused_vs_numpy", "unfused_vs_numpy" -> {"loss_abs", "loss_rel",
        "grad_abs", "grad_rel"}; rel is ``max|a - b| / max|b|``.
    timing : dict
        method -> {"forward", "backward", "total"} median seconds, and "ratios" ->
        {"fused/unfused", "fused/numpy", "unfused/numpy"} of the totals.
    graph : dict
        method -> {"nodes", "saved_bytes", "peak_bytes"} (numpy: nodes 0).
    stability : list of dict
        One row per (dtype, scale, method), see :func:`stability_sweep`.
    """

    config: dict[str, Any]
    losses: dict[str, float]
    agreement: dict[str, dict[str, float]]
    timing: dict[str, Any]
    graph: dict[str, dict[str, int]]
    stability: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain, strictly JSON-serialisable data (non-finite numbers become None)."""
        return jsonable(asdict(self))

    def __getitem__(self, key: str) -> Any:
        return getattr(self, key)

    def table(self) -> str:
        """A plain-text report, one section per measurement."""
        c = self.config
        lines = [
            f"softmax cross-entropy, fused vs unfused: batch {c['batch']}, classes "
            f"{c['classes']}, {c['dtype']}, logits = {c['scale']:g} * N(0, 1), seed {c['seed']}",
            "",
            f"{'agreement':<20}{'loss':>14}{'|d loss|':>11}{'max|d grad|':>13}{'rel d grad':>12}",
        ]
        for key, (a, b) in {
            "fused_vs_unfused": ("fused", "unfused"),
            "fused_vs_numpy": ("fused", "numpy"),
            "unfused_vs_numpy": ("unfused", "numpy"),
        }.items():
            d = self.agreement[key]
            lines.append(
                f"{a + ' vs ' + b:<20}{self.losses[a]:>14.8g}{d['loss_abs']:>11.2g}"
                f"{d['grad_abs']:>13.2g}{d['grad_rel']:>12.2g}"
            )
        t = self.timing
        lines += [
            "",
            f"{'time (median of ' + str(c['repeats']) + ')':<20}{'forward':>11}{'backward':>11}"
            f"{'total':>11}{'x numpy':>9}",
        ]
        for m in METHODS:
            tm = t[m]
            lines.append(
                f"{m:<20}{_fmt_time(tm['forward']):>11}{_fmt_time(tm['backward']):>11}"
                f"{_fmt_time(tm['total']):>11}{tm['total'] / t['numpy']['total']:>8.2f}x"
            )
        r = t["ratios"]
        lines.append(
            f"fused/unfused {r['fused/unfused']:.2f}x, fused/numpy {r['fused/numpy']:.2f}x, "
            f"unfused/numpy {r['unfused/numpy']:.2f}x"
        )
        lines += ["", f"{'graph':<20}{'nodes':>7}{'held for backward':>19}{'peak fwd+bwd':>14}"]
        for m in METHODS:
            gm = self.graph[m]
            lines.append(
                f"{m:<20}{gm['nodes']:>7}{_fmt_bytes(gm['saved_bytes']):>19}"
                f"{_fmt_bytes(gm['peak_bytes']):>14}"
            )
        if self.stability:
            lines += ["", *self.stability_table().splitlines()]
        return "\n".join(lines)

    def stability_table(self) -> str:
        """The sweep as a grid: one line per scale, one column per (dtype, method)."""
        dtypes = list(dict.fromkeys(r["dtype"] for r in self.stability))
        scales = list(dict.fromkeys(r["scale"] for r in self.stability))
        cell = {(r["dtype"], r["scale"], r["method"]): r["status"] for r in self.stability}
        width = 9
        group = width * len(SWEEP_METHODS)
        lines = [
            "stability sweep: ok = loss and gradient finite and within 1e-4 (float32) / 1e-10 "
            "(float64)",
            "of a float64 reference; otherwise loss/gradient, each ok, off (finite but wrong), "
            "inf or nan",
            f"{'':<12}" + "  ".join(f"{d:^{group}}" for d in dtypes),
            f"{'scale':<12}"
            + "  ".join("".join(f"{m:>{width}}" for m in SWEEP_METHODS) for _ in dtypes),
        ]
        for s in scales:
            lines.append(
                f"{s:<12g}"
                + "  ".join(
                    "".join(f"{cell[(d, s, m)]:>{width}}" for m in SWEEP_METHODS) for d in dtypes
                )
            )
        lines = [line.rstrip() for line in lines]
        return "\n".join(lines)

    def plot(self, path: str) -> None:
        """Save a figure: time per method (left), stability sweep errors (right); see
        :func:`tinygrad_ce.plots.plot_comparison`."""
        from .plots import plot_comparison

        plot_comparison(self, path)


# ---------------------------------------------------------------------------------------------
# the entry point


def compare_cross_entropy(
    batch: int = 64,
    classes: int = 10,
    *,
    dtype: str = "float64",
    scale: float = 1.0,
    repeats: int = 20,
    seed: int = 0,
    sweep: bool = True,
    scales: Iterable[float] = DEFAULT_SCALES,
) -> ComparisonResult:
    """Compare fused and unfused cross-entropy (and a numpy reference) on the same data.

    Parameters
    ----------
    batch, classes : int
        Logits have shape (batch, classes); labels are integers in [0, classes).
    dtype : "float32" or "float64"
        Dtype of the logits for the agreement, timing and graph measurements.
    scale : float
        Logits are ``scale * standard_normal``.
    repeats : int
        Timed rounds (medians are reported); each round times a block of calls long enough
        to measure (``config["number"]`` calls).
    seed : int
        Seed of the logits and labels.
    sweep : bool
        Also run the stability sweep over ``scales`` in float32 and float64.

    Returns
    -------
    ComparisonResult (``result.table()``, ``result.to_dict()``, ``result.plot(path)``).
    """
    if batch < 1 or classes < 1:
        raise ValueError(f"batch and classes must be >= 1, got batch={batch}, classes={classes}")
    if batch * classes > MAX_LOGITS:
        raise ValueError(
            f"batch {batch} x classes {classes} = {batch * classes:,} logits; the comparison "
            f"is for sizes that fit in memory a few times over (at most {MAX_LOGITS:,})"
        )
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    if dtype not in DEFAULT_DTYPES:
        raise ValueError(f"dtype must be one of {DEFAULT_DTYPES}, got {dtype!r}")
    rng = np.random.default_rng(seed)
    z = (scale * rng.standard_normal((batch, classes))).astype(dtype)
    y = rng.integers(0, classes, batch)

    values = {m: _loss_and_grad(m, z, y) for m in METHODS}
    agreement = {}
    for a, b in (("fused", "unfused"), ("fused", "numpy"), ("unfused", "numpy")):
        dl, dg = _diff(values[a][0], values[b][0]), _diff(values[a][1], values[b][1])
        agreement[f"{a}_vs_{b}"] = {
            "loss_abs": dl["abs"],
            "loss_rel": dl["rel"],
            "grad_abs": dg["abs"],
            "grad_rel": dg["rel"],
        }

    runners = {
        "fused": engine_runner(z, y, fused=True),
        "unfused": engine_runner(z, y, fused=False),
        "numpy": numpy_runner(z, y),
    }
    number = calibrate_number(runners["unfused"])
    timing: dict[str, Any] = time_runners(runners, repeats=repeats, number=number)
    tot = {m: timing[m]["total"] for m in METHODS}
    timing["ratios"] = {
        "fused/unfused": tot["fused"] / tot["unfused"],
        "fused/numpy": tot["fused"] / tot["numpy"],
        "unfused/numpy": tot["unfused"] / tot["numpy"],
    }

    graph = {}
    for m in ("fused", "unfused"):
        x = Tensor(z, requires_grad=True)
        loss = F.cross_entropy(x, y, fused=(m == "fused"))
        graph[m] = {
            "nodes": len(graph_nodes(loss)),
            "saved_bytes": saved_bytes(loss, exclude=(y,)),
        }
        del loss, x
    _, saved = numpy_forward(z, y)
    graph["numpy"] = {
        "nodes": 0,
        "saved_bytes": sum(a.nbytes for a in saved[:2]),  # exp(z - max) and the row sums
    }
    del saved
    for m, run in runners.items():
        graph[m]["peak_bytes"] = peak_bytes(lambda run=run: run.backward(run.forward()))

    stability = stability_sweep(batch, classes, scales=scales, seed=seed) if sweep else []
    config = {
        "batch": batch,
        "classes": classes,
        "dtype": dtype,
        "scale": float(scale),
        "seed": seed,
        "repeats": repeats,
        "number": number,
    }
    losses = {m: values[m][0] for m in METHODS}
    return ComparisonResult(config, losses, agreement, timing, graph, stability)


# ---------------------------------------------------------------------------------------------
# fused vs unfused cross-entropy on one batch of a real model


def fused_vs_unfused(
    model: Module, X: Any, y: Any, repeats: int = 20, **loss_options: Any
) -> dict[str, Any]:
    """Run one training step's forward and backward on the batch ``(X, y)`` twice, with the
    fused and the unfused cross-entropy, and compare.

    The model is put in eval mode for the comparison (so dropout draws no masks) and its
    ``.grad`` s are left as None; parameters are not changed.

    Parameters
    ----------
    model : Module
        Outputs logits ``(N, C)`` for ``X``.
    X : array_like, shape (N, ...)
    y : array_like of int, shape (N,)
    repeats : int
        Timed runs of each variant (the median is kept).
    **loss_options
        Passed to ``F.cross_entropy`` (``reduction``, ``label_smoothing`` ...).

    Returns
    -------
    dict with ``loss_fused``, ``loss_unfused``, ``loss_abs_diff``, ``grad_max_abs_diff`` (over
    every parameter entry), ``grad_max_rel_diff`` (divided by the largest gradient entry),
    ``nodes_fused``, ``nodes_unfused`` (graph nodes of the whole step), ``step_time_fused``,
    ``step_time_unfused`` (seconds, forward + backward through the model),
    ``step_time_ratio`` (unfused / fused), and ``loss_time_fused``, ``loss_time_unfused``,
    ``loss_time_ratio`` for the loss alone on the same logits.
    """
    X = np.asarray(X.data if isinstance(X, Tensor) else X)
    y = np.asarray(y.data if isinstance(y, Tensor) else y)
    params = list(model.parameters())
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    result: dict[str, Any] = {}
    grads: dict[bool, list[np.ndarray]] = {}
    try:
        logits = model(Tensor(X)).data
        for fused in (True, False):
            key = "fused" if fused else "unfused"

            def step(fused: bool = fused) -> Tensor:
                model.zero_grad()
                loss = F.cross_entropy(model(Tensor(X)), y, fused=fused, **loss_options)
                loss.backward()
                return loss

            def loss_only(fused: bool = fused) -> None:
                z = Tensor(logits, requires_grad=True)
                F.cross_entropy(z, y, fused=fused, **loss_options).backward()

            loss = step()
            result[f"loss_{key}"] = float(loss.item())
            result[f"nodes_{key}"] = len(graph_nodes(loss))
            grads[fused] = [
                np.array(p.grad, dtype=np.float64) for p in params if p.grad is not None
            ]
            result[f"step_time_{key}"] = median_time(step, repeats)
            result[f"loss_time_{key}"] = median_time(loss_only, repeats)
    finally:
        model.zero_grad()
        for m, mode in modes:
            object.__setattr__(m, "training", mode)
    diffs = [np.max(np.abs(a - b)) for a, b in zip(grads[True], grads[False], strict=True)]
    largest = max((float(np.max(np.abs(a))) for a in grads[True]), default=0.0)
    grad_diff = float(max(diffs, default=0.0))
    result["loss_abs_diff"] = abs(result["loss_fused"] - result["loss_unfused"])
    result["grad_max_abs_diff"] = grad_diff
    result["grad_max_rel_diff"] = grad_diff / largest if largest > 0 else 0.0
    result["step_time_ratio"] = result["step_time_unfused"] / result["step_time_fused"]
    result["loss_time_ratio"] = result["loss_time_unfused"] / result["loss_time_fused"]
    result["batch"] = len(X)
    return result


# ---------------------------------------------------------------------------------------------
# word2vec's full softmax: the loss over a whole vocabulary, fused vs unfused


def skipgram_runner(
    V: np.ndarray, U: np.ndarray, centres: np.ndarray, contexts: np.ndarray, fused: bool
) -> Runner:
    """A :class:`Runner` for one skip-gram step: ``CE(V[centres] @ U, contexts)`` and its
    backward to ``V`` and ``U`` (leaves sharing the arrays' memory); returns ``(dV, dU)``."""
    v, u = Tensor._make(V, True, None), Tensor._make(U, True, None)

    def forward() -> Tensor:
        return F.cross_entropy(v[centres] @ u, contexts, fused=fused)

    def backward(loss: Tensor) -> tuple[np.ndarray, np.ndarray]:
        loss.backward()
        grads = (v.grad, u.grad)
        v.grad = u.grad = None
        return grads

    return Runner(forward, backward)


def full_softmax_sweep(
    vocab_sizes: Iterable[int] = (1000, 3000, 10000, 30000),
    batch: int = 256,
    dim: int = 100,
    repeats: int = 5,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Fused vs unfused cross-entropy in a word2vec step, for each vocabulary size.

    The step is ``loss = CE(V[centres] @ U, contexts)`` (float32, ``V`` (vocab, dim), ``U``
    (dim, vocab), ``batch`` random pairs) forward and backward. Per vocabulary size and method:
    median step seconds (``time_runners``, blocks of about 20 ms), bytes held for backward
    after the forward (``held_bytes``, tracemalloc) and the peak of one forward + backward
    (``peak_bytes``).

    Returns
    -------
    list of dict, one per size: ``vocab``, ``fused`` and ``unfused`` (each ``{"seconds",
    "held", "peak"}``), ``speedup`` (unfused / fused time), ``memory_ratio`` (unfused /
    fused held bytes) and ``logits_bytes`` (one (batch, vocab) float32 array, which both
    methods hold: the scores).
    """
    rng = np.random.default_rng(seed)
    rows = []
    for vocab in vocab_sizes:
        V = (rng.standard_normal((vocab, dim)) * 0.1).astype(np.float32)
        U = (rng.standard_normal((dim, vocab)) * 0.1).astype(np.float32)
        centres = rng.integers(0, vocab, batch)
        contexts = rng.integers(0, vocab, batch)
        runners = {
            m: skipgram_runner(V, U, centres, contexts, fused=(m == "fused"))
            for m in ("fused", "unfused")
        }
        number = calibrate_number(runners["fused"], target_seconds=0.02)
        times = time_runners(runners, repeats=repeats, number=number)
        row: dict[str, Any] = {"vocab": int(vocab), "logits_bytes": batch * vocab * 4}
        for m, run in runners.items():
            loss, held = held_bytes(run.forward)
            run.backward(loss)
            del loss
            peak = peak_bytes(lambda r=run: r.backward(r.forward()))
            row[m] = {"seconds": times[m]["total"], "held": held, "peak": peak}
        row["speedup"] = row["unfused"]["seconds"] / row["fused"]["seconds"]
        row["memory_ratio"] = row["unfused"]["held"] / row["fused"]["held"]
        rows.append(row)
    return rows
