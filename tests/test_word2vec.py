"""word2vec skip-gram: the founding gradient by hand, pairs, subsampling, training, neighbours."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import check_vjp
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_ce import Tensor, grad, gradcheck
from tinygrad_ce import functional as F
from tinygrad_ce.compare import full_softmax_sweep, held_bytes, skipgram_runner
from tinygrad_ce.word2vec import (
    SkipGram,
    format_neighbours,
    nearest_neighbours,
    neighbour_table,
    query_words,
    skipgram_pairs,
    subsample,
    train_skipgram,
)


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _model(vocab: int = 7, dim: int = 4, seed: int = 0) -> SkipGram:
    """A float64 model with random U (the initial U is zeros, which would make dJ/dv_c = 0)."""
    rng = np.random.default_rng(seed)
    model = SkipGram(vocab, dim, rng=seed, dtype=np.float64)
    model.V.data = rng.standard_normal((vocab, dim))
    model.U.data = rng.standard_normal((dim, vocab))
    return model


# --- the founding gradient -------------------------------------------------------------------


@pytest.mark.parametrize("fused", [True, False])
def test_centre_vector_gradient_is_the_students_formula(fused):
    """dJ/dv_c = U (softmax(U^T v_c) - onehot(o)): dCE/dy = A (softmax(A^T y) - x) with A = U,
    y = v_c, x = onehot(o)."""
    model = _model()
    c, o = 3, 5
    model.loss([c], [o], fused=fused).backward()
    U, v_c = model.U.data, model.V.data[c]
    onehot = np.eye(model.vocab_size)[o]
    by_hand = U @ (_softmax(U.T @ v_c) - onehot)
    np.testing.assert_allclose(model.V.grad[c], by_hand, rtol=1e-12, atol=1e-14)
    others = np.delete(model.V.grad, c, axis=0)
    assert not others.any()  # only the centre word's row moves
    # and the output vectors: dJ/dU = v_c (softmax(U^T v_c) - onehot(o))^T
    np.testing.assert_allclose(
        model.U.grad, np.outer(v_c, _softmax(U.T @ v_c) - onehot), rtol=1e-12, atol=1e-14
    )


def test_the_textbook_loss_and_the_model_give_the_same_numbers():
    """``CE(softmax(A^T y), x)`` written as in the founding question equals the model's loss."""
    model = _model()
    c, o = 2, 6
    A = Tensor(model.U.data, requires_grad=True)
    y = Tensor(model.V.data[c], requires_grad=True)
    x = np.eye(model.vocab_size)[o]
    textbook = F.cross_entropy(A.T @ y, x)
    textbook.backward()
    loss = model.loss([c], [o])
    loss.backward()
    assert float(textbook.data) == pytest.approx(float(loss.data), rel=1e-12)
    np.testing.assert_allclose(y.grad, model.V.grad[c], rtol=1e-12)
    np.testing.assert_allclose(A.grad, model.U.grad, rtol=1e-12)


