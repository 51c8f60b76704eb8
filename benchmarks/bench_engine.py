"""Engine speed: tinygrad_ce against the same work hand-written in numpy, in one run.

Each case does a forward pass, a backward pass and (for the MLPs) an SGD update, once through
tinygrad_ce's Tensor and once as plain numpy calls with a hand-written backward. The table gives
the median time of each and their ratio (tinygrad_ce / numpy): 1.00x means no overhead.

    python benchmarks/bench_engine.py            # all cases
    python benchmarks/bench_engine.py --quick    # fewer repeats
    python benchmarks/bench_engine.py --json     # machine-readable
    python benchmarks/bench_engine.py --baseline ../old-checkout   # before/after, one run

With ``--baseline DIR`` (another checkout of this repository, e.g. ``git worktree add
../old-checkout <commit>``) the engine steps of both packages run interleaved in this one
process, and the table gains the baseline's time and the after/before ratio.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one BLAS thread: compare the engines, not the threading

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from types import ModuleType  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import tinygrad_ce  # noqa: E402
from tinygrad_ce import timing  # noqa: E402

Tensor = tinygrad_ce.Tensor


def load_checkout(root: str) -> ModuleType:
    """Another checkout's ``tinygrad_ce`` imported under a name of its own, beside this one."""
    init = Path(root).resolve() / "tinygrad_ce" / "__init__.py"
    if not init.exists():
        raise SystemExit(f"--baseline: {init} not found (give the root of a checkout)")
    spec = importlib.util.spec_from_file_location(
        "tinygrad_ce_baseline", init, submodule_search_locations=[str(init.parent)]
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def median_time(fn: Callable[[], object], repeats: int) -> float:
    """The library's harness with one warm-up call (the first call pays for caches)."""
    return timing.median_time(fn, repeats, warmup=1)


# --- MLP training step: forward, MSE loss against one-hot targets, backward, SGD -----------------


def mlp_case(sizes: tuple[int, ...], batch: int, seed: int = 0, T: type = Tensor):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, sizes[0])).astype(np.float32)
    target = np.eye(sizes[-1], dtype=np.float32)[rng.integers(0, sizes[-1], batch)]
    weights = [
        (rng.standard_normal((i, o)) / np.sqrt(i)).astype(np.float32)
        for i, o in zip(sizes[:-1], sizes[1:], strict=True)
    ]
    biases = [np.zeros(o, dtype=np.float32) for o in sizes[1:]]
    lr = 1e-3

    np_params = [w.copy() for w in weights] + [b.copy() for b in biases]

    def numpy_step() -> None:
        ws, bs = np_params[: len(weights)], np_params[len(weights) :]
        acts = [x]
        h = x
        for i, (w, b) in enumerate(zip(ws, bs, strict=True)):
            h = h @ w + b
            if i < len(ws) - 1:
                h = np.maximum(h, 0)
            acts.append(h)
        diff = h - target
        _loss = (diff * diff).mean()
        g = diff * (2.0 / diff.size)
        grads = []
        for i in reversed(range(len(ws))):
            if i < len(ws) - 1:
                g = g * (acts[i + 1] > 0)
            grads.append((i, acts[i].T @ g, g.sum(axis=0)))
            if i > 0:
                g = g @ ws[i].T
        for i, gw, gb in grads:  # the update after the backward pass, as any training loop does
            ws[i] -= lr * gw
            bs[i] -= lr * gb

    ws_t = [T(w, requires_grad=True) for w in weights]
    bs_t = [T(b, requires_grad=True) for b in biases]
    xt, tt = T(x), T(target)

    def engine_step() -> None:
        h = xt
        for i, (w, b) in enumerate(zip(ws_t, bs_t, strict=True)):
            h = h @ w + b
            if i < len(ws_t) - 1:
                h = h.relu()
        loss = ((h - tt) ** 2).mean()
        loss.backward()
        for p in ws_t + bs_t:
            p.data -= lr * p.grad
            p.grad = None

    return numpy_step, engine_step, None


# --- tiny ops: add/mul/exp on (8,) vectors -------------------------------------------------------


