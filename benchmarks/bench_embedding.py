"""The embedding backward: ways to scatter-add gradient rows into a (V, D) table.

``F.embedding(idx, W)`` picks rows ``W[idx]``; its VJP adds each upstream row ``g[i]`` into
row ``idx[i]`` of a zero (V, D) gradient, a scatter-add where repeated indices accumulate.
Candidates (each writes into a fresh zero table, so the shared cost of the dense output is
included in every column):

    add.at      np.add.at(out, idx, g)
    sort        stable argsort of idx, np.add.reduceat over runs of equal ids, one row write
    bincount    one np.bincount over flat (id * D + column) positions (float64 weights)
    one-hot     (U, N) one-hot of the U distinct ids @ g (BLAS), one row write

Prints milliseconds per call (best of several) and each method's time relative to the sort.
Run: ``python benchmarks/bench_embedding.py`` (1 BLAS thread).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import time  # noqa: E402

import numpy as np  # noqa: E402

from tinygrad_ce.ops.shape import scatter_add_rows  # noqa: E402


def add_at(idx: np.ndarray, g: np.ndarray, vocab: int) -> np.ndarray:
    out = np.zeros((vocab, g.shape[1]), g.dtype)
    np.add.at(out, idx, g)
    return out


def by_sorting(idx: np.ndarray, g: np.ndarray, vocab: int) -> np.ndarray:
    return scatter_add_rows(idx, g, vocab)  # the library's choice


def by_bincount(idx: np.ndarray, g: np.ndarray, vocab: int) -> np.ndarray:
    d = g.shape[1]
    flat = (idx[:, None] * d + np.arange(d)).reshape(-1)
    sums = np.bincount(flat, weights=g.reshape(-1), minlength=vocab * d)
    return sums.reshape(vocab, d).astype(g.dtype)


def by_onehot(idx: np.ndarray, g: np.ndarray, vocab: int) -> np.ndarray:
    ids, inverse = np.unique(idx, return_inverse=True)
    onehot = np.zeros((len(ids), len(idx)), g.dtype)
    onehot[inverse, np.arange(len(idx))] = 1
    out = np.zeros((vocab, g.shape[1]), g.dtype)
    out[ids] = onehot @ g
    return out


def by_cumsum(idx: np.ndarray, g: np.ndarray, vocab: int) -> np.ndarray:
    order = np.argsort(idx, kind="stable")
    ids = idx[order]
    ends = np.flatnonzero(np.concatenate((ids[1:] != ids[:-1], [True])))
    sums = np.cumsum(g[order], axis=0, dtype=np.float64)[ends]
    sums[1:] -= sums[:-1].copy()
    out = np.zeros((vocab, g.shape[1]), g.dtype)
    out[ids[ends]] = sums
    return out


METHODS = {
    "add.at": add_at,
    "sort": by_sorting,
    "bincount": by_bincount,
    "one-hot": by_onehot,
    "cumsum": by_cumsum,
}
CASES = [  # (vocabulary, indices, dim): a char GPT batch, word models, a big vocabulary
    (65, 2048, 128),
    (10_000, 2048, 128),
    (10_000, 32_768, 128),
    (50_000, 16_384, 128),
    (50_000, 2048, 768),
]


def best_ms(fn, *args, repeat: int = 7) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        fn(*args)
        best = min(best, time.process_time() - start)
    return best * 1e3


def main() -> None:
    rng = np.random.default_rng(0)
    names = list(METHODS)
    print(f"{'vocab':>7} {'N':>7} {'D':>5} " + " ".join(f"{n:>16}" for n in names))
    for vocab, n, d in CASES:
        idx = rng.integers(0, vocab, n)
        g = rng.standard_normal((n, d)).astype(np.float32)
        want = add_at(idx, g, vocab)
        times = {}
        for name, fn in METHODS.items():
            np.testing.assert_allclose(fn(idx, g, vocab), want, rtol=1e-4, atol=1e-4)
            times[name] = best_ms(fn, idx, g, vocab)
        cells = [f"{times[k]:8.2f} ({times[k] / times['sort']:4.1f}x)" for k in names]
        print(f"{vocab:>7} {n:>7} {d:>5} " + " ".join(f"{c:>16}" for c in cells))
    print("ms per call (best of 7); in brackets: time / sort's time")


if __name__ == "__main__":
    main()
