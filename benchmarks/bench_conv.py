"""Convolution speed and memory: tinygrad_ce against a hand-written numpy im2col conv,
PyTorch's eager CPU conv and MyGrad (both when installed), in one run, on one BLAS thread.

Cases (float32):

* a conv layer, forward + backward (``dx``, ``dW``, ``db`` for a fixed upstream gradient), at
  digits size (N=64, 1x8x8 -> 16 channels, 3x3, padding 1) and MNIST sizes (N=64, 1x28x28 ->
  32, 5x5, padding 2; and N=64, 32x14x14 -> 64, 3x3, padding 1);
* a whole LeNet-5 training step (N=64, 28x28: conv 6 5x5 pad 2, ReLU, max-pool 2, conv 16
  5x5, ReLU, max-pool 2, 120, 84, 10, softmax cross-entropy, SGD update).

The numpy reference is what one writes by hand: ``sliding_window_view`` + one matmul forward,
``dW = G^T cols``, ``dx`` by adding the columns back per kernel offset (col2im, summing in
an NHWC buffer that matches the columns' layout), and the same
for the LeNet step with hand-written ReLU, pooling, linear and loss backward. The table gives
the median time of each (measured round-robin: one call of each in turn, so a busy machine
slows all alike) and the ratios (tinygrad_ce / numpy, tinygrad_ce / torch). Peak memory
of one LeNet step (forward + backward) comes from ``tracemalloc`` (numpy reports its buffers to
it; PyTorch's allocator does not, so it has no figure).

    python benchmarks/bench_conv.py            # all cases
    python benchmarks/bench_conv.py --quick    # fewer repeats
    python benchmarks/bench_conv.py --json     # machine-readable
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one BLAS thread: compare the engines, not the threading

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from numpy.lib.stride_tricks import sliding_window_view  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tinygrad_ce import Tensor, nn  # noqa: E402
from tinygrad_ce import functional as F  # noqa: E402
from tinygrad_ce.models import LeNet  # noqa: E402

try:
    import torch

    torch.set_num_threads(1)
except ImportError:  # PyTorch is optional: its column is left empty
    torch = None
try:  # MyGrad (another numpy autodiff library) is optional too
    import mygrad
    from mygrad.nnet.layers import conv_nd, max_pool
    from mygrad.nnet.losses import softmax_crossentropy
except ImportError:
    mygrad = None


def median_times(fns: dict[str, Callable[[], object]], repeats: int, warmup: int = 2) -> dict:
    """The median time of each function, measured round-robin (one call of each in turn), so
    that a busy machine slows every implementation alike."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(ts) for name, ts in times.items()}


# --- the hand-written numpy reference ----------------------------------------------------------


def np_conv_forward(x, w, b, pad):
    """z = conv2d(x, w) + b, and the im2col matrix the backward needs."""
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad))) if pad else x
    win = sliding_window_view(xp, (kh, kw), axis=(2, 3))  # (N, C, Ho, Wo, kh, kw)
    ho, wo = win.shape[2:4]
    cols = win.transpose(0, 2, 3, 1, 4, 5).reshape(n * ho * wo, c * kh * kw)
    z = cols @ w.reshape(o, -1).T + b
    return z.reshape(n, ho, wo, o).transpose(0, 3, 1, 2), cols


def np_conv_backward(g, x_shape, w, cols, pad):
    """dx (col2im, one slice-add per kernel offset), dW, db."""
    n, c, h, wd = x_shape
    o, _, kh, kw = w.shape
    ho, wo = g.shape[2:]
    g2 = g.transpose(0, 2, 3, 1).reshape(-1, o)
    dw = (g2.T @ cols).reshape(w.shape)
    db = g2.sum(axis=0)
    dcols = (g2 @ w.reshape(o, -1)).reshape(n, ho, wo, c, kh, kw)
    dxp = np.zeros((n, h + 2 * pad, wd + 2 * pad, c), dtype=g.dtype)  # NHWC, as dcols
    for i in range(kh):
        for j in range(kw):
            dxp[:, i : i + ho, j : j + wo] += dcols[:, :, :, :, i, j]
    dx = dxp[:, pad : pad + h, pad : pad + wd] if pad else dxp
    return dx.transpose(0, 3, 1, 2), dw, db


