"""``tinygrad-ce word2vec``: train skip-gram word vectors (full softmax) and show neighbours.

Examples::

    tinygrad-ce word2vec                                 # CPython's docs, ~30 s, prints a table
    tinygrad-ce word2vec --epochs 10 --out w2v/          # also writes the table and vectors
    tinygrad-ce word2vec --text my.txt --min-count 2 --words cat,dog
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from .argtypes import check_output_dir, non_negative_int, positive_float, positive_int


def _words(text: str) -> list[str]:
    words = [w.strip().lower() for w in text.split(",") if w.strip()]
    if not words:
        raise argparse.ArgumentTypeError("expected comma-separated words, e.g. list,int,class")
    return words


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``word2vec`` subcommand."""
    parser = subparsers.add_parser(
        "word2vec",
        help="train word2vec (skip-gram, full softmax) on a corpus and print nearest neighbours",
        description=(
            "Train skip-gram word vectors with a full softmax over the vocabulary (the fused "
            "cross-entropy node; the centre vector's gradient is U (softmax(U^T v_c) - "
            "onehot(context))) on CPython's bundled documentation or a UTF-8 text file, then "
            "print each query word's nearest neighbours by cosine similarity."
        ),
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--text", metavar="FILE", help="train on this UTF-8 text file")
    source.add_argument(
        "--corpus", default="pydoc", help="a built-in corpus (default pydoc: CPython's docs)"
    )
    parser.add_argument(
        "--min-count", type=positive_int, default=5, help="drop rarer words (default 5)"
    )
    parser.add_argument(
        "--max-vocab", type=positive_int, default=None, help="vocabulary cap, <unk> included"
    )
    parser.add_argument("--dim", type=positive_int, default=64, help="vector size (default 64)")
    parser.add_argument("--window", type=positive_int, default=2, help="context distance (2)")
    parser.add_argument("--batch-size", type=positive_int, default=256, help="pairs per step (256)")
    parser.add_argument(
        "--epochs", type=positive_float, default=5.0, help="passes over the pairs (default 5)"
    )
    parser.add_argument(
        "--seconds", type=positive_float, default=None, help="stop after this many seconds"
    )
    parser.add_argument("--lr", type=positive_float, default=3e-3, help="Adam's rate (3e-3)")
    parser.add_argument(
        "--subsample",
        type=positive_float,
        default=1e-3,
        help="frequent-word subsampling threshold t (default 1e-3)",
    )
    parser.add_argument(
        "--no-subsample", action="store_true", help="train on every occurrence of every word"
    )
    parser.add_argument(
        "--unfused", action="store_true", help="the cross-entropy from primitive ops (slower)"
    )
    parser.add_argument(
        "--words", type=_words, default=None, metavar="W1,W2,...", help="query words"
    )
    parser.add_argument("-k", type=positive_int, default=5, help="neighbours per word (5)")
    parser.add_argument(
        "--vectors",
        choices=("sum", "centre", "output"),
        default="sum",
        help="which vectors to compare: V + U^T (default), V or U^T",
    )
    parser.add_argument("--seed", type=non_negative_int, default=0, help="seed (default 0)")
    parser.add_argument(
        "--out", metavar="DIR", help="write neighbours.md, vectors.npz, history.json here"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    parser.set_defaults(func=run, _parser=parser)
    return parser


def run(args: argparse.Namespace) -> int:
    """Load, tokenize, train, print the table (and write files); return the exit code."""
    import numpy as np

    from tinygrad_ce.data.text import WordTokenizer, load_corpus
    from tinygrad_ce.word2vec import (
        SkipGram,
        format_neighbours,
        neighbour_table,
        query_words,
        train_skipgram,
    )

    error = args._parser.error
    out = check_output_dir(error, "--out", args.out) if args.out else None
    if args.text is not None and not Path(args.text).is_file():
        error(f"--text {args.text!r}: no such file")
    try:
        text = load_corpus(args.corpus, path=args.text)
        tok = WordTokenizer(
            text, max_vocab=args.max_vocab, min_count=args.min_count, punctuation=False
        )
    except (ValueError, OSError) as err:
        error(str(err))
    if tok.vocab_size < args.k + 2:
        error(
            f"the vocabulary has {tok.vocab_size} words (min count {args.min_count}); -k "
            f"{args.k} needs at least {args.k + 2}: lower --min-count or -k, or use more text"
        )
    words = args.words or query_words(tok.vocab)
    missing = [w for w in words if w not in tok.index]
    if missing:
        error(f"--words: not in the vocabulary: {', '.join(missing)}")
    ids = tok.encode(text)
    print(
        f"corpus: {len(text):,} characters, {len(ids):,} words, vocabulary {tok.vocab_size:,} "
        f"(min count {args.min_count}; {tok.counts[0]:,} rarer words are <unk>)"
    )
    model = SkipGram(tok.vocab_size, args.dim, rng=args.seed)
    try:
        result = train_skipgram(
            model,
            ids,
            window=args.window,
            batch_size=args.batch_size,
            epochs=args.epochs,
            max_seconds=args.seconds,
            lr=args.lr,
            counts=None if args.no_subsample else tok.counts,
            subsample_threshold=args.subsample,
            fused=not args.unfused,
            seed=args.seed,
            log_every=250,
            progress=None if args.quiet else sys.stdout,
        )
    except ValueError as err:
        print(f"tinygrad-ce word2vec: error: {err}", file=sys.stderr)
        return 1
    print(
        f"trained {result.steps:,} steps ({result.epochs:.2f} epochs, {result.pairs:,} pairs) in "
        f"{result.seconds:.1f} s, {result.pairs_per_second:,.0f} pairs/s; loss "
        f"{result.losses[0]:.3f} -> {result.losses[-1]:.3f} nats (uniform: "
        f"{np.log(tok.vocab_size):.3f})"
    )
    table = format_neighbours(
        neighbour_table(model.embeddings(args.vectors), tok.vocab, words, args.k)
    )
    print(f"\nnearest neighbours ({args.vectors} vectors, cosine similarity):\n{table}")
    if out is not None:
        try:
            _write(out, model, tok.vocab, table, result.to_dict(), vars(args))
        except OSError as err:
            print(f"tinygrad-ce word2vec: error: cannot write to {out}: {err}", file=sys.stderr)
            return 1
        print(f"\nwrote neighbours.md, vectors.npz, history.json to {out}/")
    return 0


def _write(out: Path, model: Any, vocab: list[str], table: str, history: dict, args: dict) -> None:
    import numpy as np

    out.mkdir(parents=True, exist_ok=True)
    (out / "neighbours.md").write_text(table + "\n", encoding="utf-8")
    np.savez(out / "vectors.npz", V=model.V.data, U=model.U.data, vocab=np.array(vocab))
    config = {k: v for k, v in args.items() if not k.startswith("_") and k != "func"}
    (out / "history.json").write_text(
        json.dumps({"config": config, **history}, indent=2), encoding="utf-8"
    )
