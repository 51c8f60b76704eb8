"""``tinygrad-ce train``: train an MLP on a built-in data set and write what happened to a folder.

Examples::

    tinygrad-ce train                                   # spiral, MLP 2-64-64-3, a few seconds
    tinygrad-ce train --dataset digits                  # 8x8 digits, 20% held out
    tinygrad-ce train --dataset moons --hidden 32 --hidden 32 --optimizer sgd --lr 0.1
    tinygrad-ce train --unfused --out runs/spiral-unfused --force

Only the arguments are handled here; :func:`tinygrad_ce.run.run_training` does the run (see
there for what the output folder gets, and when it is refused).
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

from .argtypes import check_output_dir, non_negative_int, run_and_report


def _dataset_names() -> list[str]:
    from tinygrad_ce.data import DATASETS

    return list(DATASETS)


def _presets_epilog() -> str:
    """The per-data-set defaults, read from the data registry (grouped when they agree)."""
    from tinygrad_ce.data import DATASETS

    groups: dict[str, list[str]] = {}
    for name, info in DATASETS.items():
        p = info.presets
        text = f"hidden {','.join(map(str, p['hidden'])) or 0}, {p['epochs']} epochs, "
        if p["test_size"]:
            text += f"{p['test_size']:.0%} held out (stratified)"
        else:
            text += "all points used for training"
        if p["standardize"]:
            text += ", inputs standardized"
        groups.setdefault(text, []).append(name)
    return "".join(f"  {', '.join(names)}: {text}\n" for text, names in groups.items())


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``train`` subcommand."""
    names = _dataset_names()
    parser = subparsers.add_parser(
        "train",
        help="train an MLP or CNN on a built-in data set (spiral by default), or a GPT on a text "
        "(--model gpt), and save the results",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "With --model gpt: train a character-level GPT on a text (see 'GPT options').\n"
            "Otherwise train a multi-layer perceptron (or a CNN) with softmax cross-entropy on a\n"
            "built-in data set\n"
            "(progress bar on a terminal), then compare the fused and the unfused loss on one\n"
            "batch. Writes to --out: model.npz (weights), curves.png, decision_boundary.png\n"
            "(2-D points) or <dataset>.png (images), graph.svg (the graph of one batch's loss;\n"
            "graph.dot when Graphviz's dot is not installed), and last metrics.json\n"
            "(accuracies, losses, history, config, times, the fused-vs-unfused check): a\n"
            "folder with a metrics.json holds a complete run. Every file is written under a\n"
            "temporary name first. A folder that is not empty is refused unless --force.\n"
            'If the loss stops being finite, training stops: metrics.json says "diverged",\n'
            "no weights are written, and the exit code is 1."
        ),
        epilog=(
            "defaults per data set:\n" + _presets_epilog() + "\n"
            "examples:\n"
            "  tinygrad-ce train\n"
            "  tinygrad-ce train --dataset digits --out runs/digits\n"
            "  tinygrad-ce train --model cnn --dataset digits\n"
            "  tinygrad-ce train --dataset moons --hidden 32,32 --optimizer sgd --lr 0.1\n"
            "  tinygrad-ce train --unfused --epochs 50 --out runs/spiral --force\n"
            "  tinygrad-ce train --model gpt                  # 0.4 M parameters, ~3 minutes\n"
            "  tinygrad-ce train --model gpt --text my.txt --steps 300 --n-embd 64"
        ),
    )
    parser.add_argument(
        "--dataset",
        default=None,
        metavar="NAME",
        help=f"one of: {', '.join(names)} (default: spiral); with --model gpt a text corpus: "
        f"{', '.join(_corpus_names())} (default: pydoc)",
    )
    parser.add_argument(
        "--model",
        choices=("mlp", "cnn", "gpt"),
        default="mlp",
        help="mlp, cnn: a LeNet-style CNN (models.CNN) for image data sets, or gpt: a "
        "character-level GPT on a text corpus (see 'GPT options'; default: mlp)",
    )
    parser.add_argument(
        "--data-dir",
        metavar="DIR",
        help="folder with the IDX files of --dataset mnist or fashion-mnist (never downloaded)",
    )
    parser.add_argument(
        "--hidden",
        action="append",
        metavar="SIZES",
        help='hidden layer sizes, comma-separated ("64,64") or repeated (--hidden 64 '
        "--hidden 64); 0 alone means no hidden layer (default: per data set, see below)",
    )
    parser.add_argument(
        "--activation",
        choices=("relu", "tanh", "sigmoid"),
        default="relu",
        help="(default: relu)",
    )
    parser.add_argument(
        "--epochs", type=int, help="passes over the training data (default: per data set)"
    )
    parser.add_argument(
        "--lr", type=float, help="learning rate (default: 0.01; 1e-3 with --model gpt)"
    )
    parser.add_argument(
        "--optimizer", choices=("sgd", "adam", "adamw"), default="adam", help="(default: adam)"
    )
    parser.add_argument(
        "--momentum", type=float, default=0.9, help="momentum for sgd (default: 0.9)"
    )
    parser.add_argument(
        "--weight-decay",
        type=float,
        help="weight decay (default: 0 for sgd/adam, 0.01 for adamw)",
    )
    parser.add_argument(
        "--schedule",
        choices=("cosine", "step", "none"),
        default="cosine",
        help="learning-rate schedule over the epochs: cosine annealing to 0, step (x0.1 after "
        "every third of the epochs) or none (default: cosine)",
    )
    parser.add_argument("--batch-size", type=int, default=32, help="(default: 32)")
    fused = parser.add_mutually_exclusive_group()
    fused.add_argument(
        "--fused",
        dest="fused",
        action="store_true",
        default=True,
        help="train with the fused SoftmaxCrossEntropy node (the default)",
    )
    fused.add_argument(
        "--unfused",
        dest="fused",
        action="store_false",
        help="train with the cross-entropy composed of primitive ops",
    )
    parser.add_argument(
        "--test-size",
        type=float,
        help="fraction held out for testing, in [0, 1) (default: per data set)",
    )
    parser.add_argument(
        "--seed",
        type=non_negative_int,
        default=0,
        help="seed for data, weights, batches (default: 0)",
    )
    parser.add_argument(
        "--out",
        metavar="DIR",
        help="output folder, new or empty (default: a fresh runs/<dataset>[-N] for each run)",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="write into a folder that holds an earlier run: its files are replaced, and the "
        "ones this run does not write are removed (a folder with other files is still refused)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG figures")
    parser.add_argument("--no-graph", action="store_true", help="skip drawing the loss graph")
    _add_gpt_options(parser)
    parser.set_defaults(func=run, _parser=parser)
    return parser


