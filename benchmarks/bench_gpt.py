"""A GPT training step: tinygrad_ce against the same model in PyTorch eager mode (CPU).

The model: ``GPTConfig(n_layer=2, n_head=4, n_embd=128, block_size=64)``, a character
vocabulary of 65, batch 32, float32, exact GELU (nanoGPT's), tied embedding/head weights. The
PyTorch model (``torch_gpt.TorchGPT``) gets a copy of our initial weights; both take the same
step on the same batches: ``zero_grad``, forward, fused cross-entropy, ``backward``,
``AdamW.step``. A check runs first: the two losses of the first steps agree.

Reported, in one run: the best and median milliseconds per step over ``--steps`` steps per
round and ``--repeats`` rounds, the two frameworks interleaved within each round (a busy
machine slows them alike); the ratio ours / torch (below 1: we are faster); tokens per second
(``batch * block_size`` per step); our peak memory during a step (``tracemalloc``, which sees
numpy's arrays; PyTorch's allocator is invisible to it, so its column is empty) and the whole
process's peak RSS at the end.

Run: ``python benchmarks/bench_gpt.py`` (about a minute). One BLAS/torch thread.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import ctypes  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import tinygrad_ce  # noqa: E402
from tinygrad_ce import optim  # noqa: E402
from tinygrad_ce.models import GPT, GPTConfig  # noqa: E402
from tinygrad_ce.timing import peak_bytes  # noqa: E402


def _batches(vocab: int, batch: int, block: int, count: int, seed: int = 0) -> list:
    rng = np.random.default_rng(seed)
    text = rng.integers(0, vocab, 50_000)  # random ids: the step's cost does not depend on them
    out = []
    for _ in range(count):
        starts = rng.integers(0, len(text) - block - 1, batch)
        x = np.stack([text[s : s + block] for s in starts])
        y = np.stack([text[s + 1 : s + block + 1] for s in starts])
        out.append((x, y))
    return out


def keep_freed_memory() -> None:
    """glibc's malloc hands large freed blocks back to the kernel (``munmap``, heap trimming),
    so every new large temporary is fresh memory that page-faults as it is first written.
    Numpy allocates a temporary per operation; where page faults are costly (virtualised
    machines) that is a large part of an elementwise op's time. This raises the mmap and
    trim thresholds to 1 GiB (the same as ``MALLOC_MMAP_THRESHOLD_`` and
    ``MALLOC_TRIM_THRESHOLD_`` in the environment), for both frameworks alike."""
    libc = ctypes.CDLL("libc.so.6")
    m_trim_threshold, m_mmap_threshold = -1, -3
    if not (libc.mallopt(m_mmap_threshold, 1 << 30) and libc.mallopt(m_trim_threshold, 1 << 30)):
        raise SystemExit("mallopt failed: not glibc?")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5, help="steps per round (default 5)")
    parser.add_argument("--repeats", type=int, default=4, help="rounds (default 4)")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--gelu", choices=("none", "tanh"), default="none")
    parser.add_argument("--no-torch", action="store_true", help="time tinygrad_ce only")
    parser.add_argument(
        "--keep-freed-memory",
        action="store_true",
        help="tell glibc's malloc to keep freed blocks (mallopt), for the whole process",
    )
    args = parser.parse_args(argv)
    if args.keep_freed_memory:
        keep_freed_memory()

    cfg = GPTConfig(vocab_size=65, block_size=64, n_layer=2, n_head=4, n_embd=128)
    ours = GPT(cfg, rng=0)
    if args.gelu == "tanh":
        for block in ours.h:
            block.mlp[1].approximate = "tanh"
    opt = optim.AdamW(ours.parameters(), lr=3e-4, weight_decay=0.1)
    batches = _batches(cfg.vocab_size, args.batch, cfg.block_size, args.steps)

    def step_ours(x: np.ndarray, y: np.ndarray) -> float:
        opt.zero_grad()
        loss = ours.loss(x, y)
        loss.backward()
        opt.step()
        return loss.item()

    runners = {"tinygrad_ce": step_ours}
    torch = None
    if not args.no_torch:
        try:
            import torch
        except ImportError:
            print("torch is not installed: timing tinygrad_ce only")
    if torch is not None:
        from torch_gpt import TorchGPT, copy_weights

        torch.set_num_threads(1)
        theirs = TorchGPT(cfg)
        if args.gelu == "tanh":
            for block in theirs.h:
                block.mlp[1].approximate = "tanh"
        copy_weights(ours, theirs)
        opt_t = torch.optim.AdamW(theirs.parameters(), lr=3e-4, weight_decay=0.1)
        tensors = [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in batches]

        def step_torch(x: np.ndarray, y: np.ndarray, _i: list = [0]) -> float:  # noqa: B006
            xt, yt = tensors[_i[0] % len(tensors)]
            _i[0] += 1
            opt_t.zero_grad()
            loss = theirs.loss(xt, yt)
            loss.backward()
            opt_t.step()
            return loss.item()

        # the check: same weights, same batches -> same losses (float32 rounding apart)
        for x, y in batches[:2]:
            a, b = step_ours(x, y), step_torch(x, y)
            if not np.isclose(a, b, rtol=1e-4):
                raise SystemExit(f"the two models disagree: loss {a} vs {b}")
        runners["pytorch eager"] = step_torch

    times: dict[str, list[float]] = {name: [] for name in runners}
    for _ in range(args.repeats):
        for name, run in runners.items():
            for x, y in batches:
                start = time.process_time()
                run(x, y)
                times[name].append(time.process_time() - start)

    peak = peak_bytes(lambda: step_ours(*batches[0]))

    tokens = args.batch * cfg.block_size
    print(
        f"GPT training step: n_layer={cfg.n_layer} n_head={cfg.n_head} n_embd={cfg.n_embd} "
        f"block_size={cfg.block_size} vocab={cfg.vocab_size} batch={args.batch}, "
        f"{ours.num_parameters():,} parameters, float32, gelu={args.gelu}"
        + (", malloc keeps freed memory" if args.keep_freed_memory else "")
    )
    print(
        f"python {platform.python_version()}, numpy {np.__version__}"
        + (f", torch {torch.__version__}" if torch is not None else "")
        + f", tinygrad_ce {tinygrad_ce.__version__}, 1 thread"
    )
    ref = min(times["pytorch eager"]) if "pytorch eager" in times else None
    print(f"{'':16}{'best ms':>9}{'median ms':>11}{'ratio':>7}{'tokens/s':>10}{'peak MB':>9}")
    for name, ts in times.items():
        best, med = min(ts) * 1e3, statistics.median(ts) * 1e3
        ratio = f"{min(ts) / ref:7.2f}" if ref else f"{'':7}"
        mem = f"{peak / 2**20:9.1f}" if name == "tinygrad_ce" else f"{'-':>9}"
        print(f"{name:16}{best:9.1f}{med:11.1f}{ratio}{tokens / min(ts):10.0f}{mem}")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"ratio: best step time / PyTorch's; process peak RSS {rss:.0f} MB (both models)")


if __name__ == "__main__":
    main()