def np_pool_forward(x):
    """2x2 max pooling, stride 2; the mask of the maxima for the backward."""
    n, c, h, w = x.shape
    blocks = x.reshape(n, c, h // 2, 2, w // 2, 2)
    out = blocks.max(axis=(3, 5))
    mask = blocks == out[:, :, :, None, :, None]
    return out, mask


def np_pool_backward(g, mask):
    n, c, h2, _, w2, _ = mask.shape
    return (mask * g[:, :, :, None, :, None]).reshape(n, c, h2 * 2, w2 * 2)


def np_lenet_step(params, x, y, lr):
    """Forward, softmax cross-entropy, hand-written backward and an SGD update of LeNet-5."""
    w1, b1, w2, b2, w3, b3, w4, b4, w5, b5 = params
    n = len(x)
    z1, cols1 = np_conv_forward(x, w1, b1, 2)
    a1 = np.maximum(z1, 0)
    p1, m1 = np_pool_forward(a1)
    z2, cols2 = np_conv_forward(p1, w2, b2, 0)
    a2 = np.maximum(z2, 0)
    p2, m2 = np_pool_forward(a2)
    f = p2.reshape(n, -1)
    h3 = np.maximum(f @ w3.T + b3, 0)
    h4 = np.maximum(h3 @ w4.T + b4, 0)
    logits = h4 @ w5.T + b5
    shifted = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(shifted)
    p /= p.sum(axis=1, keepdims=True)
    g = p
    g[np.arange(n), y] -= 1
    g /= n
    grads = [None] * 10
    grads[8], grads[9] = g.T @ h4, g.sum(axis=0)
    g = (g @ w5) * (h4 > 0)
    grads[6], grads[7] = g.T @ h3, g.sum(axis=0)
    g = (g @ w4) * (h3 > 0)
    grads[4], grads[5] = g.T @ f, g.sum(axis=0)
    g = (g @ w3).reshape(p2.shape)
    g = np_pool_backward(g, m2) * (z2 > 0)
    g, grads[2], grads[3] = np_conv_backward(g, p1.shape, w2, cols2, 0)
    g = np_pool_backward(g, m1) * (z1 > 0)
    _, grads[0], grads[1] = np_conv_backward(g, x.shape, w1, cols1, 2)
    for param, grad in zip(params, grads, strict=True):
        param -= lr * grad


# --- the cases ---------------------------------------------------------------------------------


def conv_layer_case(n, c, h, o, k, pad, repeats):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, c, h, h)).astype(np.float32)
    w = (rng.standard_normal((o, c, k, k)) * 0.1).astype(np.float32)
    b = np.zeros(o, np.float32)
    ho = h + 2 * pad - k + 1
    g = rng.standard_normal((n, o, ho, ho)).astype(np.float32)
    xt, wt, bt = (Tensor(a, requires_grad=True) for a in (x, w, b))

    def ours():
        xt.grad = wt.grad = bt.grad = None
        F.conv2d(xt, wt, bt, padding=pad).backward(g)

    def reference():
        z, cols = np_conv_forward(x, w, b, pad)
        np_conv_backward(g, x.shape, w, cols, pad)

    fns = {"tinygrad_ce": ours, "numpy": reference}
    if torch is not None:
        tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
        tg = torch.tensor(g)

        def theirs():
            tx.grad = tw.grad = tb.grad = None
            torch.nn.functional.conv2d(tx, tw, tb, padding=pad).backward(tg)

        fns["torch"] = theirs
    if mygrad is not None:
        mx, mw, mb = (mygrad.tensor(a) for a in (x, w, b))

        def mygrads():
            z = conv_nd(mx, mw, stride=1, padding=pad) + mb[:, None, None]
            z.backward(g)

        fns["mygrad"] = mygrads
    return median_times(fns, repeats)


