"""Training a character-level GPT from start to finish: ``tinygrad-ce train --model gpt``.

>>> from tinygrad_ce.run_gpt import GPTRunConfig, run_gpt_training
>>> result = run_gpt_training(GPTRunConfig(steps=200, out="runs/gpt"))  # doctest: +SKIP
>>> result.metrics["final"]["val_loss"], result.metrics["bigram"]["val_loss"]  # doctest: +SKIP

:func:`run_gpt_training` reads a corpus (``CORPORA`` by name, or a UTF-8 file), builds a
:class:`~tinygrad_ce.data.text.CharTokenizer`, splits the ids (the last ``val_fraction`` is
held out), fits the character bigram model as the baseline to beat, trains a
:class:`~tinygrad_ce.models.GPT` with AdamW on random windows, and writes to the output folder
(with the same rules as :mod:`tinygrad_ce.run`: atomic files, a non-empty folder refused
unless ``force``, a fresh ``runs/<corpus>-gpt[-N]`` by default):

* ``model.npz``: the weights (:func:`tinygrad_ce.nn.save`);
* ``curves.png``: training and validation loss against the step, the bigram's as a line;
* ``samples.txt``: text sampled from the trained model;
* ``metrics.json`` last (strict JSON): losses in nats per character, the bigram's validation
  loss on the same split, tokens per second, the model's configuration and the tokenizer's
  vocabulary (so :func:`load_gpt_run` can rebuild the model and its tokenizer from the folder).

A loss that stops being finite ends the run: no weights, ``"status": "diverged"``.
"""

from __future__ import annotations

import dataclasses
import math
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import nn, optim
from .autograd import no_grad
from .data.text import CORPORA, BigramModel, CharTokenizer, load_corpus, sample_windows, split_ids
from .models import GPT, GPTConfig
from .outputs import replace_atomic, write_json
from .run import (
    MAX_PARAMETERS,
    ConfigError,
    RunError,
    RunResult,
    _one_blas_thread,
    _remove_stale,
    check_output_folder,
    fresh_folder,
)

__all__ = ["GPTRunConfig", "GPTRun", "load_gpt_run", "resolve_gpt", "run_gpt_training"]


@dataclass
class GPTRunConfig:
    """Settings of a GPT run. The defaults train a 0.4 M-parameter model in about three minutes.

    ``text`` (a UTF-8 file) replaces the named ``corpus``. Training stops after ``steps``
    optimizer steps or ``max_seconds``, whichever comes first; the learning rate warms up
    linearly over the first ``warmup`` steps and then follows a cosine down to ``lr / 10``.
    The validation loss is the mean over ``eval_batches`` fixed batches of the held-out text,
    measured every ``eval_interval`` steps and at the end.
    """

    corpus: str = "pydoc"
    text: str | None = None
    block_size: int = 64
    n_layer: int = 2
    n_head: int = 4
    n_embd: int = 128
    steps: int = 1000
    max_seconds: float | None = None
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 0.1
    warmup: int = 50
    val_fraction: float = 0.1
    eval_interval: int = 100
    eval_batches: int = 8
    sample_chars: int = 300
    prompt: str | None = None
    seed: int = 0
    out: str | None = None
    force: bool = False
    progress: bool = True
    plots: bool = True

    def to_dict(self) -> dict[str, Any]:
        """The settings that shape the result (for ``metrics.json``)."""
        skip = ("force", "progress", "plots")
        return {k: v for k, v in dataclasses.asdict(self).items() if k not in skip}


@dataclass
class GPTRun:
    """A trained run read back from its folder by :func:`load_gpt_run`."""

    model: GPT
    tokenizer: CharTokenizer
    metrics: dict[str, Any]
    folder: Path = field(default_factory=Path)


def _positive_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= 1


