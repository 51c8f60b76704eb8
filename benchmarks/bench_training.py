"""How much does the engine cost? One epoch of digits training vs the same loop in plain numpy.

The task: the ``tinygrad-ce train --dataset digits`` recipe (MLP 64-128-10, ReLU, Adam lr 0.01,
1,438 standardized training images), float32, at several batch sizes (32 is the CLI default:
45 steps per epoch).

Compared, in one run, on the same shuffled batches and the same initial weights:

* ``numpy (hand-written)``: forward, softmax cross-entropy, backward and Adam update written
  out with numpy (in place where it helps, as one would write it for speed while staying
  readable); it also sums the loss and counts correct predictions, as ``fit`` does;
* ``engine loop``: the plain user loop with tinygrad_ce (``zero_grad``, ``model(x)``,
  ``loss_fn``, ``backward``, ``step``) with the same bookkeeping: fused ``Linear`` (one
  ``Affine`` node) and fused cross-entropy, the defaults;
* ``engine, unfused CE``: the same with ``CrossEntropyLoss(fused=False)``;
* ``engine, all primitives``: also ``Linear(fused=False)`` (Transpose, MatMul, Add);
* ``fit``: ``train.fit`` for one epoch (the History bookkeeping, no progress bar).

A correctness check runs first (one epoch of numpy and engine from the same start). The table
gives the best epoch time (CPU time of this process) of ``--repeats`` rounds, variants
interleaved within each round so that a busy machine slows them alike; the minimum is the least
disturbed run. Ratios are to numpy.
The engine's cost is a fixed Python overhead per op and step (tens of microseconds), so the
ratio falls as the batch grows.

Run: ``python benchmarks/bench_training.py`` (about 30 s). BLAS is pinned to one thread.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tinygrad_ce import Tensor, data, nn, optim  # noqa: E402
from tinygrad_ce.train import fit  # noqa: E402

HIDDEN = 128
LR = 0.01


# ---------------------------------------------------------------------------------------------
# the numpy reference


class NumpyMLP:
    """Two-layer MLP trained with Adam, every derivative written by hand (PyTorch layout)."""

    def __init__(self, params: dict[str, np.ndarray], lr: float = LR) -> None:
        self.p = {k: v.copy() for k, v in params.items()}
        self.m = {k: np.zeros_like(v) for k, v in params.items()}
        self.v = {k: np.zeros_like(v) for k, v in params.items()}
        self.t = 0
        self.lr, self.b1, self.b2, self.eps = lr, 0.9, 0.999, 1e-8

    def step(self, xb: np.ndarray, yb: np.ndarray) -> tuple[float, int]:
        p = self.p
        n = len(yb)
        rows = np.arange(n)
        # forward
        h_pre = xb @ p["0.weight"].T
        h_pre += p["0.bias"]
        h = np.maximum(h_pre, 0)
        z = h @ p["2.weight"].T
        z += p["2.bias"]
        correct = int(np.sum(z.argmax(axis=1) == yb))
        shifted = z - z.max(axis=1, keepdims=True)
        e = np.exp(shifted)
        s = e.sum(axis=1, keepdims=True)
        loss = float(np.mean(np.log(s[:, 0]) - shifted[rows, yb]))
        # backward: dL/dz = (softmax - onehot) / n
        dz = e / s
        dz[rows, yb] -= 1
        dz *= 1.0 / n
        grads = {
            "2.weight": dz.T @ h,
            "2.bias": dz.sum(axis=0),
        }
        dh = dz @ p["2.weight"]
        dh *= h_pre > 0
        grads["0.weight"] = dh.T @ xb
        grads["0.bias"] = dh.sum(axis=0)
        # Adam
        self.t += 1
        b1, b2 = self.b1, self.b2
        step_size = self.lr / (1 - b1**self.t)
        root_bc2 = (1 - b2**self.t) ** 0.5
        for k, g in grads.items():
            m, v = self.m[k], self.v[k]
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * (g * g)
            denom = np.sqrt(v) / root_bc2
            denom += self.eps
            p[k] -= step_size * (m / denom)
        return loss * n, correct


def numpy_epoch(ref: NumpyMLP, loader: data.DataLoader) -> tuple[float, float]:
    total, correct, seen = 0.0, 0, 0
    for xb, yb in loader:
        loss, c = ref.step(xb, yb)
        total += loss
        correct += c
        seen += len(yb)
    return total / seen, correct / seen


# ---------------------------------------------------------------------------------------------
# the engine


def engine_epoch(model, opt, loss_fn, loader) -> tuple[float, float]:
    total, correct, seen = 0.0, 0, 0
    for xb, yb in loader:
        opt.zero_grad()
        out = model(Tensor(xb))
        loss = loss_fn(out, yb)
        loss.backward()
        opt.step()
        total += loss.item() * len(yb)
        correct += int(np.sum(out.data.argmax(axis=1) == yb))
        seen += len(yb)
    return total / seen, correct / seen


def make_engine(seed: int, fused_loss: bool = True, fused_linear: bool = True):
    nn.manual_seed(seed)
    model = nn.Sequential(
        nn.Linear(64, HIDDEN, fused=fused_linear),
        nn.ReLU(),
        nn.Linear(HIDDEN, 10, fused=fused_linear),
    )
    return model, optim.Adam(model.parameters(), lr=LR), nn.CrossEntropyLoss(fused=fused_loss)


ENGINES = {
    "engine loop": dict(fused_loss=True, fused_linear=True),
    "engine, unfused CE": dict(fused_loss=False, fused_linear=True),
    "engine, all primitives": dict(fused_loss=False, fused_linear=False),
}


def timed(fn) -> float:
    """CPU seconds of this process: on a shared machine, time spent waiting for a core while
    other jobs run is not counted (wall time would be)."""
    start = time.process_time()
    fn()
    return time.process_time() - start


def check(X_tr: np.ndarray, y_tr: np.ndarray) -> None:
    """One epoch of the reference and of the engine from the same start agree."""
    model, opt, loss_fn = make_engine(0)
    ref = NumpyMLP(model.state_dict())
    a = numpy_epoch(ref, data.DataLoader(X_tr, y_tr, batch_size=32, shuffle=True, seed=1))
    b = engine_epoch(
        model, opt, loss_fn, data.DataLoader(X_tr, y_tr, batch_size=32, shuffle=True, seed=1)
    )
    worst = max(float(np.max(np.abs(ref.p[k] - p.data))) for k, p in model.named_parameters())
    print(
        f"check: one epoch from the same weights and batches: loss {a[0]:.6f} (numpy) vs "
        f"{b[0]:.6f} (engine), max |weight difference| {worst:.1e}"
    )


def bench_batch(X_tr, y_tr, batch: int, repeats: int) -> dict[str, float]:
    loader = data.DataLoader(X_tr, y_tr, batch_size=batch, shuffle=True, seed=0)
    variants = {}
    start_weights = make_engine(0)[0].state_dict()
    ref = NumpyMLP(start_weights)
    variants["numpy (hand-written)"] = lambda: numpy_epoch(ref, loader)
    for name, kw in ENGINES.items():
        model, opt, loss_fn = make_engine(0, **kw)
        variants[name] = lambda m=model, o=opt, lf=loss_fn: engine_epoch(m, o, lf, loader)
    model, opt, loss_fn = make_engine(0)
    variants["fit (History, no bar)"] = lambda: fit(
        model, loss_fn, opt, loader, epochs=1, progress=False
    )
    for fn in variants.values():  # warm up
        fn()
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(repeats):
        for name, fn in variants.items():  # interleaved: load changes hit every variant
            times[name].append(timed(fn))
    return {name: float(np.min(t)) for name, t in times.items()}, len(loader)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=25, help="timed rounds (default 25)")
    parser.add_argument(
        "--batch-sizes",
        default="32,128,full",
        help="comma-separated batch sizes, 'full' for one batch (default 32,128,full)",
    )
    args = parser.parse_args()

    X, y = data.load_digits()
    X_tr, _, y_tr, _ = data.train_test_split(X, y, test_size=0.2, seed=0, stratify=True)
    X_tr = data.Standardizer().fit(X_tr).transform(X_tr)
    check(X_tr, y_tr)

    sizes = [len(X_tr) if b == "full" else int(b) for b in args.batch_sizes.split(",")]
    print(
        f"\none epoch of digits: MLP 64-{HIDDEN}-10, ReLU, Adam, {len(X_tr)} images, float32; "
        f"best of {args.repeats} interleaved rounds"
    )
    print(f"{'batch':>6}  {'variant':<24}{'epoch':>11}{'per step':>11}{'x numpy':>9}")
    for batch in sizes:
        med, steps = bench_batch(X_tr, y_tr, batch, args.repeats)
        base = med["numpy (hand-written)"]
        for name, t in med.items():
            print(
                f"{batch:>6}  {name:<24}{t * 1e3:>8.2f} ms{t / steps * 1e6:>8.0f} us"
                f"{t / base:>9.2f}"
            )
    print(f"\npython {platform.python_version()}, numpy {np.__version__}, 1 BLAS thread")


if __name__ == "__main__":
    main()
