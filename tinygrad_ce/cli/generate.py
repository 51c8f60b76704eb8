"""``tinygrad-ce generate``: sample text from a GPT trained by ``tinygrad-ce train --model gpt``.

Examples::

    tinygrad-ce generate --run runs/pydoc-gpt --prompt "The "
    tinygrad-ce generate --run runs/pydoc-gpt --prompt "def " --temperature 0.7 --top-k 10 --seed 3
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .argtypes import non_negative_int, positive_float, positive_int


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``generate`` subcommand."""
    parser = subparsers.add_parser(
        "generate",
        help="sample text from a GPT run (tinygrad-ce train --model gpt)",
        description=(
            "Load a GPT run's folder (metrics.json: configuration and vocabulary; model.npz: "
            "weights) and print the prompt followed by sampled characters. The same --seed "
            "gives the same text."
        ),
    )
    parser.add_argument("--run", required=True, metavar="DIR", help="the folder of a GPT run")
    parser.add_argument("--prompt", default="\n", help="text to continue (default: a newline)")
    parser.add_argument(
        "--max-new-tokens", type=positive_int, default=300, help="characters to add (300)"
    )
    parser.add_argument(
        "--temperature", type=positive_float, default=0.8, help="below 1 sharper (0.8)"
    )
    parser.add_argument(
        "--top-k", type=positive_int, default=None, help="sample among the k likeliest only"
    )
    parser.add_argument("--seed", type=non_negative_int, default=0, help="seed (default 0)")
    parser.set_defaults(func=run, _parser=parser)
    return parser


def run(args: argparse.Namespace) -> int:
    """Load the run, sample, print; bad arguments or an unusable run folder exit 2."""
    from tinygrad_ce.run import RunError
    from tinygrad_ce.run_gpt import generate_text, load_gpt_run

    error = args._parser.error
    try:
        run_ = load_gpt_run(args.run)
    except RunError as err:
        error(f"--run: {err}")
    try:
        text = generate_text(
            run_, args.prompt, args.max_new_tokens, args.temperature, args.top_k, args.seed
        )
    except ValueError as err:
        error(f"--prompt: {err}")
    sys.stdout.write(text + "\n")
    return 0