def resolve_gpt(config: GPTRunConfig) -> GPTRunConfig:
    """A checked copy of ``config`` (with ``out`` filled in). Raises :class:`ConfigError`."""
    c = dataclasses.replace(config)
    if c.text is None and c.corpus not in CORPORA:
        raise ConfigError(
            "corpus",
            f"unknown corpus {c.corpus!r} for {{option}}; choose one of: {', '.join(CORPORA)} "
            "(or pass --text FILE)",
        )
    if c.text is not None and not Path(c.text).is_file():
        raise ConfigError("text", f"{{option}} {c.text!r}: no such file")
    for name in ("block_size", "n_layer", "n_head", "n_embd", "steps", "batch_size"):
        if not _positive_int(getattr(c, name)):
            raise ConfigError(name, f"{{option}} must be >= 1, got {getattr(c, name)!r}")
    for name in ("eval_interval", "eval_batches"):
        if not _positive_int(getattr(c, name)):
            raise ConfigError(name, f"{{option}} must be >= 1, got {getattr(c, name)!r}")
    if c.n_embd % c.n_head:
        raise ConfigError(
            "n_embd", f"{{option}} {c.n_embd} must be divisible by the number of heads {c.n_head}"
        )
    if not (isinstance(c.lr, (int, float)) and math.isfinite(c.lr) and c.lr > 0):
        raise ConfigError("lr", f"{{option}} must be a positive number, got {c.lr}")
    if not (math.isfinite(c.weight_decay) and c.weight_decay >= 0):
        raise ConfigError("weight_decay", f"{{option}} must be >= 0, got {c.weight_decay}")
    if c.max_seconds is not None and not (math.isfinite(c.max_seconds) and c.max_seconds > 0):
        raise ConfigError("max_seconds", f"{{option}} must be > 0, got {c.max_seconds}")
    if not 0 < c.val_fraction < 1:
        raise ConfigError("val_fraction", f"{{option}} must be in (0, 1), got {c.val_fraction}")
    for name in ("warmup", "sample_chars"):
        value = getattr(c, name)
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 0:
            raise ConfigError(name, f"{{option}} must be an integer >= 0, got {value!r}")
    if c.out is None:
        name = Path(c.text).stem if c.text is not None else c.corpus
        c.out = str(fresh_folder(Path("runs") / f"{name}-gpt"))
    return c


def _lr_at(c: GPTRunConfig, step: int) -> float:
    """Linear warm-up to ``lr``, then a cosine to ``lr / 10`` at the last step."""
    if step < c.warmup:
        return c.lr * (step + 1) / c.warmup
    span = max(c.steps - c.warmup, 1)
    t = min((step - c.warmup) / span, 1.0)
    return c.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * t)))


def _progress(total: int, enabled: bool) -> Any:
    """tqdm on a terminal (as ``fit``'s bar), else nothing."""
    from .train import _progress as fit_progress

    bar = fit_progress(total, enabled, None)
    if hasattr(bar, "unit"):
        bar.unit, bar.desc = "step", "training GPT"
    return bar


def _val_loss(model: GPT, batches: list[tuple[np.ndarray, np.ndarray]]) -> float:
    with no_grad():
        model.eval()
        try:
            return float(np.mean([model.loss(x, y).item() for x, y in batches]))
        finally:
            model.train()


