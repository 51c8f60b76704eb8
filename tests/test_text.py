"""Text data: the bundled corpus, tokenizers (round trips), splitting, windows, the bigram."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_ce.data import (
    CORPORA,
    BigramModel,
    CharTokenizer,
    WordTokenizer,
    bigram_baseline,
    load_corpus,
    load_pydoc_text,
    read_text,
    registry,
    sample_windows,
    split_ids,
)


@pytest.fixture(scope="module")
def corpus() -> str:
    return load_pydoc_text()


# --- the corpus ------------------------------------------------------------------------------


def test_pydoc_corpus_is_real_english_and_the_same_every_time(corpus):
    assert len(corpus) > 300_000
    assert 'The "assert" statement' in corpus
    assert corpus == load_pydoc_text() == load_corpus("pydoc") == CORPORA["pydoc"]()
    words = corpus.lower().split()
    assert words.count("the") > 2000  # prose, not just code


def test_corpus_registry_declares_the_text_kind():
    assert CORPORA["pydoc"].kind == "text"
    assert registry.CORPORA is CORPORA
    assert "pydoc" not in registry.DATASETS  # (X, y) sets and text corpora stay apart


def test_load_corpus_reads_a_file_and_names_bad_input(tmp_path):
    path = tmp_path / "tiny.txt"
    path.write_text("\ufeffhello world\n", encoding="utf-8")
    assert load_corpus(path=path) == read_text(path) == "hello world\n"
    with pytest.raises(ValueError, match="unknown corpus 'shakespeare'.*pydoc"):
        load_corpus("shakespeare")
    (tmp_path / "empty.txt").write_text("  \n", encoding="utf-8")
    with pytest.raises(ValueError, match="empty.txt: the file holds no text"):
        read_text(tmp_path / "empty.txt")
    (tmp_path / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    with pytest.raises(ValueError, match="latin1.txt: not UTF-8"):
        read_text(tmp_path / "latin1.txt")


# --- character tokenizer ---------------------------------------------------------------------


def test_char_tokenizer_round_trips_the_whole_corpus(corpus):
    tok = CharTokenizer(corpus)
    ids = tok.encode(corpus)
    assert ids.dtype == np.int64 and ids.shape == (len(corpus),)
    assert tok.decode(ids) == corpus
    assert tok.vocab == sorted(set(corpus)) and 60 < tok.vocab_size < 200


@settings(max_examples=50, deadline=None)
@given(st.text(min_size=1, max_size=40))
def test_char_tokenizer_round_trip_property(text):
    tok = CharTokenizer(text)
    assert tok.decode(tok.encode(text)) == text
    ids = np.arange(tok.vocab_size)[::-1]
    assert tok.encode(tok.decode(ids)).tolist() == ids.tolist()


def test_char_tokenizer_errors_name_the_problem():
    tok = CharTokenizer("abc")
    with pytest.raises(ValueError, match="character 'z' is not in the tokenizer's 3"):
        tok.encode("abz")
    with pytest.raises(ValueError, match=r"token ids must be in 0\.\.2.*max 3"):
        tok.decode([0, 3])
    with pytest.raises(TypeError, match="integers"):
        tok.decode([0.5])
    with pytest.raises(ValueError, match="non-empty"):
        CharTokenizer("")
    assert tok.decode([]) == "" and tok.encode("").shape == (0,)


# --- word tokenizer --------------------------------------------------------------------------


def test_word_tokenizer_caps_the_vocabulary_with_an_unknown_token():
    text = "the cat saw the dog. The dog saw a bird!"
    tok = WordTokenizer(text, max_vocab=4)
    assert tok.vocab == ["<unk>", "the", "saw", "dog"]  # frequency, then first appearance
    ids = tok.encode("the bird saw")
    assert ids.tolist() == [1, 0, 2]
    assert tok.decode(ids) == "the <unk> saw"
    # counts: id 0 counts every token that fell out of the vocabulary
    assert tok.counts.tolist() == [5, 3, 2, 2]
    assert tok.counts.sum() == len(tok.tokenize(text))


def test_word_tokenizer_round_trips(corpus):
    tok = WordTokenizer(corpus)  # no cap: every token known
    sample = corpus[: corpus.rfind(" ", 0, 5000)]  # cut between words
    assert tok.decode(tok.encode(sample)) == " ".join(tok.tokenize(sample))
    capped = WordTokenizer(corpus, max_vocab=500)
    ids = capped.encode(corpus)
    assert capped.vocab_size == 500 and ids.max() == 499
    assert capped.encode(capped.decode(ids)).tolist() == ids.tolist()  # <unk> included


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.sampled_from(["x", "def", "(", ")", "=", "42", "foo_bar", ".", "é"]), min_size=1),
    st.lists(st.integers(0, 5), max_size=20),
)
def test_word_tokenizer_round_trip_property(tokens, ids):
    text = " ".join(tokens)
    tok = WordTokenizer(text, max_vocab=6)
    ids = [i for i in ids if i < tok.vocab_size]
    assert tok.encode(tok.decode(ids)).tolist() == ids
    full = WordTokenizer(text)
    assert full.decode(full.encode(text)) == " ".join(full.tokenize(text))


def test_word_tokenizer_words_only_and_case():
    tok = WordTokenizer("Hello, World! hello.", punctuation=False)
    assert tok.tokenize("Hello, World!") == ["hello", "world"]
    assert tok.vocab == ["<unk>", "hello", "world"]
    cased = WordTokenizer("Hello hello", lower=False)
    assert cased.vocab == ["<unk>", "Hello", "hello"]
    assert WordTokenizer("a a a b", min_count=2).vocab == ["<unk>", "a"]


def test_word_tokenizer_rejects_bad_options():
    with pytest.raises(ValueError, match="max_vocab must be an int >= 2"):
        WordTokenizer("a b", max_vocab=1)
    with pytest.raises(ValueError, match="min_count must be >= 1"):
        WordTokenizer("a b", min_count=0)
    with pytest.raises(ValueError, match="no tokens"):
        WordTokenizer("   ")


# --- splitting and windows -------------------------------------------------------------------


def test_split_ids_is_contiguous():
    ids = np.arange(100)
    train, val = split_ids(ids, 0.1)
    assert train.tolist() == list(range(90)) and val.tolist() == list(range(90, 100))
    with pytest.raises(ValueError, match="val_fraction must be in"):
        split_ids(ids, 1.0)
    with pytest.raises(ValueError, match="at least 2"):
        split_ids(np.arange(5), 0.1)


def test_sample_windows_gives_next_token_targets():
    ids = np.arange(1000) * 7
    x, y = sample_windows(ids, block_size=8, batch_size=32, rng=0)
    assert x.shape == y.shape == (32, 8) and x.dtype == y.dtype == np.int64
    np.testing.assert_array_equal(x[:, 1:], y[:, :-1])  # y is x shifted by one
    starts = x[:, 0] // 7
    np.testing.assert_array_equal(x, (starts[:, None] + np.arange(8)) * 7)  # contiguous windows
    np.testing.assert_array_equal(y[:, -1], (starts + 8) * 7)


def test_sample_windows_is_seeded_and_reaches_both_ends():
    ids = np.arange(10)
    a = sample_windows(ids, 4, 200, rng=3)
    b = sample_windows(ids, 4, 200, rng=np.random.default_rng(3))
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.array_equal(a[0], sample_windows(ids, 4, 200, rng=4)[0])
    assert set(a[0][:, 0].tolist()) == set(range(6))  # starts 0 .. N - T - 1, all reachable
    x, y = sample_windows(np.arange(5), 4, 3, rng=0)  # exactly one window fits
    assert x.tolist() == [[0, 1, 2, 3]] * 3 and y.tolist() == [[1, 2, 3, 4]] * 3


def test_sample_windows_errors():
    with pytest.raises(ValueError, match="block_size \\+ 1 = 11 tokens, the sequence has 10"):
        sample_windows(np.arange(10), 10, 2)
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        sample_windows(np.arange(10), 2, 0)


# --- the bigram baseline ---------------------------------------------------------------------


def test_bigram_model_counts_and_smooths():
    ids = [0, 1, 0, 1, 2]
    model = BigramModel(3, alpha=1.0).fit(ids)
    assert model.counts.tolist() == [[0, 2, 0], [1, 0, 1], [0, 0, 0]]
    np.testing.assert_allclose(np.exp(model.log_probs).sum(axis=1), 1.0)
    # p(1 | 0) = (2 + 1) / (2 + 3), p(0 | 1) = (1 + 1) / (2 + 3)
    expected = -(math.log(3 / 5) + math.log(2 / 5)) / 2
    assert model.loss([0, 1, 0]) == pytest.approx(expected)
    # an unseen row is uniform
    np.testing.assert_allclose(model.log_probs[2], -math.log(3))
    with pytest.raises(ValueError, match="alpha must be > 0"):
        BigramModel(3, alpha=0)
    with pytest.raises(ValueError, match="at least 2 tokens"):
        model.loss([1])


def test_bigram_baseline_on_the_corpus_is_far_below_uniform(corpus):
    tok = CharTokenizer(corpus)
    train, val = split_ids(tok.encode(corpus), 0.1)
    losses = bigram_baseline(train, val, tok.vocab_size, alphas=(0.1, 1.0))
    assert set(losses) == {0.1, 1.0}
    uniform = math.log(tok.vocab_size)
    for loss in losses.values():
        assert 2.0 < loss < 2.6 < uniform  # ~2.32 nats per character in CPython 3.11's docs