# ---------------------------------------------------------------------------------------------
# arguments


def parse_hidden(specs: list[str]) -> list[int]:
    """``["64,64"]`` or ``["64", "64"]`` -> ``[64, 64]``; ``["0"]`` -> ``[]`` (no hidden layer).

    Raises ValueError naming the bad part.
    """
    sizes: list[int] = []
    for spec in specs:
        for part in str(spec).replace(" ", "").split(","):
            if not part:
                raise ValueError(f"bad hidden spec {spec!r}: empty size (use e.g. 64,64)")
            try:
                n = int(part)
            except ValueError:
                raise ValueError(
                    f"bad hidden spec {spec!r}: {part!r} is not an integer (use e.g. 64,64)"
                ) from None
            if n < 0:
                raise ValueError(f"bad hidden spec {spec!r}: sizes must be positive, got {n}")
            sizes.append(n)
    if sizes == [0]:
        return []
    if any(n == 0 for n in sizes):
        raise ValueError(f"bad hidden spec {','.join(specs)!r}: sizes must be positive")
    return sizes


def run(args: argparse.Namespace) -> int:
    """Turn the arguments into a RunConfig, run it, print where things went. Returns the exit
    code: 0, 1 when training diverged or a file could not be written, 2 for bad arguments."""
    from tinygrad_ce.run import RunConfig, run_training

    if args.model == "gpt":
        from .train_gpt import run_gpt

        return run_gpt(args)
    parser = args._parser
    from .train_gpt import GPT_OPTIONS

    for name in GPT_OPTIONS:
        if getattr(args, name) is not None:
            parser.error(f"--{name.replace('_', '-')} is a GPT option: add --model gpt")
    args.dataset = args.dataset or "spiral"
    if args.lr is None:
        args.lr = RunConfig.lr
    try:
        hidden = parse_hidden(args.hidden) if args.hidden else None
    except ValueError as err:
        parser.error(f"--hidden: {err}")
    # without --out the library picks a fresh runs/<dataset>[-N]: never an earlier run's folder
    out = None if args.out is None else str(check_output_dir(parser.error, "--out", args.out))
    # the options carry RunConfig's field names, except these five (parsed or negated here)
    own = {"hidden", "out", "progress", "plots", "graph"}
    same = {f.name for f in dataclasses.fields(RunConfig)} - own
    config = RunConfig(
        **{k: v for k, v in vars(args).items() if k in same},
        hidden=hidden,
        out=out,
        progress=not args.no_progress,
        plots=not args.no_plots,
        graph=not args.no_graph,
    )
    return run_and_report("tinygrad-ce train", run_training, config, parser.error, _report)


def _corpus_names() -> list[str]:
    from tinygrad_ce.data.text import CORPORA

    return list(CORPORA)


def _add_gpt_options(parser: argparse.ArgumentParser) -> None:
    from .train_gpt import add_gpt_options

    add_gpt_options(parser)


def _fmt_pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.1%}"


_LABELS = {
    "weights": "trained weights (nn.load(model, path))",
    "metrics": "metrics, history, config, fused-vs-unfused check",
    "curves": "loss and accuracy curves",
    "decision_boundary": "decision boundary",
    "images": "held-out images, mistakes first",
    "filters": "first conv layer's filters",
    "feature_maps": "feature maps of one held-out image",
    "graph": "graph of one batch's loss",
}


def _report(result: Any) -> None:
    m = result.metrics
    final, check = m["final"], m["fused_vs_unfused"]
    test = (
        f"; test loss {final['test_loss']:.4f}, accuracy {_fmt_pct(final['test_accuracy'])}"
        if final["test_loss"] is not None
        else ""
    )
    print(
        f"done in {m['time']['train_seconds']:.2f} s: train loss {final['train_loss']:.4f}, "
        f"accuracy {_fmt_pct(final['train_accuracy'])}{test}"
    )
    print(
        f"fused vs unfused cross-entropy, same batch of {check['batch']} through the model:\n"
        f"  |loss difference| {check['loss_abs_diff']:.2g}, max |gradient difference| "
        f"{check['grad_max_abs_diff']:.2g}\n"
        f"  graph nodes {check['nodes_fused']} (fused) vs {check['nodes_unfused']} (unfused); "
        f"time unfused/fused {check['step_time_ratio']:.2f}x for the whole step, "
        f"{check['loss_time_ratio']:.2f}x for the loss alone"
    )
    print(f"wrote to {result.config.out}/:")
    width = max(len(Path(p).name) for p in result.files.values())
    for key, path in result.files.items():
        print(f"  {Path(path).name:<{width}}  {_LABELS.get(key, key)}")
    for note in result.notes:
        print(f"note: {note}")