def test_batched_centre_gradient_sums_repeated_centres():
    model = _model(vocab=6, dim=3, seed=1)
    centres, contexts = np.array([1, 4, 1, 1]), np.array([0, 2, 5, 0])
    model.loss(centres, contexts).backward()
    U, V = model.U.data, model.V.data
    expected = np.zeros_like(V)
    for c, o in zip(centres, contexts, strict=True):  # mean over B: each pair's term / B
        expected[c] += U @ (_softmax(U.T @ V[c]) - np.eye(6)[o]) / len(centres)
    np.testing.assert_allclose(model.V.grad, expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("fused", [True, False])
def test_skipgram_loss_against_finite_differences(fused):
    centres, contexts = np.array([0, 2, 2, 4]), np.array([3, 1, 1, 0])

    def loss(V, U):
        return F.cross_entropy(V[centres] @ U, contexts, fused=fused)

    rng = np.random.default_rng(2)
    check_vjp(loss, [rng.standard_normal((5, 3)), rng.standard_normal((3, 5))])
    assert gradcheck(loss, [rng.standard_normal((5, 3)), rng.standard_normal((3, 5))])


def test_hessian_vector_product_in_the_centre_vector():
    """H = U (diag(s) - s s^T) U^T: via grad(create_graph=True), by hand and by differences."""
    rng = np.random.default_rng(3)
    U = rng.standard_normal((4, 6))
    v0, direction = rng.standard_normal(4), rng.standard_normal(4)
    o = 2

    def gradient(v: np.ndarray, create_graph: bool = False):
        y = Tensor(v, requires_grad=True)
        (g,) = grad(F.cross_entropy(Tensor(U).T @ y, np.eye(6)[o]), y, create_graph=create_graph)
        return y, g

    y, g = gradient(v0, create_graph=True)
    (hv,) = grad((g * Tensor(direction)).sum(), y)
    s = _softmax(U.T @ v0)
    by_hand = U @ (np.diag(s) - np.outer(s, s)) @ U.T @ direction
    eps = 1e-6
    differences = gradient(v0 + eps * direction)[1].data - gradient(v0 - eps * direction)[1].data
    np.testing.assert_allclose(hv.data, by_hand, rtol=1e-10)
    np.testing.assert_allclose(hv.data, differences / (2 * eps), rtol=1e-6, atol=1e-8)


# --- the model -------------------------------------------------------------------------------


def test_model_shapes_and_initialisation():
    model = SkipGram(50, 8, rng=0)
    assert model.V.shape == (50, 8) and model.U.shape == (8, 50)
    assert np.abs(model.V.data).max() <= 0.5 / 8 and not model.U.data.any()
    assert model([1, 2, 3]).shape == (3, 50)
    assert model.num_parameters() == 800
    assert model.embeddings("output").shape == (50, 8)
    np.testing.assert_array_equal(model.embeddings("sum"), model.V.data + model.U.data.T)
    np.testing.assert_array_equal(SkipGram(50, 8, rng=0).V.data, model.V.data)


def test_model_errors_name_the_ids():
    model = SkipGram(10, 2, rng=0)
    with pytest.raises(ValueError, match=r"centres must be word ids in 0\.\.9, got min 0, max 10"):
        model([0, 10])
    with pytest.raises(ValueError, match="got 2 centres but 1 contexts"):
        model.loss([0, 1], [2])
    with pytest.raises(TypeError, match="integer token ids"):
        model([0.5])
    with pytest.raises(ValueError, match="dim must be a positive int"):
        SkipGram(10, 0)
    with pytest.raises(ValueError, match="which must be"):
        model.embeddings("left")


# --- pairs and subsampling -------------------------------------------------------------------


def test_skipgram_pairs_window_two():
    c, x = skipgram_pairs([10, 11, 12, 13], window=2)
    pairs = sorted(zip(c.tolist(), x.tolist(), strict=True))
    expected = sorted(
        (a, b)
        for i, a in enumerate([10, 11, 12, 13])
        for j, b in enumerate([10, 11, 12, 13])
        if 0 < abs(i - j) <= 2
    )
    assert pairs == expected and c.dtype == np.int64


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 4), max_size=12), st.integers(1, 4), st.sampled_from([None, 0]))
def test_skipgram_pairs_match_a_double_loop(ids, window, skip_id):
    c, x = skipgram_pairs(np.array(ids, dtype=np.int64), window, skip_id)
    expected = sorted(
        (a, b)
        for i, a in enumerate(ids)
        for j, b in enumerate(ids)
        if 0 < abs(i - j) <= window and skip_id not in (a, b)
    )
    assert sorted(zip(c.tolist(), x.tolist(), strict=True)) == expected


def test_skipgram_pairs_skip_unknown_and_short_sequences():
    c, x = skipgram_pairs([1, 0, 2], window=1, skip_id=0)
    assert len(c) == 0 and len(x) == 0
    c, x = skipgram_pairs([1, 2], window=5)
    assert sorted(zip(c.tolist(), x.tolist(), strict=True)) == [(1, 2), (2, 1)]
    assert len(skipgram_pairs([7], window=2)[0]) == 0
    with pytest.raises(ValueError, match="window must be a positive int"):
        skipgram_pairs([1, 2], window=0)


def test_subsample_drops_frequent_words_and_keeps_rare_ones():
    ids = np.array([0] * 9000 + [1] * 1000 + [2] * 10)
    counts = np.bincount(ids)
    kept = subsample(ids, counts, threshold=1e-3, rng=0)
    kept_counts = np.bincount(kept, minlength=3)
    assert kept_counts[2] == 10  # rare: always kept
    f0 = 9000 / len(ids)
    p0 = np.sqrt(1e-3 / f0) + 1e-3 / f0
    assert abs(kept_counts[0] / 9000 - p0) < 0.02
    assert kept_counts[1] / 1000 > kept_counts[0] / 9000
    np.testing.assert_array_equal(kept, subsample(ids, counts, threshold=1e-3, rng=0))


# --- training and neighbours -----------------------------------------------------------------


