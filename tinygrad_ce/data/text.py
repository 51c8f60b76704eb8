"""Text for language models: a corpus that needs no network, tokenizers, windows, a baseline.

- the corpus: ``load_pydoc_text()``, the documentation text that ships inside every CPython
  (``pydoc_data.topics``, about 460 kB of English prose and code from the Python reference
  manual; Python Software Foundation License), or any UTF-8 file (``read_text``);
  ``CORPORA`` names the built-in ones and ``load_corpus`` takes a name or a path;
- tokenizers: ``CharTokenizer`` (one id per character) and ``WordTokenizer`` (words and
  punctuation, a vocabulary cap, an unknown token); both round-trip ``decode(encode(text))``;
- batching: ``split_ids`` (train/validation, contiguous), ``sample_windows`` (random windows of
  ``block_size + 1`` tokens cut into inputs ``x`` and next-token targets ``y``, seeded);
- the baseline: ``BigramModel``, character bigram counts with add-alpha smoothing; its
  validation loss in nats per token is the number a language model must beat.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "CORPORA",
    "BigramModel",
    "CharTokenizer",
    "CorpusInfo",
    "WordTokenizer",
    "bigram_baseline",
    "load_corpus",
    "load_pydoc_text",
    "read_text",
    "sample_windows",
    "split_ids",
]


# ---------------------------------------------------------------------------------------------
# the corpus


def load_pydoc_text() -> str:
    """The Python reference documentation that ships with this interpreter, as one string.

    CPython's ``pydoc_data.topics`` holds the text ``help("assert")``, ``help("class")`` ...
    print: 79 topics of the language reference (about 460,000 characters of English with code
    examples in CPython 3.11). The topics are joined in sorted order, separated by a blank
    line, so the result is the same on every run of one Python version (another version's
    documentation differs a little). Source: the CPython documentation, (c) Python Software
    Foundation, Python Software Foundation License Version 2.
    """
    from pydoc_data import topics

    return "\n\n".join(topics.topics[name] for name in sorted(topics.topics))


def read_text(path: str | Path) -> str:
    """The contents of a UTF-8 text file (a byte-order mark is dropped).

    Raises ``ValueError`` naming the file when it is not UTF-8 or holds no text.
    """
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from None
    if not text.strip():
        raise ValueError(f"{path}: the file holds no text")
    return text


@dataclass(frozen=True)
class CorpusInfo:
    """A named text corpus: ``CORPORA["pydoc"]()`` returns its text."""

    name: str
    loader: Callable[[], str]
    description: str
    kind: str = "text"

    def __call__(self) -> str:
        return self.loader()


CORPORA: dict[str, CorpusInfo] = {
    "pydoc": CorpusInfo(
        "pydoc",
        load_pydoc_text,
        "CPython's reference documentation (pydoc_data.topics, ~460 kB, PSF License)",
    ),
}


def load_corpus(name: str = "pydoc", path: str | Path | None = None) -> str:
    """The text of a named corpus (``CORPORA``), or of the UTF-8 file ``path`` when given."""
    if path is not None:
        return read_text(path)
    try:
        return CORPORA[name]()
    except KeyError:
        raise ValueError(
            f"unknown corpus {name!r}; choose one of: {', '.join(CORPORA)} (or pass a file path)"
        ) from None


# ---------------------------------------------------------------------------------------------
# tokenizers


def _ids_array(ids: Any, size: int) -> np.ndarray:
    arr = np.asarray(ids)
    if arr.size == 0:
        return arr.astype(np.int64).reshape(arr.shape)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"token ids must be integers, got dtype {arr.dtype}")
    if arr.min() < 0 or arr.max() >= size:
        raise ValueError(
            f"token ids must be in 0..{size - 1} (the vocabulary size is {size}), got min "
            f"{arr.min()}, max {arr.max()}"
        )
    return arr


class _Tokenizer:
    """What both tokenizers share: ``vocab`` (id -> token), ``index`` and ``decode``."""

    separator = ""  # what decode puts between tokens
    vocab: list[str]
    index: dict[str, int]

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def decode(self, ids: Any) -> str:
        """The tokens of ``ids`` (any integer sequence) joined by ``separator``."""
        arr = _ids_array(ids, self.vocab_size).reshape(-1)
        vocab = self.vocab
        return self.separator.join(vocab[i] for i in arr.tolist())


class CharTokenizer(_Tokenizer):
    """One id per character: the sorted distinct characters of the text it was built from.

    Parameters
    ----------
    text : str
        The characters to know (usually the whole corpus, so that no character is unknown).

    Examples
    --------
    >>> tok = CharTokenizer("hello")
    >>> tok.vocab, tok.encode("hole").tolist()
    (['e', 'h', 'l', 'o'], [1, 3, 2, 0])
    >>> tok.decode(tok.encode("hole"))
    'hole'
    """

    def __init__(self, text: str) -> None:
        if not text:
            raise ValueError("CharTokenizer needs a non-empty text to learn its characters from")
        self.vocab: list[str] = sorted(set(text))
        self.index: dict[str, int] = {ch: i for i, ch in enumerate(self.vocab)}

    def encode(self, text: str) -> np.ndarray:
        """The ids of ``text``'s characters, int64 of shape ``(len(text),)``."""
        try:
            return np.fromiter((self.index[ch] for ch in text), dtype=np.int64, count=len(text))
        except KeyError as err:
            raise ValueError(
                f"character {err.args[0]!r} is not in the tokenizer's {self.vocab_size} "
                "characters; build the CharTokenizer from a text that contains it"
            ) from None

    def __repr__(self) -> str:
        return f"CharTokenizer(vocab_size={self.vocab_size})"


