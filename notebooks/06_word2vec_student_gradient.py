# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # The student's gradient is word2vec's gradient
#
# This project began with one question. For
#
# $$L = \mathrm{CE}(\mathrm{softmax}(\beta), x), \qquad \beta = A^\top y,$$
#
# a student wrote $\frac{dL}{dy} = (\mathrm{softmax}(\beta) - x) \odot \frac{d\beta}{dy}$ and got
# stuck, because $\frac{d\beta}{dy} = A^\top$ is a matrix, not a vector one can multiply
# elementwise. The answer is a contraction: each op's backward rule is a vector-Jacobian product,
# and the chain gives
#
# $$\frac{dL}{dy} = A\,(\mathrm{softmax}(A^\top y) - x).$$
#
# That formula is the heart of **word2vec** (skip-gram with a full softmax, as taught in
# CS224n). Every word $w$ has a centre vector $v_w$ (a row of $V$) and an output vector $u_w$ (a
# column of $U$). For a centre word $c$ and a word $o$ seen near it:
#
# | founding question | skip-gram | shape |
# |---|---|---|
# | $A$ | $U$, the output vectors | (d, vocab) |
# | $y$ | $v_c$, the centre word's vector | (d,) |
# | $\beta = A^\top y$ | the scores $U^\top v_c$ | (vocab,) |
# | $x$ | $\mathrm{onehot}(o)$, the context word | (vocab,) |
# | $L$ | $-\log p(o \mid c)$ | () |
# | $A(\mathrm{softmax}(A^\top y) - x)$ | $\frac{\partial J}{\partial v_c} = U(\hat y - y)$ | (d,) |
#
# (CS224n writes $\hat y$ for the softmax and $y$ for the one-hot target.) This notebook checks
# the formula with the engine, trains skip-gram on a real corpus with it, and measures what the
# fused softmax cross-entropy node saves when the "classes" are a whole vocabulary.

# %%
import time

import matplotlib.pyplot as plt
import numpy as np

from tinygrad_ce import Tensor, explain, gradcheck
from tinygrad_ce import functional as F
from tinygrad_ce.compare import full_softmax_sweep
from tinygrad_ce.data import WordTokenizer, load_pydoc_text
from tinygrad_ce.word2vec import (
    SkipGram,
    format_neighbours,
    neighbour_table,
    query_words,
    train_skipgram,
)

# %% [markdown]
# ## 1. The formula, checked
#
# A tiny vocabulary of 6 words with 4-dimensional vectors. The loss is written exactly as in the
# founding question, with the skip-gram names.

# %%
rng = np.random.default_rng(0)
d, vocab = 4, 6
U = Tensor(rng.standard_normal((d, vocab)), requires_grad=True, name="U")
v_c = Tensor(rng.standard_normal(d), requires_grad=True, name="v_c")
o = 2
x = Tensor(np.eye(vocab)[o], name="x")  # onehot(context)

L = F.cross_entropy(U.T @ v_c, x)  # CE(softmax(A^T y), x) with A = U, y = v_c
L.backward()


def softmax(z):
    e = np.exp(z - z.max())
    return e / e.sum()


by_hand = U.data @ (softmax(U.data.T @ v_c.data) - x.data)  # A (softmax(A^T y) - x)
print("engine  dL/dv_c =", np.round(v_c.grad, 6))
print("by hand U (softmax(U^T v_c) - x) =", np.round(by_hand, 6))
print("max |difference| =", np.abs(v_c.grad - by_hand).max())
print(
    "engine == U (softmax(U^T v_c) - x) to 1e-12:",
    np.allclose(v_c.grad, by_hand, rtol=1e-12, atol=1e-14),
)

# %% [markdown]
# `explain` prints the backward pass the engine ran: the fused cross-entropy node hands
# `softmax(U^T v_c) - x` to the matrix product, whose VJP contracts it with `U`. No Jacobian is
# ever built.

# %%
explain(L);

# %% [markdown]
# `gradcheck` compares the engine's gradients with central finite differences in float64, for
# the skip-gram loss on a minibatch (repeated centres included), for both the centre vectors `V`
# and the output vectors `U`, with the fused node and with the loss built from primitive ops.

# %%
centres, contexts = np.array([1, 4, 1, 0]), np.array([2, 2, 5, 3])
for fused in (True, False):
    ok = gradcheck(
        lambda V, U: F.cross_entropy(V[centres] @ U, contexts, fused=fused),
        [rng.standard_normal((vocab, d)), rng.standard_normal((d, vocab))],
    )
    print(f"gradcheck of the skip-gram loss, fused={fused}: {ok}")

# %% [markdown]
# ## 2. Training on a real corpus
#
# The corpus is the Python reference documentation that ships inside every CPython
# (`pydoc_data.topics`: what `help("class")` prints; Python Software Foundation License), so
# nothing is downloaded. Words seen fewer than 5 times become `<unk>`; frequent words are
# subsampled (word2vec's trick: "the" loses most of its occurrences, which brings the other
# words' neighbours closer). Each step takes 256 (centre, context) pairs, computes the scores
# `V[centres] @ U` over the whole vocabulary and the fused cross-entropy, and takes an Adam step.

