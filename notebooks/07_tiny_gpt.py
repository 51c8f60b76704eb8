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
# # A tiny GPT
#
# A GPT is a stack of attention layers ending in the same softmax cross-entropy this project
# began with: at every position the logits $\beta$ over the vocabulary meet the one-hot next
# character $x$, and $dL/d\beta = \mathrm{softmax}(\beta) - x$. What is new is *attention*,
# whose heart is a second softmax, taken over positions instead of characters. This notebook
#
# 1. draws attention's backward pass on a 3-token example and reads `explain`'s account of it:
#    the softmax VJP $P \odot (G - \mathrm{rowsum}(G \odot P))$, without any $L \times L$
#    Jacobian per row;
# 2. checks that gradient with `gradcheck`;
# 3. trains a small character-level GPT on CPython's own documentation for about a minute,
#    with the character bigram model as the baseline to beat, and samples from it.
#
# The command line does the same at full length: `tinygrad-ce train --model gpt` (about three
# minutes), then `tinygrad-ce generate --run DIR --prompt "The "`.

# %%
import time

import matplotlib.pyplot as plt
import numpy as np

from tinygrad_ce import F, Tensor, draw_graph, explain, gradcheck, nn, no_grad, optim
from tinygrad_ce.data.text import (
    BigramModel,
    CharTokenizer,
    load_corpus,
    sample_windows,
    split_ids,
)
from tinygrad_ce.run_gpt import plot_lm_curves

try:  # small matrices run fastest on one BLAS thread (threadpoolctl is optional)
    from threadpoolctl import threadpool_limits

    threadpool_limits(1, user_api="blas")
except ImportError:
    pass

# %% [markdown]
# ## Attention on three tokens
#
# `F.scaled_dot_product_attention(q, k, v, is_causal=True)` computes
# $\mathrm{softmax}(q k^\top / \sqrt{E} + \text{mask})\, v$; the causal mask lets position $i$
# look only at positions $j \le i$. Take one head, three positions, $E = 2$:

# %%
rng = np.random.default_rng(0)
q = Tensor(rng.normal(size=(3, 2)), requires_grad=True, name="q")
k = Tensor(rng.normal(size=(3, 2)), requires_grad=True, name="k")
v = Tensor(rng.normal(size=(3, 2)), requires_grad=True, name="v")
out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
loss = out.sum()
loss.backward()
print("out =\n", out.data.round(4))

# %% [markdown]
# The graph of that loss, each node with its backward rule. The softmax is not one node here:
# it is made of primitives (`Sub` of the row maximum, `Exp`, `Sum`, `Div`), so each piece of
# its VJP shows.

# %%
draw_graph(loss, names={q: "q", k: "k", v: "v", out: "attention"}, rules=True)

# %% [markdown]
# `explain` walks the same backward pass step by step:

# %%
explain(loss)
# %% [markdown]
# Reading it: `t2` is the attention matrix $P = \mathrm{softmax}(S)$ with $S$ the masked scores
# `t1`. The upstream gradient of $P$ is $G = 1\, v^\top$ (the `MatMul` step). Then the quotient
# rule (`Div`) sends $G / s$ to the numerator $e = \exp(S - c)$ and $-\mathrm{rowsum}(G e)/s^2$
# to the row sum $s$; `Sum` broadcasts that back, and `Exp` multiplies by $e$. Summed:
#
# $$\frac{dL}{dS} = P \odot \big(G - \mathrm{rowsum}(G \odot P)\big),$$
#
# the softmax VJP, the same contraction as in the founding question: nothing ever forms the
# Jacobian $\mathrm{diag}(p) - p p^\top$ of a row. The mask's `Where` gives the hidden (future)
# positions an exact 0. Check it by hand, then by finite differences:

# %%
S = q.data @ k.data.T / np.sqrt(2)
S = np.where(np.tril(np.ones((3, 3), bool)), S, -np.inf)
P = np.exp(S - S.max(axis=1, keepdims=True))
P /= P.sum(axis=1, keepdims=True)
G = np.ones((3, 2)) @ v.data.T
dS = P * (G - (G * P).sum(axis=1, keepdims=True))
dq_by_hand = dS @ k.data / np.sqrt(2)
print("dq by hand == engine's dq:", np.allclose(dq_by_hand, q.grad))
print("dv by hand == engine's dv:", np.allclose(P.T @ np.ones((3, 2)), v.grad))


