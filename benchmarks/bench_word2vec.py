"""Benchmark: a word2vec skip-gram step with a full softmax, fused vs unfused vs PyTorch.

Run:  python benchmarks/bench_word2vec.py [--vocab 10000] [--batch 256] [--dim 100]
                                         [--repeats 20] [--sweep 1000,3000,10000,30000]

The step is ``loss = CE(V[centres] @ U, contexts)`` forward and backward to ``V`` (vocab, dim)
and ``U`` (dim, vocab), float32, one BLAS thread, random pairs. Every figure comes from this one
run:

* time: median forward + backward of the fused node (``F.cross_entropy(fused=True)``), the
  same loss composed of primitive ops (``fused=False``) and PyTorch's ``F.cross_entropy`` on
  the same arrays (when torch is installed);
* memory held for backward: what tracemalloc still counts as allocated once the forward has
  returned (the graph's buffers), and the peak of one forward + backward; both methods hold
  the (batch, vocab) scores the matmul made, so the part beyond them is shown too;
* the loss alone: the same comparison on a (batch, vocab) logits leaf (no matmul), which is
  where fusing acts;
* a sweep over vocabulary sizes (the figure of notebook 06).

PyTorch's memory is outside tracemalloc's view, so it is not shown.
"""

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402

import numpy as np  # noqa: E402

from tinygrad_ce.compare import (  # noqa: E402
    Runner,
    engine_runner,
    full_softmax_sweep,
    held_bytes,
    peak_bytes,
    skipgram_runner,
    time_runners,
)

MiB = 2**20


