"""``tinygrad-ce compare``: fused vs unfused softmax cross-entropy, side by side.

Examples::

    tinygrad-ce compare                                  # batch 64, classes 10, float64
    tinygrad-ce compare --batch 4096 --classes 1000 --dtype float32 --no-sweep
    tinygrad-ce compare --json > result.json
    tinygrad-ce compare --plot compare.png
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from .argtypes import check_output_file, non_negative_int, positive_float, positive_int


def _scales(text: str) -> tuple[float, ...]:
    parts = [p for p in text.split(",") if p.strip()]
    if not parts:
        raise argparse.ArgumentTypeError("expected a comma-separated list of scales, e.g. 1,10,100")
    return tuple(positive_float(p.strip()) for p in parts)


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``compare`` subcommand."""
    parser = subparsers.add_parser(
        "compare",
        help="compare the fused and unfused cross-entropy: agreement, time, graph, stability",
        description=(
            "On the same logits and integer labels, compare F.cross_entropy(fused=True), "
            "fused=False and a hand-written numpy reference: loss and gradient agreement, "
            "median forward/backward time, graph size and bytes held for backward, and a "
            "stability sweep over logit scales (float32 and float64) that also shows where the "
            "naive formula -log(exp(z_y) / sum(exp(z))) breaks. batch x classes is limited to "
            "20,000,000 logits."
        ),
    )
    parser.add_argument("--batch", type=positive_int, default=64, help="rows (default 64)")
    parser.add_argument("--classes", type=positive_int, default=10, help="classes (default 10)")
    parser.add_argument(
        "--dtype",
        choices=("float32", "float64"),
        default="float64",
        help="dtype of the logits for agreement and timing (default float64)",
    )
    parser.add_argument(
        "--scale", type=positive_float, default=1.0, help="logits = scale * N(0, 1) (default 1)"
    )
    parser.add_argument(
        "--repeats", type=positive_int, default=20, help="timed rounds; medians (default 20)"
    )
    parser.add_argument(
        "--seed", type=non_negative_int, default=0, help="seed of logits and labels (default 0)"
    )
    parser.add_argument(
        "--scales",
        type=_scales,
        default=None,
        metavar="S1,S2,...",
        help="logit scales of the stability sweep (default 1,10,100,1000,10000)",
    )
    parser.add_argument("--no-sweep", action="store_true", help="skip the stability sweep")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--plot", metavar="PATH", help="also save a figure (PNG, SVG or PDF)")
    parser.set_defaults(func=run, _parser=parser)
    return parser


def run(args: argparse.Namespace) -> int:
    """Run the comparison and print it (table or JSON); return the exit code."""
    from tinygrad_ce.compare import DEFAULT_SCALES, MAX_LOGITS, compare_cross_entropy

    if args.batch * args.classes > MAX_LOGITS:
        args._parser.error(
            f"--batch {args.batch} x --classes {args.classes} makes "
            f"{args.batch * args.classes:,} logits; the comparison is for sizes that fit in "
            f"memory a few times over (at most {MAX_LOGITS:,})"
        )
    if args.plot:
        check_output_file(args._parser.error, "--plot", args.plot, (".png", ".svg", ".pdf"))
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            args._parser.error("--plot needs matplotlib: pip install 'tinygrad_ce[train]'")
    result = compare_cross_entropy(
        args.batch,
        args.classes,
        dtype=args.dtype,
        scale=args.scale,
        repeats=args.repeats,
        seed=args.seed,
        sweep=not args.no_sweep,
        scales=args.scales or DEFAULT_SCALES,
    )
    if args.plot:
        try:
            result.plot(args.plot)
        except (OSError, ValueError) as err:
            reason = getattr(err, "strerror", None) or err
            print(
                f"tinygrad-ce compare: error: cannot write plot {args.plot!r}: {reason}",
                file=sys.stderr,
            )
            return 1
    if args.json:
        print(json.dumps(result.to_dict(), indent=2, allow_nan=False))
    else:
        print(result.table())
        if args.plot:
            print(f"\nplot saved to {args.plot}")
    return 0
