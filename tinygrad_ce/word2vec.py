"""word2vec skip-gram with a full softmax over the vocabulary: the founding gradient at work.

The model (Mikolov et al. 2013; CS224n's notation): every word ``w`` has a centre vector
``V[w]`` (a row of ``V``, shape (vocab, d)) and an output vector ``U[:, w]`` (a column of
``U``, shape (d, vocab)). For a centre word ``c`` and a word ``o`` seen near it::

    scores  = U^T v_c                          (vocab,)    v_c = V[c]
    p(o | c) = softmax(U^T v_c)[o]
    J       = CE(softmax(U^T v_c), onehot(o)) = -log p(o | c)
    dJ/dv_c = U (softmax(U^T v_c) - onehot(o))           (d,)
    dJ/dU   = v_c (softmax(U^T v_c) - onehot(o))^T       (d, vocab)

This is the question the project began with: for ``L = CE(softmax(A^T y), x)`` the gradient is
``dL/dy = A (softmax(A^T y) - x)``; here ``A = U``, ``y = v_c`` and ``x = onehot(o)``. The
engine finds it by chaining two VJPs: the fused ``SoftmaxCrossEntropy`` node gives
``g = softmax(beta) - x`` for ``beta = U^T v_c``, and ``MatMul`` contracts it with ``U``
(``dy = A g``) -- no Jacobian ``dbeta/dy = A^T`` is ever built.

A minibatch stacks B pairs: ``logits = V[centres] @ U`` of shape (B, vocab) and the loss is
``F.cross_entropy(logits, contexts)`` (mean over the batch), so each row of the gradient is
the formula above divided by B.

- ``skipgram_pairs`` / ``subsample``: (centre, context) pairs from a token sequence;
- ``SkipGram``: the model (a ``Module`` with ``V`` and ``U``);
- ``train_skipgram``: minibatch training with ``optim.Adam`` (or SGD);
- ``nearest_neighbours`` / ``neighbour_table`` / ``format_neighbours``: cosine similarity.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

import numpy as np

from . import functional as F
from . import optim
from .nn import Module, Parameter, _rng
from .tensor import Tensor

__all__ = [
    "DEFAULT_QUERY_WORDS",
    "SkipGram",
    "TrainResult",
    "format_neighbours",
    "nearest_neighbours",
    "neighbour_table",
    "query_words",
    "skipgram_pairs",
    "subsample",
    "train_skipgram",
]

# words that are frequent in CPython's documentation and have clear neighbours
DEFAULT_QUERY_WORDS = (
    "list",
    "int",
    "true",
    "class",
    "method",
    "exception",
    "string",
    "statement",
    "module",
    "attribute",
    "argument",
    "loop",
)


# ---------------------------------------------------------------------------------------------
# pairs


def _int_ids(ids: Any, name: str = "ids") -> np.ndarray:
    arr = np.asarray(ids)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D sequence of token ids, got shape {arr.shape}")
    if arr.size and arr.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integer token ids, got dtype {arr.dtype}")
    return arr.astype(np.int64, copy=False)


def skipgram_pairs(
    ids: Any, window: int = 2, skip_id: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Every (centre, context) pair of tokens at most ``window`` positions apart.

    Parameters
    ----------
    ids : array_like of int, shape (N,)
        A token sequence.
    window : int
        Largest distance between a centre and a context token (both directions).
    skip_id : int, optional
        Leave out pairs where either token is this id (the unknown token, usually 0).

    Returns
    -------
    centres, contexts : ndarray, int64, shape (P,)
        For distance ``o = 1 .. window``: ``(ids[i], ids[i + o])`` and ``(ids[i + o],
        ids[i])``; ``P = 2 * sum_o (N - o)`` before skipping.
    """
    arr = _int_ids(ids)
    if not isinstance(window, (int, np.integer)) or isinstance(window, bool) or window < 1:
        raise ValueError(f"window must be a positive int, got {window!r}")
    centres, contexts = [], []
    for o in range(1, min(int(window), len(arr) - 1) + 1):
        left, right = arr[:-o], arr[o:]
        centres += [left, right]
        contexts += [right, left]
    if not centres:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty.copy()
    c, x = np.concatenate(centres), np.concatenate(contexts)
    if skip_id is not None:
        keep = (c != skip_id) & (x != skip_id)
        c, x = c[keep], x[keep]
    return c, x