# %%
text = load_pydoc_text()
tok = WordTokenizer(text, min_count=5, punctuation=False)
ids = tok.encode(text)
print(f"{len(text):,} characters, {len(ids):,} words, vocabulary {tok.vocab_size:,}")
print("most frequent:", " ".join(tok.vocab[1:16]))

# %%
model = SkipGram(tok.vocab_size, 64, rng=0)
start = time.perf_counter()
result = train_skipgram(
    model, ids, window=2, batch_size=256, epochs=4, max_seconds=35, lr=3e-3,
    counts=tok.counts, seed=0, log_every=100,
)  # fmt: skip
print(
    f"{result.steps} steps, {result.epochs:.2f} epochs, {result.pairs_per_second:,.0f} pairs/s, "
    f"{time.perf_counter() - start:.0f} s; loss {result.losses[0]:.2f} -> "
    f"{result.losses[-1]:.2f} nats (uniform over the vocabulary: {np.log(tok.vocab_size):.2f})"
)
fig, ax = plt.subplots(figsize=(6, 3))
ax.plot(result.loss_steps, result.losses)
ax.set_xlabel("step")
ax.set_ylabel("loss (nats)")
ax.set_title("skip-gram, full softmax over the vocabulary")
plt.show()

# %% [markdown]
# ## 3. Nearest neighbours
#
# Cosine similarity between word vectors (here `V + U^T`, each word's centre and output vector
# added, as GloVe does). Words used in the same contexts end up close: types with types,
# the two booleans, statements with statements.

# %%
table = neighbour_table(model.embeddings("sum"), tok.vocab, query_words(tok.vocab), k=5)
print(format_neighbours(table))

# %% [markdown]
# ## 4. Fused against unfused, as the vocabulary grows
#
# In word2vec the "classes" of the cross-entropy are the whole vocabulary, so the (batch, vocab)
# arrays of the softmax are the biggest thing in a step. The composed loss keeps several of them
# for the backward pass (shifted scores, their exponentials, the log-probabilities) and makes a
# new one at each backward step; the fused node keeps one (`exp(z - max)`) and turns it into the
# gradient in place. Below: one step `CE(V[centres] @ U, contexts)` forward and backward, batch
# 256, d = 100, float32, at vocabulary sizes 1k to 30k. Memory is what tracemalloc still counts
# once the forward has returned (what the graph holds for backward).

# %%
rows = full_softmax_sweep((1000, 3000, 10000, 30000), batch=256, dim=100, repeats=5)
MiB = 2**20
print(f"{'vocab':>6} {'fused ms':>9} {'unfused ms':>11} {'speedup':>8} {'held fused':>11} "
      f"{'held unfused':>13} {'saved MiB':>10}")  # fmt: skip
for r in rows:
    f, u = r["fused"], r["unfused"]
    print(
        f"{r['vocab']:>6} {f['seconds'] * 1e3:>9.1f} {u['seconds'] * 1e3:>11.1f} "
        f"{r['speedup']:>7.2f}x {f['held'] / MiB:>11.1f} {u['held'] / MiB:>13.1f} "
        f"{(u['held'] - f['held']) / MiB:>10.1f}"
    )

sizes = [r["vocab"] for r in rows]
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.5))
for method, style in (("unfused", "o--"), ("fused", "o-")):
    ax1.plot(sizes, [r[method]["seconds"] * 1e3 for r in rows], style, label=method)
    ax2.plot(sizes, [r[method]["held"] / MiB for r in rows], style, label=method)
ax1.set(xscale="log", yscale="log", xlabel="vocabulary", ylabel="ms per step", title="time")
ax2.set(xscale="log", yscale="log", xlabel="vocabulary", ylabel="MiB", title="held for backward")
for ax in (ax1, ax2):
    ax.legend()
plt.tight_layout()
plt.show()

# %% [markdown]
# The memory the fused node saves grows in proportion to the vocabulary (one (batch, vocab)
# float32 array is 1 MiB per 1,000 words at batch 256): it keeps half as much as the composed
# loss, and a third as much beyond the scores `V[centres] @ U` that both keep. Those numbers are
# exact; the times are medians of a few rounds and move with whatever else the machine is doing.
# The milliseconds saved per step grow with the vocabulary as well, but the two matrix products
# (the same in both) take most of a step at d = 100, so the ratio of whole steps stays well below
# the ratio of the losses alone (3-4x fused at vocabulary 10k: see
# `benchmarks/bench_word2vec.py`, which also compares with PyTorch's `F.cross_entropy`).
#
# The gradient the student could not write down is the whole of word2vec's learning rule: one
# fused node, one matrix product, and a scatter of the rows back to the centre words.