def torch_runner(V, U, centres, contexts) -> Runner | None:
    """PyTorch eager: the same step on tensors sharing the arrays, or None without torch."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    v, u = torch.from_numpy(V).requires_grad_(), torch.from_numpy(U).requires_grad_()
    c, o = torch.from_numpy(centres), torch.from_numpy(contexts)

    def forward():
        return torch.nn.functional.cross_entropy(v[c] @ u, o)

    def backward(loss):
        loss.backward()
        grads = (v.grad, u.grad)
        v.grad = u.grad = None
        return grads

    return Runner(forward, backward)


def step_table(vocab: int, batch: int, dim: int, repeats: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    V = (rng.standard_normal((vocab, dim)) * 0.1).astype(np.float32)
    U = (rng.standard_normal((dim, vocab)) * 0.1).astype(np.float32)
    centres, contexts = rng.integers(0, vocab, batch), rng.integers(0, vocab, batch)
    runners = {
        m: skipgram_runner(V, U, centres, contexts, m == "fused") for m in ("fused", "unfused")
    }
    torch_run = torch_runner(V, U, centres, contexts)
    if torch_run is not None:
        runners["torch"] = torch_run
    grads = {m: [np.asarray(g) for g in run.backward(run.forward())] for m, run in runners.items()}
    for m in grads:  # the same gradients, whichever way
        for g, ref in zip(grads[m], grads["fused"], strict=True):
            np.testing.assert_allclose(g, ref, rtol=1e-4, atol=1e-7, err_msg=m)
    times = time_runners(runners, repeats=repeats, number=1)
    out = {"times": times, "held": {}, "peak": {}}
    for m in ("fused", "unfused"):
        loss, out["held"][m] = held_bytes(runners[m].forward)
        runners[m].backward(loss)
        del loss
        out["peak"][m] = peak_bytes(lambda r=runners[m]: r.backward(r.forward()))
    # the loss alone, on logits of the same shape
    z = rng.standard_normal((batch, vocab)).astype(np.float32)
    alone = {m: engine_runner(z, contexts, fused=(m == "fused")) for m in ("fused", "unfused")}
    out["loss_times"] = time_runners(alone, repeats=repeats, number=1)
    out["loss_held"] = {}
    for m, run in alone.items():
        loss, out["loss_held"][m] = held_bytes(run.forward)
        run.backward(loss)
        del loss
    out["logits_bytes"] = batch * vocab * 4
    return out


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vocab", type=int, default=10000, help="vocabulary size (10000)")
    parser.add_argument("--batch", type=int, default=256, help="pairs per step (256)")
    parser.add_argument("--dim", type=int, default=100, help="embedding size (100)")
    parser.add_argument("--repeats", type=int, default=20, help="timed rounds, medians (20)")
    parser.add_argument(
        "--sweep",
        default="1000,3000,10000,30000",
        help="vocabulary sizes of the sweep, comma-separated ('' to skip)",
    )
    args = parser.parse_args(argv)
    try:
        sweep = [int(v) for v in args.sweep.split(",") if v.strip()]
    except ValueError:
        parser.error(f"--sweep: expected comma-separated integers, got {args.sweep!r}")
    print(
        f"python {platform.python_version()}, numpy {np.__version__}, one BLAS thread, float32, "
        f"median of {args.repeats} rounds"
    )
    r = step_table(args.vocab, args.batch, args.dim, args.repeats)
    t = r["times"]
    print(
        f"\nword2vec step CE(V[centres] @ U, contexts): vocab {args.vocab}, batch {args.batch}, "
        f"dim {args.dim}"
    )
    print(
        f"{'method':<10}{'fwd ms':>9}{'bwd ms':>9}{'total ms':>10}{'held MiB':>10}{'peak MiB':>10}"
    )
    for m, times in t.items():
        held = f"{r['held'][m] / MiB:.2f}" if m in r["held"] else "-"
        peak = f"{r['peak'][m] / MiB:.2f}" if m in r["peak"] else "-"
        print(
            f"{m:<10}{_ms(times['forward']):>9}{_ms(times['backward']):>9}"
            f"{_ms(times['total']):>10}{held:>10}{peak:>10}"
        )
    fused, unfused = t["fused"]["total"], t["unfused"]["total"]
    held, logits, peak = r["held"], r["logits_bytes"], r["peak"]
    print(f"fused is {unfused / fused:.2f}x faster than unfused (whole step)")
    print(
        f"fused holds {held['unfused'] / held['fused']:.2f}x less for backward "
        f"({(held['unfused'] - logits) / (held['fused'] - logits):.2f}x less beyond the "
        f"{logits / MiB:.2f} MiB of scores both keep); peak "
        f"{peak['unfused'] / peak['fused']:.2f}x lower"
    )
    if "torch" in t:
        print(f"fused / PyTorch eager step time: {fused / t['torch']['total']:.2f}x")
    lt, lh = r["loss_times"], r["loss_held"]
    print(
        f"the loss alone on ({args.batch}, {args.vocab}) logits: fused "
        f"{_ms(lt['fused']['total'])} ms vs unfused {_ms(lt['unfused']['total'])} ms "
        f"({lt['unfused']['total'] / lt['fused']['total']:.2f}x faster), held "
        f"{lh['fused'] / MiB:.2f} vs {lh['unfused'] / MiB:.2f} MiB "
        f"({lh['unfused'] / lh['fused']:.2f}x less)"
    )
    if sweep:
        print(f"\nsweep: batch {args.batch}, dim {args.dim}, median of {max(3, args.repeats // 4)}")
        print(
            f"{'vocab':>7}{'fused ms':>10}{'unfused ms':>12}{'speedup':>9}"
            f"{'held fused':>12}{'held unfused':>14}{'saved MiB':>11}"
        )
        for row in full_softmax_sweep(sweep, args.batch, args.dim, max(3, args.repeats // 4)):
            f, u = row["fused"], row["unfused"]
            print(
                f"{row['vocab']:>7}{_ms(f['seconds']):>10}{_ms(u['seconds']):>12}"
                f"{row['speedup']:>8.2f}x{f['held'] / MiB:>12.2f}{u['held'] / MiB:>14.2f}"
                f"{(u['held'] - f['held']) / MiB:>11.2f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