def subsample(
    ids: Any, counts: Any, threshold: float = 1e-3, rng: np.random.Generator | int | None = None
) -> np.ndarray:
    """Drop occurrences of frequent words at random (word2vec's subsampling).

    A word of frequency ``f = count / total`` is kept with probability ``min(1, sqrt(t / f) +
    t / f)`` (the formula of the original C code, ``t = threshold``): "the" and "a" lose most
    of their occurrences, rare words keep all. Their neighbours then come closer.

    Parameters
    ----------
    ids : array_like of int, shape (N,)
    counts : array_like, shape (vocab,)
        How often each id occurs in the corpus (``WordTokenizer.counts``).
    threshold : float
        ``t`` above; larger keeps more.
    rng : numpy Generator or seed

    Returns
    -------
    ndarray, int64: the kept ids, in order.
    """
    arr = _int_ids(ids)
    counts = np.asarray(counts, dtype=np.float64)
    if not threshold > 0:
        raise ValueError(f"threshold must be > 0, got {threshold!r}")
    if arr.size and arr.max() >= len(counts):
        raise ValueError(f"ids go up to {arr.max()} but counts has only {len(counts)} entries")
    freq = counts / max(counts.sum(), 1.0)
    with np.errstate(divide="ignore"):
        ratio = np.where(freq > 0, threshold / freq, np.inf)
    keep_prob = np.minimum(1.0, np.sqrt(ratio) + ratio)
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    return arr[gen.random(len(arr)) < keep_prob[arr]]


# ---------------------------------------------------------------------------------------------
# the model


class SkipGram(Module):
    """Skip-gram with a full softmax: ``logits = V[centres] @ U``, one row per pair.

    Parameters
    ----------
    vocab_size : int
        Number of words (ids ``0 .. vocab_size - 1``).
    dim : int
        Embedding size d.
    rng : Generator or int, optional
        Where the initial values come from (default: ``nn.manual_seed``'s generator).
    dtype : numpy dtype
        float32 by default.

    Attributes
    ----------
    V : Parameter, shape (vocab_size, dim)
        Centre vectors, one row per word; uniform in ``[-0.5/d, 0.5/d]`` as in word2vec.
    U : Parameter, shape (dim, vocab_size)
        Output vectors, one column per word (the ``A`` of ``softmax(A^T y)``); zeros at the
        start, as in word2vec (the first steps move ``U``, then both move).
    """

    def __init__(
        self,
        vocab_size: int,
        dim: int,
        rng: np.random.Generator | int | None = None,
        dtype: Any = np.float32,
    ) -> None:
        super().__init__()
        for label, n in (("vocab_size", vocab_size), ("dim", dim)):
            if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
                raise ValueError(f"SkipGram: {label} must be a positive int, got {n!r}")
        self.vocab_size, self.dim = int(vocab_size), int(dim)
        gen = _rng(rng)
        bound = 0.5 / dim
        self.V = Parameter(gen.uniform(-bound, bound, (vocab_size, dim)).astype(dtype))
        self.U = Parameter(np.zeros((dim, vocab_size), dtype=dtype))

    def _check_ids(self, ids: Any, name: str) -> np.ndarray:
        arr = _int_ids(ids, name)
        if arr.size and (arr.min() < 0 or arr.max() >= self.vocab_size):
            raise ValueError(
                f"{name} must be word ids in 0..{self.vocab_size - 1}, got min {arr.min()}, "
                f"max {arr.max()}"
            )
        return arr

    def forward(self, centres: Any) -> Tensor:
        """Scores of every word as context of each centre: ``V[centres] @ U``, (B, vocab)."""
        c = self._check_ids(centres, "centres")
        return self.V[c] @ self.U

    def loss(self, centres: Any, contexts: Any, fused: bool = True) -> Tensor:
        """Mean ``-log p(context | centre)`` over the B pairs (``F.cross_entropy``).

        ``fused=True`` records one ``SoftmaxCrossEntropy`` node; ``False`` the same loss from
        primitive ops (slower, more memory; same value and gradient).
        """
        o = self._check_ids(contexts, "contexts")
        c = self._check_ids(centres, "centres")
        if len(o) != len(c):
            raise ValueError(f"got {len(c)} centres but {len(o)} contexts; pass one of each")
        return F.cross_entropy(self.V[c] @ self.U, o, fused=fused)

    def embeddings(self, which: str = "centre") -> np.ndarray:
        """The word vectors, (vocab, d): ``"centre"`` (V), ``"output"`` (U^T) or ``"sum"``."""
        if which == "centre":
            return self.V.data
        if which == "output":
            return self.U.data.T
        if which == "sum":
            return self.V.data + self.U.data.T
        raise ValueError(f"which must be 'centre', 'output' or 'sum', got {which!r}")

    def extra_repr(self) -> str:
        return f"vocab_size={self.vocab_size}, dim={self.dim}"