def run_gpt_training(config: GPTRunConfig, echo: Callable[[str], Any] | None = None) -> RunResult:
    """Train, sample, write; see the module docstring.

    Raises
    ------
    ConfigError before any work for a bad setting, a corpus too short for the block size, or an
    output folder that may not be used; RunError when a file cannot be written.
    """
    started = time.perf_counter()
    c = resolve_gpt(config)
    try:
        text = load_corpus(c.corpus, path=c.text)
    except (ValueError, OSError) as err:
        raise ConfigError("text" if c.text else "corpus", f"{{option}}: {err}") from None
    tok = CharTokenizer(text)
    ids = tok.encode(text)
    try:
        train_ids, val_ids = split_ids(ids, c.val_fraction)
    except ValueError as err:
        raise ConfigError("text" if c.text else "corpus", f"{{option}}: {err}") from None
    if len(val_ids) < c.block_size + 1 or len(train_ids) < c.block_size + 1:
        raise ConfigError(
            "block_size",
            f"{{option}} {c.block_size} needs windows of {c.block_size + 1} characters, but the "
            f"text splits into {len(train_ids)} for training and {len(val_ids)} for validation; "
            "use a smaller --block-size or more text",
        )
    gpt_config = GPTConfig(tok.vocab_size, c.block_size, c.n_layer, c.n_head, c.n_embd)
    out = Path(c.out)
    if out.exists() and not out.is_dir():
        raise ConfigError("out", f"{{option}} {str(out)!r} is a file, not a folder")
    check_output_folder(out, c.force)
    model = GPT(gpt_config, rng=c.seed)
    if model.num_parameters() > MAX_PARAMETERS:
        raise ConfigError(
            "n_embd",
            f"the model has {model.num_parameters():,} parameters; this trainer is for small "
            f"models (at most {MAX_PARAMETERS:,}): lower {{option}} or --n-layer",
        )
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise RunError(f"cannot create output folder {out}: {err.strerror or err}") from None

    bigram = BigramModel(tok.vocab_size, alpha=0.1).fit(train_ids)
    metrics: dict[str, Any] = {
        "kind": "gpt",
        "status": "complete",
        "corpus": c.text if c.text is not None else c.corpus,
        "characters": {"train": len(train_ids), "val": len(val_ids)},
        "model": {
            "kind": "gpt",
            "config": dataclasses.asdict(gpt_config),
            "parameters": model.num_parameters(),
        },
        "tokenizer": {"kind": "char", "vocab": tok.vocab},
        "bigram": {"alpha": 0.1, "val_loss": bigram.loss(val_ids)},
    }
    result = RunResult(c, metrics)  # type: ignore[arg-type]
    if echo is not None:
        echo(
            f"training GPT ({model.num_parameters():,} parameters: {c.n_layer} layer(s), "
            f"{c.n_head} heads, width {c.n_embd}, context {c.block_size}) on "
            f"{metrics['corpus']}: {len(train_ids):,} characters ({tok.vocab_size} distinct), "
            f"{len(val_ids):,} held out; AdamW lr {c.lr:g}, batch {c.batch_size}, up to "
            f"{c.steps} steps"
            + (f" or {c.max_seconds:g} s" if c.max_seconds else "")
            + f"; bigram baseline {metrics['bigram']['val_loss']:.3f} nats/char"
        )
    try:
        with _one_blas_thread():  # sampling too: one token at a time is small matrices
            history = _train(c, model, train_ids, val_ids, result)
            _write(c, result, model, tok, history, out, started)
    except OSError as err:
        where = f" {err.filename}" if err.filename else ""
        raise RunError(f"cannot write{where}: {err.strerror or err}") from None
    return result