def lenet_case(repeats, n=64):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, n)
    nn.manual_seed(0)
    model = LeNet()
    params = list(model.parameters())
    start = [p.data.copy() for p in params]
    lr = 0.01

    def ours():
        loss = F.cross_entropy(model(x), y)
        model.zero_grad()
        loss.backward()
        for p in params:
            p.data -= lr * p.grad

    np_params = [a.copy() for a in start]

    def reference():
        np_lenet_step(np_params, x, y, lr)

    fns = {"tinygrad_ce": ours, "numpy": reference}
    if torch is not None:
        tmodel = torch.nn.Sequential(
            torch.nn.Conv2d(1, 6, 5, padding=2), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
            torch.nn.Conv2d(6, 16, 5), torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Flatten(),
            torch.nn.Linear(400, 120), torch.nn.ReLU(), torch.nn.Linear(120, 84),
            torch.nn.ReLU(), torch.nn.Linear(84, 10),
        )  # fmt: skip
        with torch.no_grad():
            for tp, a in zip(tmodel.parameters(), start, strict=True):
                tp.copy_(torch.tensor(a))
        opt = torch.optim.SGD(tmodel.parameters(), lr=lr)
        tx, ty = torch.tensor(x), torch.tensor(y)

        def theirs():
            loss = torch.nn.functional.cross_entropy(tmodel(tx), ty)
            opt.zero_grad()
            loss.backward()
            opt.step()

        fns["torch"] = theirs
    if mygrad is not None:
        mparams = [mygrad.tensor(a) for a in start]

        def mygrads():
            w1, b1, w2, b2, w3, b3, w4, b4, w5, b5 = mparams
            h = mygrad.maximum(conv_nd(x, w1, stride=1, padding=2) + b1[:, None, None], 0)
            h = max_pool(h, (2, 2), 2)
            h = mygrad.maximum(conv_nd(h, w2, stride=1) + b2[:, None, None], 0)
            h = max_pool(h, (2, 2), 2).reshape(n, -1)
            h = mygrad.maximum(h @ w3.T + b3, 0)
            h = mygrad.maximum(h @ w4.T + b4, 0)
            loss = softmax_crossentropy(h @ w5.T + b5, y)
            loss.backward()
            for k, p in enumerate(mparams):
                mparams[k] = mygrad.tensor(p.data - lr * p.grad)

        fns["mygrad"] = mygrads
    times = median_times(fns, repeats)

    # peak memory of one step (forward + backward), as tracemalloc sees numpy's buffers
    peaks = {}
    for name, fn in (("tinygrad_ce", ours), ("numpy", reference)):
        fn()
        tracemalloc.start()
        fn()
        peaks[name] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return times, peaks


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    repeats = 5 if args.quick else 30
    cases = {
        "conv 64x1x8x8 -> 16, 3x3 (digits)": conv_layer_case(64, 1, 8, 16, 3, 1, repeats),
        "conv 64x1x28x28 -> 32, 5x5 (MNIST)": conv_layer_case(64, 1, 28, 32, 5, 2, repeats),
        "conv 64x32x14x14 -> 64, 3x3": conv_layer_case(64, 32, 14, 64, 3, 1, repeats),
    }
    lenet_times, peaks = lenet_case(max(repeats // 2, 3))
    cases["LeNet-5 training step, N=64"] = lenet_times
    result = {
        "cases": cases,
        "peak_memory_bytes": peaks,
        "numpy": np.__version__,
        "torch": None if torch is None else torch.__version__,
        "mygrad": None if mygrad is None else mygrad.__version__,
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return result
    print("fwd+bwd, median of runs, 1 BLAS thread (ratios: tinygrad_ce / other)")
    others = ["numpy", "torch", "mygrad"]
    head = f"{'case':<36} {'tinygrad_ce':>11}" + "".join(f" {o:>9}" for o in others)
    head += "".join(f" {'vs ' + o:>10}" for o in others)
    print(head)
    print("-" * len(head))
    for name, t in cases.items():
        ours = t["tinygrad_ce"]
        line = f"{name:<36} {ours * 1e3:9.2f}ms"
        line += "".join(f" {t[o] * 1e3:7.2f}ms" if o in t else f" {'n/a':>9}" for o in others)
        line += "".join(f" {ours / t[o]:9.2f}x" if o in t else f" {'n/a':>10}" for o in others)
        print(line)
    print(
        f"peak memory of one LeNet step (tracemalloc): tinygrad_ce "
        f"{peaks['tinygrad_ce'] / 2**20:.1f} MiB, numpy reference {peaks['numpy'] / 2**20:.1f} MiB "
        f"({peaks['tinygrad_ce'] / peaks['numpy']:.2f}x)"
    )
    return result


if __name__ == "__main__":
    main()