def tiny_case(n_ops: int = 10_000, size: int = 8, seed: int = 0, T: type = Tensor):
    rng = np.random.default_rng(seed)
    x0 = rng.standard_normal(size)
    w0 = rng.standard_normal(size) * 0.1
    b0 = rng.standard_normal(size) * 0.1
    rounds = n_ops // 3

    def numpy_step() -> None:
        xs, ys = [], []
        x = x0
        for _ in range(rounds):  # x <- exp(x * w + b)
            xs.append(x)
            y = np.exp(x * w0 + b0)
            ys.append(y)
            x = y
        g = np.ones_like(x)
        gw = np.zeros_like(w0)
        gb = np.zeros_like(b0)
        for xi, yi in zip(reversed(xs), reversed(ys), strict=True):
            g = g * yi  # exp
            gb = gb + g  # add
            gw = gw + g * xi  # mul
            g = g * w0

    x_t = T(x0, requires_grad=True)
    w_t = T(w0, requires_grad=True)
    b_t = T(b0, requires_grad=True)

    def engine_step() -> None:
        x = x_t
        for _ in range(rounds):
            x = (x * w_t + b_t).exp()
        x.backward(np.ones_like(x0))
        x_t.grad = w_t.grad = b_t.grad = None

    return numpy_step, engine_step, rounds * 3


# --- a deep chain: x <- x * 1.0001 + 0.001 -------------------------------------------------------


def chain_case(length: int, size: int = 16, T: type = Tensor):
    x0 = np.ones(size)

    def numpy_step() -> None:
        x = x0
        for _ in range(length):
            x = x * 1.0001 + 0.001
        g = np.ones_like(x)
        for _ in range(length):
            g = g * 1.0001

    x_t = T(x0, requires_grad=True)

    def engine_step() -> None:
        x = x_t
        for _ in range(length):
            x = x * 1.0001 + 0.001
        x.backward(np.ones_like(x0))
        x_t.grad = None

    return numpy_step, engine_step, 2 * length


# name -> (make(T) -> (numpy_step, engine_step, n_ops), repeats, goal); T is the Tensor class
CASES = {
    "mlp 784-512-512-10, batch 256": (
        lambda T: mlp_case((784, 512, 512, 10), 256, T=T),
        20,
        "1.05x",
    ),
    "mlp 64-128-128-10, batch 64": (lambda T: mlp_case((64, 128, 128, 10), 64, T=T), 300, "1.5x"),
    "tiny ops: 10,000 on (8,)": (lambda T: tiny_case(10_000, T=T), 15, "6x"),
    "chain x*1.0001+0.001, 10,000 steps": (lambda T: chain_case(10_000, T=T), 9, "10x"),
    "chain x*1.0001+0.001, 100,000 steps": (lambda T: chain_case(100_000, T=T), 3, "10x"),
}


def run(quick: bool = False, baseline: ModuleType | None = None) -> list[dict]:
    rows = []
    for name, (make, repeats, target) in CASES.items():
        numpy_step, engine_step, n_ops = make(Tensor)
        base_step = make(baseline.Tensor)[1] if baseline is not None else None
        repeats = max(3, repeats // 3) if quick else repeats
        # interleave to share the machine's noise fairly between them
        t_np, t_eng, t_base = [], [], []
        for _ in range(3):
            t_np.append(median_time(numpy_step, repeats))
            t_eng.append(median_time(engine_step, repeats))
            if base_step is not None:
                t_base.append(median_time(base_step, repeats))
        np_time, eng_time = min(t_np), min(t_eng)
        row = {
            "case": name,
            "numpy_ms": np_time * 1e3,
            "engine_ms": eng_time * 1e3,
            "ratio": eng_time / np_time,
            "target": target,
        }
        if t_base:
            row["baseline_ms"] = min(t_base) * 1e3
            row["vs_baseline"] = eng_time / min(t_base)
        if n_ops:
            row["engine_us_per_op"] = eng_time / n_ops * 1e6
            row["numpy_us_per_op"] = np_time / n_ops * 1e6
        rows.append(row)
    return rows


def print_table(rows: list[dict]) -> None:
    print(f"{'case':34} {'numpy':>10} {'tinygrad_ce':>12} {'ratio':>7} {'goal':>6}  per op")
    for r in rows:
        per_op = (
            f"{r['engine_us_per_op']:.2f} us vs {r['numpy_us_per_op']:.2f} us"
            if "engine_us_per_op" in r
            else ""
        )
        print(
            f"{r['case']:34} {r['numpy_ms']:8.2f}ms {r['engine_ms']:10.2f}ms "
            f"{r['ratio']:6.2f}x {'<' + r['target']:>6}  {per_op}"
        )
        if "baseline_ms" in r:
            print(
                f"{'  baseline checkout':34} {'':10} {r['baseline_ms']:10.2f}ms "
                f"{r['baseline_ms'] / r['numpy_ms']:6.2f}x {'':6}  "
                f"this checkout / baseline: {r['vs_baseline']:.2f}x"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument(
        "--baseline", metavar="DIR", help="another checkout to time in the same run (before/after)"
    )
    args = parser.parse_args()
    rows = run(args.quick, load_checkout(args.baseline) if args.baseline else None)
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print_table(rows)


if __name__ == "__main__":
    main()