def _train(
    c: GPTRunConfig,
    model: GPT,
    train_ids: np.ndarray,
    val_ids: np.ndarray,
    result: RunResult,
) -> dict[str, list]:
    """The training loop; fills ``result.metrics`` and returns the loss history."""
    rng = np.random.default_rng(c.seed)
    val_rng = np.random.default_rng(c.seed + 1)
    val_batches = [
        sample_windows(val_ids, c.block_size, c.batch_size, val_rng) for _ in range(c.eval_batches)
    ]
    opt = optim.AdamW(model.parameters(), lr=c.lr, weight_decay=c.weight_decay)
    history: dict[str, list] = {"step": [], "train_loss": [], "val_step": [], "val_loss": []}
    bar = _progress(c.steps, c.progress)
    val_loss = _val_loss(model, val_batches)
    history["val_step"].append(0)
    history["val_loss"].append(val_loss)
    t0 = time.perf_counter()
    tokens, step, loss_value = 0, 0, float("nan")
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            while step < c.steps:
                if c.max_seconds is not None and time.perf_counter() - t0 >= c.max_seconds:
                    break
                for group in opt.param_groups:
                    group["lr"] = _lr_at(c, step)
                x, y = sample_windows(train_ids, c.block_size, c.batch_size, rng)
                loss = model.loss(x, y)
                loss_value = loss.item()
                step += 1
                tokens += x.size
                history["step"].append(step)
                history["train_loss"].append(loss_value)
                if not math.isfinite(loss_value):
                    break
                opt.zero_grad()
                loss.backward()
                opt.step()
                if step % c.eval_interval == 0 or step == c.steps:
                    val_loss = _val_loss(model, val_batches)
                    history["val_step"].append(step)
                    history["val_loss"].append(val_loss)
                seconds = time.perf_counter() - t0
                bar.set_postfix_str(
                    f"loss {loss_value:.3f}, val {val_loss:.3f}, {tokens / seconds:,.0f} tok/s"
                )
                bar.update(1)
    finally:
        bar.close()
    seconds = time.perf_counter() - t0
    m = result.metrics
    if not math.isfinite(loss_value):
        result.status = m["status"] = "diverged"
        result.message = m["message"] = (
            f"training diverged: the loss became {loss_value} at step {step} of {c.steps}, so "
            f"training stopped; try a smaller learning rate (lr {c.lr:g})"
        )
    else:
        if history["val_step"][-1] != step:  # stopped by the clock: measure where it ended
            history["val_step"].append(step)
            history["val_loss"].append(_val_loss(model, val_batches))
        tail = history["train_loss"][-max(1, min(c.eval_interval, step)) :]
        m["final"] = {
            "steps": step,
            "train_loss": float(np.mean(tail)),
            "val_loss": history["val_loss"][-1],
            "best_val_loss": min(history["val_loss"]),
        }
        m["final"]["below_bigram"] = m["bigram"]["val_loss"] - m["final"]["val_loss"]
    m["time"] = {
        "train_seconds": seconds,
        "tokens": tokens,
        "tokens_per_second": tokens / seconds if seconds > 0 else None,
    }
    m["history"] = history
    m["config"] = c.to_dict()
    m["environment"] = {"python": platform.python_version(), "numpy": np.__version__}
    return history


def _samples(c: GPTRunConfig, model: GPT, tok: CharTokenizer) -> str:
    """A few samples, each from its own prompt and seed (temperature 0.8, top-k 20)."""
    if c.prompt:
        prompts = [c.prompt]
    else:
        prompts = [p for p in ("The ", "def ", "\n") if all(ch in tok.index for ch in p)]
        prompts = prompts or [tok.vocab[0]]
    parts = []
    for i, prompt in enumerate(prompts):
        ids = model.generate(
            tok.encode(prompt), c.sample_chars, temperature=0.8, top_k=20, rng=c.seed + i
        )
        parts.append(
            f"--- sample {i + 1}: prompt {prompt!r}, temperature 0.8, top_k 20, seed "
            f"{c.seed + i} ---\n{tok.decode(ids)}\n"
        )
    return "\n".join(parts)


