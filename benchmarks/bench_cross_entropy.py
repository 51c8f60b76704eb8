"""Benchmark: softmax cross-entropy forward + backward, fused vs unfused vs hand-written numpy.

Run:  python benchmarks/bench_cross_entropy.py [--repeats 30] [--sizes 4096x1000,64x10]

Logits float32 with integer labels, mean reduction, one BLAS thread. Every figure is a ratio to
the hand-written numpy reference measured in the same run (``tinygrad_ce.compare``):

* "numpy reference": log-sum-exp forward, ``(softmax - onehot) / N`` backward, written the
  way one would write it by hand (``np.exp(z - m)``, ``e / s``, subtract 1 at the labels,
  divide by N);
* "numpy tuned": the same maths with every trick the fused node uses (``exp`` in place, the
  gradient written into the forward's buffer, ``1/N`` folded into the per-row factor): the
  floor for any numpy implementation, to show how much of the fused node's time is framework.

PyTorch (fused ``F.cross_entropy`` and the same loss composed of ops) is added when installed.
Peak memory is tracemalloc's peak over one forward + backward (numpy buffers included; for
PyTorch it sees nothing, so it is not shown).
"""

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402

import numpy as np  # noqa: E402

from tinygrad_ce.compare import engine_runner, numpy_runner  # noqa: E402
from tinygrad_ce.timing import Runner, calibrate_number, peak_bytes, time_runners  # noqa: E402

SIZES = ((4096, 1000), (64, 10))


def torch_runners(z: np.ndarray, y: np.ndarray) -> dict[str, Runner]:
    """PyTorch's fused loss and the same loss composed of ops, if torch is installed."""
    try:
        import torch
    except ImportError:
        return {}
    torch.set_num_threads(1)
    zt = torch.from_numpy(z.copy()).requires_grad_()
    yt = torch.from_numpy(y)
    rows = torch.arange(len(y))

    def fused() -> "torch.Tensor":
        return torch.nn.functional.cross_entropy(zt, yt)

    def unfused() -> "torch.Tensor":
        shifted = zt - zt.detach().max(dim=1, keepdim=True).values
        log_probs = shifted - shifted.exp().sum(dim=1, keepdim=True).log()
        return -log_probs[rows, yt].mean()

    def backward(loss: "torch.Tensor") -> np.ndarray:
        loss.backward()
        g, zt.grad = zt.grad, None
        return g

    return {"torch fused": Runner(fused, backward), "torch unfused": Runner(unfused, backward)}


def bench(batch: int, classes: int, repeats: int, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((batch, classes)).astype(np.float32)
    y = rng.integers(0, classes, batch)
    runners = {
        "numpy reference": numpy_runner(z, y),
        "numpy tuned": numpy_runner(z, y, tuned=True),
        "fused": engine_runner(z, y, fused=True),
        "unfused": engine_runner(z, y, fused=False),
        **torch_runners(z, y),
    }
    for name, run in runners.items():  # every method gives the same gradient
        g = np.asarray(run.backward(run.forward()))
        ref = runners["numpy reference"]
        g_ref = ref.backward(ref.forward())
        assert g.dtype == np.float32, (name, g.dtype)
        np.testing.assert_allclose(g, g_ref, rtol=1e-4, atol=1e-8, err_msg=name)
    number = calibrate_number(runners["unfused"], target_seconds=5e-3)
    times = time_runners(runners, repeats=repeats, number=number)
    base = times["numpy reference"]["total"]
    tuned = times["numpy tuned"]["total"]
    rows = []
    for name, run in runners.items():
        t = times[name]
        peak = (
            None if name.startswith("torch") else peak_bytes(lambda r=run: r.backward(r.forward()))
        )
        rows.append(
            {
                "method": name,
                "forward": t["forward"],
                "backward": t["backward"],
                "total": t["total"],
                "x_reference": t["total"] / base,
                "x_tuned": t["total"] / tuned,
                "peak": peak,
                "number": number,
            }
        )
    return rows


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3f}" if seconds < 1e-2 else f"{seconds * 1e3:.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30, help="timed rounds (medians)")
    parser.add_argument(
        "--sizes",
        default=",".join(f"{b}x{c}" for b, c in SIZES),
        help="comma-separated BATCHxCLASSES (default 4096x1000,64x10)",
    )
    args = parser.parse_args(argv)
    try:
        sizes = [tuple(int(v) for v in item.split("x")) for item in args.sizes.split(",")]
        if any(len(size) != 2 or min(size) < 1 for size in sizes):
            raise ValueError
    except ValueError:
        parser.error(f"--sizes: expected BATCHxCLASSES[,BATCHxCLASSES...], got {args.sizes!r}")
    print(
        f"python {platform.python_version()}, numpy {np.__version__}, one BLAS thread, "
        f"float32 logits, integer labels, mean reduction, median of {args.repeats} rounds"
    )
    for batch, classes in sizes:
        rows = bench(batch, classes, args.repeats)
        print(f"\nlogits ({batch}, {classes}), {rows[0]['number']} call(s) per timed block")
        print(
            f"{'method':<17}{'fwd ms':>9}{'bwd ms':>9}{'total ms':>10}{'x numpy ref':>13}"
            f"{'x tuned':>9}{'peak MiB':>10}"
        )
        for r in rows:
            peak = "-" if r["peak"] is None else f"{r['peak'] / 2**20:.2f}"
            print(
                f"{r['method']:<17}{_ms(r['forward']):>9}{_ms(r['backward']):>9}"
                f"{_ms(r['total']):>10}{r['x_reference']:>12.2f}x{r['x_tuned']:>8.2f}x{peak:>10}"
            )
        by = {r["method"]: r for r in rows}
        print(f"fused is {by['unfused']['total'] / by['fused']['total']:.2f}x faster than unfused")
    return 0


if __name__ == "__main__":
    sys.exit(main())