# a token: the unknown marker, a run of letters/digits/underscores, or one other visible character
_TOKEN = re.compile(r"<unk>|\w+|[^\w\s]")
_WORD = re.compile(r"\w+")


class WordTokenizer(_Tokenizer):
    """Words and punctuation marks, lower-cased, with the ``max_vocab`` most frequent kept.

    ``tokenize`` splits a text into runs of letters, digits and underscores and single
    punctuation characters (``"x = f(1)."`` -> ``x = f ( 1 ) .``). The vocabulary holds
    ``"<unk>"`` at id 0, then the most frequent tokens of the training text (ties in order of
    first appearance), at most ``max_vocab`` ids in all; every other token encodes as 0.

    Parameters
    ----------
    text : str
        The training text.
    max_vocab : int, optional
        Vocabulary cap, the unknown token included (None: every token).
    min_count : int
        Leave out tokens seen fewer times than this.
    lower : bool
        Lower-case before tokenizing.
    punctuation : bool
        Keep punctuation tokens (False: words only, as word2vec uses).

    Notes
    -----
    ``decode`` joins tokens with single spaces, so ``decode(encode(text)) ==
    " ".join(tokenize(text))`` when every token is known, and ``encode(decode(ids)) == ids``
    for any ids.

    Examples
    --------
    >>> tok = WordTokenizer("the cat saw the dog.", max_vocab=4)
    >>> tok.vocab
    ['<unk>', 'the', 'cat', 'saw']
    >>> tok.decode(tok.encode("The dog saw the cat"))
    'the <unk> saw the cat'
    """

    unk = "<unk>"
    separator = " "

    def __init__(
        self,
        text: str,
        max_vocab: int | None = None,
        min_count: int = 1,
        lower: bool = True,
        punctuation: bool = True,
    ) -> None:
        is_int = isinstance(max_vocab, (int, np.integer)) and not isinstance(max_vocab, bool)
        if max_vocab is not None and (not is_int or max_vocab < 2):
            raise ValueError(
                f"max_vocab must be an int >= 2 (the unknown token and one word) or None, "
                f"got {max_vocab!r}"
            )
        if min_count < 1:
            raise ValueError(f"min_count must be >= 1, got {min_count}")
        self.lower, self.punctuation = bool(lower), bool(punctuation)
        counts = Counter(t for t in self.tokenize(text) if t != self.unk)
        if not counts:
            raise ValueError("WordTokenizer found no tokens in the training text")
        kept = [t for t, c in counts.most_common() if c >= min_count]  # stable for ties
        if max_vocab is not None:
            kept = kept[: max_vocab - 1]
        self.vocab: list[str] = [self.unk, *kept]
        self.index: dict[str, int] = {t: i for i, t in enumerate(self.vocab)}
        self.counts = np.array([0, *(counts[t] for t in kept)], dtype=np.int64)
        self.counts[0] = sum(counts.values()) - int(self.counts[1:].sum())  # unknown tokens

    def tokenize(self, text: str) -> list[str]:
        """The tokens of ``text`` (strings), lower-cased if the tokenizer is."""
        if self.lower:
            text = text.lower()
        pattern = _TOKEN if self.punctuation else _WORD
        return pattern.findall(text)

    def encode(self, text: str) -> np.ndarray:
        """Token ids, int64 of shape ``(n_tokens,)``; unknown tokens are 0."""
        get = self.index.get
        tokens = self.tokenize(text)
        return np.fromiter((get(t, 0) for t in tokens), dtype=np.int64, count=len(tokens))

    def __repr__(self) -> str:
        return f"WordTokenizer(vocab_size={self.vocab_size}, punctuation={self.punctuation})"


# ---------------------------------------------------------------------------------------------
# splitting and batching