# ---------------------------------------------------------------------------------------------
# training


@dataclass
class TrainResult:
    """What ``train_skipgram`` did: the loss every ``log_every`` steps, and the throughput."""

    steps: int = 0
    pairs: int = 0
    seconds: float = 0.0
    epochs: float = 0.0
    loss_steps: list[int] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)

    @property
    def pairs_per_second(self) -> float:
        return self.pairs / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "steps": self.steps,
            "pairs": self.pairs,
            "seconds": self.seconds,
            "epochs": self.epochs,
            "pairs_per_second": self.pairs_per_second,
            "loss_steps": list(self.loss_steps),
            "losses": list(self.losses),
        }


def train_skipgram(
    model: SkipGram,
    ids: Any,
    *,
    window: int = 2,
    batch_size: int = 256,
    epochs: float = 1.0,
    max_seconds: float | None = None,
    lr: float = 3e-3,
    optimizer: str = "adam",
    counts: Any = None,
    subsample_threshold: float | None = 1e-3,
    skip_id: int | None = 0,
    fused: bool = True,
    seed: int = 0,
    log_every: int = 100,
    progress: TextIO | bool | None = None,
) -> TrainResult:
    """Train a :class:`SkipGram` on a token sequence with minibatches of shuffled pairs.

    Each epoch subsamples the sequence afresh (when ``counts`` is given), makes its
    ``skipgram_pairs``, shuffles them and takes steps of ``batch_size`` pairs: ``loss =
    model.loss(centres, contexts)``, ``backward()``, ``optimizer.step()``.

    Parameters
    ----------
    model : SkipGram
    ids : array_like of int, shape (N,)
        The corpus as word ids (``WordTokenizer(..., punctuation=False).encode(text)``).
    window : int
        Context distance.
    batch_size : int
        Pairs per step B.
    epochs : float
        Passes over the pairs (a fraction stops part-way).
    max_seconds : float, optional
        Stop after this much time even if the epochs are not done.
    lr : float
        Learning rate.
    optimizer : "adam" | "sgd"
        ``optim.Adam(lr)`` or ``optim.SGD(lr)``.
    counts : array_like, optional
        Word counts for ``subsample``; None: no subsampling.
    subsample_threshold : float, optional
        ``t`` of ``subsample`` (None: no subsampling).
    skip_id : int, optional
        Pairs with this id (the unknown word) are not trained on.
    fused : bool
        The fused cross-entropy node (True) or the composed one.
    seed : int
        Seed of the subsampling and shuffling.
    log_every : int
        Record the mean loss of every this many steps (and print it with ``progress``).
    progress : file, True or None
        Where to print progress lines (True: stderr).

    Returns
    -------
    TrainResult
    """
    arr = _int_ids(ids)
    if batch_size < 1 or log_every < 1:
        raise ValueError(f"batch_size and log_every must be >= 1, got {batch_size}, {log_every}")
    if not epochs > 0:
        raise ValueError(f"epochs must be > 0, got {epochs!r}")
    params = [model.V, model.U]
    if optimizer == "adam":
        opt: optim.Optimizer = optim.Adam(params, lr=lr)
    elif optimizer == "sgd":
        opt = optim.SGD(params, lr=lr)
    else:
        raise ValueError(f"optimizer must be 'adam' or 'sgd', got {optimizer!r}")
    out = sys.stderr if progress is True else (progress or None)
    rng = np.random.default_rng(seed)
    result = TrainResult()
    start = time.perf_counter()
    running, running_n = 0.0, 0
    epoch = 0
    stop = False
    while not stop and epoch < math.ceil(epochs):
        seq = arr
        if counts is not None and subsample_threshold is not None:
            seq = subsample(arr, counts, subsample_threshold, rng)
        centres, contexts = skipgram_pairs(seq, window, skip_id)
        if len(centres) == 0:
            raise ValueError(
                f"no (centre, context) pairs: {len(arr)} ids, window {window}; use more text"
            )
        order = rng.permutation(len(centres))
        n_steps = math.ceil(len(order) / batch_size)
        if epoch + 1 > epochs:  # the last, partial epoch
            n_steps = max(1, round(n_steps * (epochs - epoch)))
        for b in range(n_steps):
            batch = order[b * batch_size : (b + 1) * batch_size]
            loss = model.loss(centres[batch], contexts[batch], fused=fused)
            opt.zero_grad()
            loss.backward()
            opt.step()
            result.steps += 1
            result.pairs += len(batch)
            running += float(loss.data)
            running_n += 1
            if running_n == log_every:
                _log(result, running / running_n, start, out)
                running, running_n = 0.0, 0
            if max_seconds is not None and time.perf_counter() - start >= max_seconds:
                stop = True
                break
        result.epochs += (b + 1) / math.ceil(len(order) / batch_size)
        epoch += 1
    if running_n:
        _log(result, running / running_n, start, out)
    result.seconds = time.perf_counter() - start
    return result


