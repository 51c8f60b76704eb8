"""``tinygrad-ce train --model gpt``: the GPT options of ``train`` and their handling.

Only the arguments are handled here; :func:`tinygrad_ce.run_gpt.run_gpt_training` does the run.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .argtypes import (
    check_output_dir,
    non_negative_int,
    positive_float,
    positive_int,
    run_and_report,
)

# GPT option -> GPTRunConfig field; all default to None ("the preset")
GPT_OPTIONS = {
    "text": "text",
    "block_size": "block_size",
    "n_layer": "n_layer",
    "n_head": "n_head",
    "n_embd": "n_embd",
    "steps": "steps",
    "max_seconds": "max_seconds",
    "eval_interval": "eval_interval",
    "sample_chars": "sample_chars",
}
# options of the MLP/CNN trainer that mean nothing to a GPT run (and their argparse defaults)
NOT_FOR_GPT = {
    "hidden": None,
    "activation": "relu",
    "epochs": None,
    "optimizer": "adam",
    "momentum": 0.9,
    "schedule": "cosine",
    "fused": True,
    "test_size": None,
    "data_dir": None,
    "no_graph": False,
}


def add_gpt_options(parser: argparse.ArgumentParser) -> None:
    """Add the ``--model gpt`` options to the ``train`` parser (as a titled group)."""
    group = parser.add_argument_group(
        "GPT options (--model gpt)",
        "A character-level GPT (nanoGPT's names) trained with AdamW on random windows of a "
        "text; writes model.npz, curves.png, samples.txt and metrics.json (losses in nats per "
        "character, the bigram baseline's, tokens/s, the vocabulary). Defaults: the pydoc "
        "corpus, block 64, 2 layers, 4 heads, width 128 (0.4 M parameters), 1000 steps of 32 "
        "windows, lr 1e-3 (warm-up, cosine to lr/10), weight decay 0.1: about 3 minutes. "
        "Sample from the run with: tinygrad-ce generate --run DIR --prompt TEXT",
    )
    group.add_argument("--text", metavar="FILE", help="train on this UTF-8 text file")
    group.add_argument("--block-size", type=positive_int, help="context length (default 64)")
    group.add_argument("--n-layer", type=positive_int, help="transformer blocks (default 2)")
    group.add_argument("--n-head", type=positive_int, help="attention heads (default 4)")
    group.add_argument("--n-embd", type=positive_int, help="width (default 128)")
    group.add_argument("--steps", type=positive_int, help="optimizer steps (default 1000)")
    group.add_argument(
        "--max-seconds",
        type=positive_float,
        help="stop training after this long (default: no limit)",
    )
    group.add_argument(
        "--eval-interval", type=positive_int, help="steps between validation losses (default 100)"
    )
    group.add_argument(
        "--sample-chars",
        type=non_negative_int,
        help="characters per sample in samples.txt (default 300; 0: no samples)",
    )


def run_gpt(args: argparse.Namespace) -> int:
    """Build a GPTRunConfig from the arguments, run it, report. Returns the exit code."""
    from tinygrad_ce.run_gpt import GPTRunConfig, run_gpt_training

    error = args._parser.error
    for name, default in NOT_FOR_GPT.items():
        if getattr(args, name) != default:
            error(
                f"--{name.replace('_', '-')} is an MLP/CNN option; it does not apply to --model gpt"
            )
    if args.text is not None and args.dataset is not None:
        error("--text and --dataset are two sources of text: give one")
    if args.text is not None and not Path(args.text).is_file():
        error(f"--text {args.text!r}: no such file")
    fields = {f: getattr(args, o) for o, f in GPT_OPTIONS.items() if getattr(args, o) is not None}
    for name in ("lr", "weight_decay", "batch_size", "seed"):
        if getattr(args, name) is not None:
            fields[name] = getattr(args, name)
    if args.out is not None:
        fields["out"] = str(check_output_dir(error, "--out", args.out))
    config = GPTRunConfig(
        corpus=args.dataset or "pydoc",
        force=args.force,
        progress=not args.no_progress,
        plots=not args.no_plots,
        **fields,
    )
    return run_and_report("tinygrad-ce train", run_gpt_training, config, error, _report)


_LABELS = {
    "weights": "trained weights",
    "curves": "training and validation loss",
    "samples": "text sampled from the model",
    "metrics": "losses, bigram baseline, tokens/s, config, vocabulary",
}


def _report(result: Any) -> None:
    m = result.metrics
    final, t = m["final"], m["time"]
    print(
        f"done: {final['steps']} steps in {t['train_seconds']:.1f} s "
        f"({t['tokens_per_second']:,.0f} tokens/s); validation loss {final['val_loss']:.3f} "
        f"nats/char vs the bigram's {m['bigram']['val_loss']:.3f} "
        f"(training {final['train_loss']:.3f})"
    )
    out = result.config.out
    print(f"wrote to {out}/:")
    for key, path in result.files.items():
        print(f"  {Path(path).name:<12}  {_LABELS.get(key, key)}")
    print(f'sample more: tinygrad-ce generate --run {out} --prompt "The "')
    for note in result.notes:
        print(f"note: {note}")