def split_ids(ids: Any, val_fraction: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Cut a token sequence into a training part (the start) and a validation part (the end).

    The split is contiguous, not shuffled: windows of neighbouring tokens overlap, so a random
    split would put the same text on both sides.

    Parameters
    ----------
    ids : array_like of int, shape (N,)
    val_fraction : float in (0, 1)
        Share of the tokens that go to validation (rounded; both parts keep at least 2).

    Returns
    -------
    train, val : ndarray, int64
    """
    arr = np.asarray(ids).reshape(-1).astype(np.int64, copy=False)
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction!r}")
    n_val = round(len(arr) * val_fraction)
    if n_val < 2 or len(arr) - n_val < 2:
        raise ValueError(
            f"{len(arr)} tokens with val_fraction={val_fraction} leave {len(arr) - n_val} for "
            f"training and {n_val} for validation; each part needs at least 2 (use more text)"
        )
    return arr[: len(arr) - n_val], arr[len(arr) - n_val :]


def sample_windows(
    ids: Any,
    block_size: int,
    batch_size: int,
    rng: np.random.Generator | int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Random windows of ``block_size + 1`` tokens, as inputs and next-token targets.

    Window ``b`` starts at a random position ``s`` (uniform over all windows that fit):
    ``x[b] = ids[s : s + block_size]`` and ``y[b] = ids[s + 1 : s + block_size + 1]``, so
    ``y[b, t]`` is the token that follows ``x[b, t]``.

    Parameters
    ----------
    ids : array_like of int, shape (N,), N >= block_size + 1
    block_size : int
        Context length T.
    batch_size : int
        Windows per batch B.
    rng : numpy Generator or seed
        Where the start positions come from; the same seed gives the same batch.

    Returns
    -------
    x, y : ndarray, int64, shape (B, T)
    """
    arr = np.asarray(ids).reshape(-1)
    for name, value in (("block_size", block_size), ("batch_size", batch_size)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if len(arr) < block_size + 1:
        raise ValueError(
            f"a window needs block_size + 1 = {block_size + 1} tokens, the sequence has "
            f"{len(arr)}; use a smaller block_size or more text"
        )
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    starts = gen.integers(0, len(arr) - block_size, size=batch_size)
    window = starts[:, None] + np.arange(block_size + 1)  # (B, T + 1) positions
    tokens = arr[window].astype(np.int64, copy=False)
    return tokens[:, :-1], tokens[:, 1:]


# ---------------------------------------------------------------------------------------------
# the bigram baseline


class BigramModel:
    """Next-token probabilities from bigram counts: ``p(b | a) = (n(a, b) + alpha) / (n(a) +
    alpha V)``.

    The model a language model must beat: it sees one token of context. With add-alpha
    (Laplace for ``alpha = 1``) smoothing no probability is 0, so the loss on unseen text is
    finite.

    Parameters
    ----------
    vocab_size : int
        V, the number of token ids.
    alpha : float
        Pseudo-count added to every pair, > 0.

    Attributes
    ----------
    counts : ndarray, float64, shape (V, V)
        ``counts[a, b]``: how often ``b`` followed ``a`` in the training ids.
    log_probs : ndarray, float64, shape (V, V)
        ``log p(b | a)``; each row's exp sums to 1.
    """

    def __init__(self, vocab_size: int, alpha: float = 1.0) -> None:
        if vocab_size < 1:
            raise ValueError(f"vocab_size must be >= 1, got {vocab_size}")
        if not alpha > 0:
            raise ValueError(f"alpha must be > 0 (no probability may be 0), got {alpha!r}")
        self.vocab_size, self.alpha = int(vocab_size), float(alpha)
        self.counts = np.zeros((self.vocab_size, self.vocab_size))
        self.log_probs = np.full((self.vocab_size, self.vocab_size), -math.log(self.vocab_size))

    def fit(self, ids: Any) -> BigramModel:
        """Count the pairs ``(ids[i], ids[i + 1])`` and set ``log_probs``; returns self."""
        arr = _ids_array(ids, self.vocab_size).reshape(-1)
        if len(arr) < 2:
            raise ValueError(f"fit needs at least 2 tokens (one pair), got {len(arr)}")
        v = self.vocab_size
        pairs = arr[:-1] * v + arr[1:]
        self.counts = np.bincount(pairs, minlength=v * v).reshape(v, v).astype(np.float64)
        smoothed = self.counts + self.alpha
        self.log_probs = np.log(smoothed) - np.log(smoothed.sum(axis=1, keepdims=True))
        return self

    def loss(self, ids: Any) -> float:
        """Mean negative log-likelihood of each token given the one before, in nats per token."""
        arr = _ids_array(ids, self.vocab_size).reshape(-1)
        if len(arr) < 2:
            raise ValueError(f"loss needs at least 2 tokens (one pair), got {len(arr)}")
        return float(-self.log_probs[arr[:-1], arr[1:]].mean())

    def __repr__(self) -> str:
        return f"BigramModel(vocab_size={self.vocab_size}, alpha={self.alpha})"


def bigram_baseline(
    train: Any, val: Any, vocab_size: int, alphas: Iterable[float] = (0.01, 0.1, 1.0)
) -> dict[float, float]:
    """Validation loss (nats per token) of ``BigramModel`` fitted on ``train``, per alpha."""
    return {a: BigramModel(vocab_size, a).fit(train).loss(val) for a in alphas}