def _log(result: TrainResult, loss: float, start: float, out: TextIO | None) -> None:
    result.loss_steps.append(result.steps)
    result.losses.append(loss)
    if out is not None:
        seconds = time.perf_counter() - start
        print(
            f"step {result.steps:>6}  loss {loss:.4f}  {result.pairs / max(seconds, 1e-9):,.0f} "
            f"pairs/s  {seconds:.1f} s",
            file=out,
            flush=True,
        )


# ---------------------------------------------------------------------------------------------
# nearest neighbours


def nearest_neighbours(
    embeddings: Any, queries: Any, k: int = 5, exclude: Sequence[int] = (0,)
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` words whose vectors have the largest cosine similarity to each query's.

    Parameters
    ----------
    embeddings : array_like, shape (vocab, d)
    queries : array_like of int, shape (Q,)
        Word ids.
    k : int
        Neighbours per query (the query itself is never one).
    exclude : sequence of int
        Ids that are never neighbours (the unknown word, by default id 0).

    Returns
    -------
    ids : ndarray, int64, shape (Q, k)
        Neighbours, most similar first.
    sims : ndarray, float64, shape (Q, k)
        Their cosine similarities ``e_q . e_w / (|e_q| |e_w|)`` (0 for a zero vector).
    """
    emb = np.asarray(embeddings, dtype=np.float64)
    if emb.ndim != 2:
        raise ValueError(f"embeddings must be (vocab, d), got shape {emb.shape}")
    q = _int_ids(queries, "queries")
    if q.size and (q.min() < 0 or q.max() >= len(emb)):
        raise ValueError(f"query ids must be in 0..{len(emb) - 1}, got {q.tolist()}")
    excluded = set(exclude)
    # the fewest candidates any query has: all words but the excluded ones and itself
    available = len(emb) - len(excluded) - (0 if excluded.issuperset(q.tolist()) else 1)
    if not 1 <= k <= max(available, 0):
        raise ValueError(f"k must be in 1..{available} for {len(emb)} words, got {k}")
    norms = np.linalg.norm(emb, axis=1)
    unit = emb / np.where(norms > 0, norms, 1.0)[:, None]
    sims = unit[q] @ unit.T  # (Q, vocab)
    sims[np.arange(len(q)), q] = -np.inf
    if len(exclude):
        sims[:, list(exclude)] = -np.inf
    top = np.argsort(-sims, axis=1, kind="stable")[:, :k]
    return top, np.take_along_axis(sims, top, axis=1)


def query_words(vocab: Sequence[str], wanted: Sequence[str] = DEFAULT_QUERY_WORDS, n: int = 8):
    """The ``wanted`` words that are in ``vocab``; if none are, the ``n`` most frequent words.

    ``vocab`` is ordered by frequency with the unknown token first (``WordTokenizer.vocab``).
    """
    known = set(vocab)
    found = [w for w in wanted if w in known]
    return found or [w for w in vocab[1 : n + 1]]


def neighbour_table(
    embeddings: Any, vocab: Sequence[str], words: Sequence[str], k: int = 5
) -> list[tuple[str, list[tuple[str, float]]]]:
    """``[(word, [(neighbour, cosine), ...]), ...]`` for each of ``words`` (must be in vocab)."""
    index = {w: i for i, w in enumerate(vocab)}
    missing = [w for w in words if w not in index]
    if missing:
        raise ValueError(f"not in the vocabulary: {', '.join(map(repr, missing))}")
    ids, sims = nearest_neighbours(embeddings, [index[w] for w in words], k)
    return [
        (w, [(vocab[j], float(s)) for j, s in zip(row, srow, strict=True)])
        for w, row, srow in zip(words, ids, sims, strict=True)
    ]


def format_neighbours(table: list[tuple[str, list[tuple[str, float]]]]) -> str:
    """The table as Markdown: one row per word, its neighbours with cosine similarities."""
    lines = ["| word | nearest neighbours (cosine similarity) |", "|---|---|"]
    for word, nbrs in table:
        lines.append(f"| {word} | " + ", ".join(f"{w} ({s:.2f})" for w, s in nbrs) + " |")
    return "\n".join(lines)
