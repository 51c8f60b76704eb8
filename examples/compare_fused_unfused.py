"""Compare the fused and the unfused softmax cross-entropy: agreement, time, memory, stability.

What it teaches: the two ways to compute the same loss. ``fused=True`` records one
``SoftmaxCrossEntropy`` node whose backward is ``(softmax - onehot) / N``; ``fused=False``
records a chain of primitive ops, each with its own VJP. ``compare_cross_entropy`` runs both
(and a hand-written numpy reference) on the same logits and reports how closely they agree,
their median times, the size of their graphs and the memory they hold for the backward pass,
plus a sweep over logit scales where the naive textbook formula overflows and neither of ours
does.

Run::

    python examples/compare_fused_unfused.py              # figure goes to a new temp directory
    python examples/compare_fused_unfused.py OUT_DIR      # or into OUT_DIR
    TINYGRAD_CE_OUT=OUT_DIR python examples/compare_fused_unfused.py

Takes a second or two. Writes ``compare.png`` and ``compare.json`` (only there). The same
report: ``tinygrad-ce compare``.
"""

from __future__ import annotations

import json
import os

# one BLAS thread, so the timings are not at the mercy of thread scheduling
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import sys  # noqa: E402

from _common import output_dir  # noqa: E402

from tinygrad_ce import compare_cross_entropy  # noqa: E402


def main(argv: list[str]) -> int:
    out = output_dir(argv, __doc__, prefix="tinygrad_ce_compare_")
    result = compare_cross_entropy(batch=256, classes=100, repeats=15)
    print(result.table())

    ratios = result.timing["ratios"]
    nodes = {m: result.graph[m]["nodes"] for m in ("fused", "unfused")}
    print(
        f"\nIn short: the fused loss takes {ratios['fused/unfused']:.2f}x the time of the "
        f"unfused one, with {nodes['fused']} graph node instead of {nodes['unfused']}."
    )

    result.plot(out / "compare.png")
    (out / "compare.json").write_text(json.dumps(result.to_dict(), indent=2), encoding="utf-8")
    print(f"figure and JSON written to {out}")
    agree = result.agreement["fused_vs_unfused"]["grad_rel"] < 1e-10
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