def plot_lm_curves(
    history: dict[str, list], bigram: float | None = None, path: Any = None, title: str = ""
) -> Any:
    """Training loss per step (faint, and its running mean) and validation loss, nats/char."""
    from .plots import _pyplot

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    steps, losses = np.asarray(history["step"]), np.asarray(history["train_loss"], float)
    if len(losses):
        ax.plot(steps, losses, color="C0", alpha=0.25, lw=0.8)
        k = max(1, min(50, len(losses) // 10))
        smooth = np.convolve(losses, np.ones(k) / k, mode="valid")
        ax.plot(steps[k - 1 :], smooth, color="C0", label=f"training (mean of {k} steps)")
    ax.plot(history["val_step"], history["val_loss"], "o-", color="C1", label="validation")
    if bigram is not None:
        ax.axhline(bigram, color="gray", ls="--", label=f"bigram baseline ({bigram:.3f})")
    ax.set_xlabel("step")
    ax.set_ylabel("loss (nats per character)")
    ax.set_title(title or "character-level GPT")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=100)
    return fig


def _write(
    c: GPTRunConfig,
    result: RunResult,
    model: GPT,
    tok: CharTokenizer,
    history: dict[str, list],
    out: Path,
    started: float,
) -> None:
    """Weights, curves, samples, then metrics.json last (the old one goes first)."""
    (out / "metrics.json").unlink(missing_ok=True)
    files, m = result.files, result.metrics
    if result.status == "complete":
        files["weights"] = out / "model.npz"
        nn.save(model, files["weights"])
        if c.plots:
            try:
                fig = plot_lm_curves(
                    history, m["bigram"]["val_loss"], title=f"GPT on {m['corpus']}"
                )
            except ImportError as err:
                result.notes.append(f"plots skipped: {err} (pip install matplotlib)")
            else:
                import matplotlib.pyplot as plt

                files["curves"] = replace_atomic(
                    out / "curves.png", lambda tmp: fig.savefig(tmp, dpi=100, format="png")
                )
                plt.close(fig)
        if c.sample_chars > 0:
            text = _samples(c, model, tok).encode("utf-8")
            files["samples"] = replace_atomic(
                out / "samples.txt", lambda tmp: tmp.write_bytes(text)
            )
    files["metrics"] = out / "metrics.json"
    _remove_stale(out, {p.name for p in files.values()})
    m["files"] = {k: str(v) for k, v in files.items()}
    m["time"]["total_seconds"] = time.perf_counter() - started
    write_json(files["metrics"], m)


# ---------------------------------------------------------------------------------------------
# reading a run back


def load_gpt_run(folder: str | Path) -> GPTRun:
    """The model, tokenizer and metrics of a run written by :func:`run_gpt_training`.

    Raises :class:`RunError` with a one-line message when the folder is missing, holds no
    complete GPT run (no ``metrics.json``, another kind of run, a diverged one, no weights) or
    its files cannot be read.
    """
    import json

    folder = Path(folder)
    if not folder.is_dir():
        raise RunError(f"{str(folder)!r} is not a folder (pass the --out folder of a GPT run)")
    path = folder / "metrics.json"
    if not path.is_file():
        raise RunError(
            f"{str(folder)!r} holds no metrics.json, so no complete run (train one with "
            "tinygrad-ce train --model gpt)"
        )
    try:
        metrics = json.loads(path.read_text(encoding="utf-8"))
        if metrics.get("kind") != "gpt":
            raise RunError(f"{str(folder)!r} holds a run of another model, not a GPT")
        if metrics.get("status") != "complete":
            raise RunError(f"{str(folder)!r} holds a run that {metrics.get('status')}: no weights")
        config = GPTConfig(**metrics["model"]["config"])
        tok = CharTokenizer("".join(metrics["tokenizer"]["vocab"]))
    except (ValueError, KeyError, TypeError) as err:
        raise RunError(f"{path}: not a GPT run's metrics ({type(err).__name__}: {err})") from None
    if tok.vocab_size != config.vocab_size:
        raise RunError(f"{path}: the vocabulary does not match the model's vocab_size")
    model = GPT(config, rng=0)
    try:
        nn.load(model, folder / "model.npz")
    except FileNotFoundError:
        raise RunError(f"{str(folder)!r} holds no model.npz (the weights)") from None
    except (nn.CheckpointError, OSError, ValueError) as err:
        raise RunError(f"{folder / 'model.npz'}: {err}") from None
    return GPTRun(model, tok, metrics, folder)


def generate_text(
    run: GPTRun,
    prompt: str,
    max_new_tokens: int = 200,
    temperature: float = 1.0,
    top_k: int | None = None,
    seed: int | None = 0,
) -> str:
    """``prompt`` followed by ``max_new_tokens`` characters sampled from ``run``'s model.

    Raises ValueError naming the first character of ``prompt`` the tokenizer does not know.
    """
    unknown = [ch for ch in prompt if ch not in run.tokenizer.index]
    if unknown:
        raise ValueError(
            f"the prompt's character {unknown[0]!r} is not among the {run.tokenizer.vocab_size} "
            "characters the model was trained on"
        )
    if not prompt:
        raise ValueError("the prompt is empty: give at least one character")
    with _one_blas_thread():  # one token at a time: small matrices, fastest on one thread
        ids = run.model.generate(
            run.tokenizer.encode(prompt), max_new_tokens, temperature, top_k, rng=seed
        )
    return run.tokenizer.decode(ids)