def _two_topics(n: int = 600, seed: int = 0) -> np.ndarray:
    """Ids 1-3 (animals) only appear with 4-5, ids 6-8 (colours) with 9-10."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        if rng.random() < 0.5:
            out += [rng.integers(1, 4), rng.integers(4, 6)]
        else:
            out += [rng.integers(6, 9), rng.integers(9, 11)]
    return np.array(out)


def test_training_lowers_the_loss_and_groups_words_by_context():
    ids = _two_topics()
    model = SkipGram(11, 8, rng=0)
    result = train_skipgram(
        model, ids, window=1, batch_size=64, epochs=6, lr=0.05, seed=0, log_every=10
    )
    n_pairs = len(skipgram_pairs(ids, 1)[0])
    assert result.pairs == 6 * n_pairs and result.steps == 6 * -(-n_pairs // 64)
    assert result.losses[-1] < result.losses[0] - 0.5
    assert result.epochs == pytest.approx(6.0)
    nbrs, sims = nearest_neighbours(model.embeddings("sum"), [1, 6], k=2)
    assert set(nbrs[0]) <= {2, 3} and set(nbrs[1]) <= {7, 8}  # same-topic words come first
    assert (sims > 0.5).all()


def test_training_is_deterministic_for_a_seed_and_stops_on_time():
    ids = _two_topics(200)

    def run(seed: int) -> np.ndarray:
        model = SkipGram(11, 4, rng=0)
        train_skipgram(model, ids, window=2, batch_size=32, epochs=1, seed=seed, counts=None)
        return model.V.data.copy()

    np.testing.assert_array_equal(run(1), run(1))
    assert not np.array_equal(run(1), run(2))
    model = SkipGram(11, 4, rng=0)
    result = train_skipgram(model, ids, epochs=1000, max_seconds=0.2, log_every=5)
    assert result.seconds < 5 and result.epochs < 1000 and result.losses


def test_training_with_subsampling_sgd_and_a_fraction_of_an_epoch():
    ids = _two_topics(300)
    model = SkipGram(11, 4, rng=0)
    counts = np.bincount(ids, minlength=11)
    result = train_skipgram(
        model, ids, epochs=0.5, optimizer="sgd", lr=0.5, counts=counts, batch_size=16
    )
    assert 0.4 < result.epochs <= 0.55 and model.U.data.any()
    with pytest.raises(ValueError, match="optimizer must be"):
        train_skipgram(model, ids, optimizer="rmsprop")


def test_nearest_neighbours_by_cosine():
    emb = np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.1], [0.0, 1.0], [-1.0, 0.0]])
    ids, sims = nearest_neighbours(emb, [1], k=3)  # id 0 (unknown) and itself excluded
    assert ids.tolist() == [[2, 3, 4]]
    np.testing.assert_allclose(sims[0], [2 / np.hypot(2, 0.1), 0.0, -1.0])
    ids, _ = nearest_neighbours(emb, [1], k=4, exclude=())
    assert ids[0].tolist() == [2, 0, 3, 4]  # a zero vector has cosine 0
    with pytest.raises(ValueError, match="k must be in 1..3"):
        nearest_neighbours(emb, [1], k=4)
    with pytest.raises(ValueError, match="k must be in 1..3"):  # the query 0 is excluded anyway,
        nearest_neighbours(emb, [0, 1], k=4)  # but query 1 has only 3 candidates
    ids, _ = nearest_neighbours(emb, [0], k=4)
    assert sorted(ids[0].tolist()) == [1, 2, 3, 4]


def test_neighbour_table_and_its_markdown():
    vocab = ["<unk>", "cat", "dog", "red", "blue"]
    emb = np.array([[0, 0], [1, 0.3], [1, 0], [0, 1], [0.1, 1]], dtype=float)
    table = neighbour_table(emb, vocab, ["cat", "red"], k=1)
    assert [(w, [n for n, _ in nbrs]) for w, nbrs in table] == [("cat", ["dog"]), ("red", ["blue"])]
    text = format_neighbours(table)
    assert text.splitlines()[2] == f"| cat | dog ({1 / np.hypot(1, 0.3):.2f}) |"
    with pytest.raises(ValueError, match="not in the vocabulary: 'fish'"):
        neighbour_table(emb, vocab, ["fish"])
    assert query_words(vocab, ["dog", "fish"]) == ["dog"]
    assert query_words(vocab, ["fish"], n=2) == ["cat", "dog"]


# --- the fused vs unfused measurement (compare.full_softmax_sweep) ---------------------------


def test_skipgram_runner_gives_the_same_gradients_fused_and_unfused():
    rng = np.random.default_rng(4)
    V = rng.standard_normal((30, 5)).astype(np.float32)
    U = rng.standard_normal((5, 30)).astype(np.float32)
    c, o = rng.integers(0, 30, 16), rng.integers(0, 30, 16)
    fused, unfused = (skipgram_runner(V, U, c, o, fused=f) for f in (True, False))
    for a, b in zip(
        fused.backward(fused.forward()), unfused.backward(unfused.forward()), strict=True
    ):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    dV, _ = fused.backward(fused.forward())  # the grads were handed out and reset: same again
    model = SkipGram(30, 5)
    model.V.data, model.U.data = V.copy(), U.copy()
    model.loss(c, o).backward()
    np.testing.assert_allclose(dV, model.V.grad, rtol=1e-6)


def test_held_bytes_counts_what_the_forward_leaves_allocated():
    keep = []
    result, held = held_bytes(lambda: keep.append(np.ones(100_000)) or "done")
    assert result == "done" and 800_000 <= held < 900_000
    assert held_bytes(lambda: np.ones(100_000).sum())[1] < 10_000  # freed on return


def test_full_softmax_sweep_fused_holds_fewer_buffers():
    rows = full_softmax_sweep((200, 800), batch=32, dim=8, repeats=1)
    assert [r["vocab"] for r in rows] == [200, 800]
    for r in rows:
        assert r["logits_bytes"] == 32 * r["vocab"] * 4
        # fused: the scores and exp(z - max); unfused: scores, shifted, exp, log-probs
        assert 1.7 < r["memory_ratio"] < 2.3
        assert r["unfused"]["peak"] > r["fused"]["peak"] > 0
        assert r["speedup"] == pytest.approx(r["unfused"]["seconds"] / r["fused"]["seconds"])