def attention_loss(q, k, v):
    return F.scaled_dot_product_attention(q, k, v, is_causal=True).sum()


inputs = [rng.normal(size=(2, 3, 2)) for _ in range(3)]
print("gradcheck of causal attention:", gradcheck(attention_loss, inputs))

# %% [markdown]
# ## The data and the baseline
#
# The corpus is the reference documentation that ships with every CPython
# (`pydoc_data.topics`, about 460,000 characters; no network). One id per character; the last
# 10% is held out. The model to beat is the **bigram**: the next character's probability given
# only the current one, counted on the training part.

# %%
text = load_corpus("pydoc")
tok = CharTokenizer(text)
train_ids, val_ids = split_ids(tok.encode(text), 0.1)
bigram = BigramModel(tok.vocab_size, alpha=0.1).fit(train_ids).loss(val_ids)
print(f"{len(text):,} characters, {tok.vocab_size} distinct")
print(f"uniform guess: log {tok.vocab_size} = {np.log(tok.vocab_size):.3f} nats/char")
print(f"bigram model : {bigram:.3f} nats/char on the held-out part")

# %% [markdown]
# ## A short training run
#
# A GPT with nanoGPT's names: 2 blocks, 4 heads, width 128, context 64 (418,176 parameters,
# the command line's default model), AdamW on random windows of 65 characters: 400 steps, under
# a minute here; the command line's default (1000 steps) goes further.

# %%
block, batch, steps = 64, 32, 400
model = nn.GPT(vocab_size=tok.vocab_size, block_size=block, n_layer=2, n_head=4, n_embd=128, rng=0)
print(f"GPT({model.extra_repr()}): {model.num_parameters():,} parameters")
opt = optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.1)
data_rng, val_rng = np.random.default_rng(0), np.random.default_rng(1)
val_batches = [sample_windows(val_ids, block, 32, val_rng) for _ in range(8)]


def val_loss():
    with no_grad():
        return float(np.mean([model.loss(x, y).item() for x, y in val_batches]))


history = {"step": [], "train_loss": [], "val_step": [0], "val_loss": [val_loss()]}
start = time.perf_counter()
for step in range(1, steps + 1):
    for group in opt.param_groups:  # warm up, then a cosine down to a tenth
        t = min(step / 30, 1.0) if step <= 30 else 0.1 + 0.45 * (1 + np.cos(np.pi * step / steps))
        group["lr"] = 2e-3 * t
    x, y = sample_windows(train_ids, block, batch, data_rng)
    loss = model.loss(x, y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    history["step"].append(step)
    history["train_loss"].append(loss.item())
    if step % 50 == 0:
        history["val_step"].append(step)
        history["val_loss"].append(val_loss())
seconds = time.perf_counter() - start
print(
    f"{steps} steps in {seconds:.0f} s ({steps * batch * block / seconds:,.0f} tokens/s): "
    f"validation loss {history['val_loss'][-1]:.3f} nats/char, bigram {bigram:.3f}"
)

# %%
plot_lm_curves(history, bigram, title="a tiny GPT on CPython's documentation")
plt.show()

# %% [markdown]
# The validation loss starts at about $\log V$ (every character equally likely, as the small
# initial weights make it), passes the bigram within the first couple of hundred steps, and keeps
# falling: attention lets the model read back up to 64 characters, where the bigram sees one.
#
# ## Samples
#
# `model.generate` feeds the model its own output, one character at a time (the last
# `block_size` characters as context); `temperature` below 1 sharpens the distribution and
# `top_k` keeps only the likeliest characters. The same seed gives the same text.

# %%
for prompt, seed in (("The ", 0), ("def ", 1)):
    ids = model.generate(tok.encode(prompt), 200, temperature=0.8, top_k=20, rng=seed)
    print(f"--- prompt {prompt!r}, seed {seed} ---")
    print(tok.decode(ids))
    print()
same = model.generate(tok.encode("The "), 50, temperature=0.8, top_k=20, rng=0)
again = model.generate(tok.encode("The "), 50, temperature=0.8, top_k=20, rng=0)
print("same seed, same text:", np.array_equal(same, again))

# %% [markdown]
# After a minute the model has learned the corpus's spelling habits, indentation and
# punctuation, some words and a little grammar; the command line's longer default run goes
# further (see `docs/language.md` for its numbers). Everything above ran on this engine: the
# embeddings' scatter-add, layer norm's one-node VJP, GELU, attention's composed softmax, and
# the fused cross-entropy at the top.
