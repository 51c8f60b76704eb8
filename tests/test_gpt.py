"""The language-model layers and the GPT: shapes, initialisation, gradients of a transformer
block against finite differences, weight tying, training a tiny model, deterministic sampling,
and ``explain`` on attention (the softmax's VJP inside it)."""

from __future__ import annotations

import numpy as np
import pytest

from tinygrad_ce import F, Tensor, explain, nn, no_grad, optim
from tinygrad_ce.models import GPT, GPTConfig

TINY = dict(vocab_size=7, block_size=6, n_layer=2, n_head=2, n_embd=8)


def _to_float64(module: nn.Module) -> nn.Module:
    for p in module.parameters():
        p.data = p.data.astype(np.float64)
    return module


def _module_gradcheck(module: nn.Module, loss_fn, eps: float = 1e-6) -> int:
    """Every parameter's ``.grad`` against central differences of ``loss_fn()`` (float64)."""
    module.zero_grad()
    loss_fn().backward()
    checked = 0
    for name, p in module.named_parameters():
        analytic = p.grad.copy()
        numeric = np.zeros_like(p.data)
        flat, num = p.data.reshape(-1), numeric.reshape(-1)
        with no_grad():
            for j in range(flat.size):
                orig = flat[j]
                flat[j] = orig + eps
                up = loss_fn().item()
                flat[j] = orig - eps
                down = loss_fn().item()
                flat[j] = orig
                num[j] = (up - down) / (2 * eps)
        np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-8, err_msg=name)
        checked += flat.size
    return checked


# ---------------------------------------------------------------------------------------------
# layers


def test_embedding_layer_initialised_standard_normal_as_torch():
    emb = nn.Embedding(1000, 64, rng=0)
    w = emb.weight.data
    assert w.shape == (1000, 64) and w.dtype == np.float32
    assert abs(w.mean()) < 0.01 and abs(w.std() - 1.0) < 0.01
    ids = np.array([[3, 3], [999, 0]])
    np.testing.assert_array_equal(emb(ids).data, w[ids])
    assert "1000, 64" in repr(emb)
    with pytest.raises(ValueError, match="embedding_dim"):
        nn.Embedding(3, 0)


def test_layer_norm_and_gelu_modules():
    ln = nn.LayerNorm(4)
    x = Tensor(np.arange(8.0).reshape(2, 4))
    y = ln(x).data
    np.testing.assert_allclose(y.mean(-1), 0, atol=1e-6)
    np.testing.assert_allclose(y.var(-1), 1, atol=1e-4)
    assert [n for n, _ in ln.named_parameters()] == ["weight", "bias"]
    assert [n for n, _ in nn.LayerNorm(4, bias=False).named_parameters()] == ["weight"]
    np.testing.assert_allclose(nn.GELU()(x).data, F.gelu(x).data)
    np.testing.assert_allclose(nn.GELU("tanh")(x).data, F.gelu(x, approximate="tanh").data)
    with pytest.raises(ValueError, match="approximate"):
        nn.GELU("erf")


def test_causal_self_attention_sees_only_the_past():
    attn = nn.CausalSelfAttention(8, 2, rng=1)
    x = np.random.default_rng(2).standard_normal((2, 5, 8)).astype(np.float32)
    y = attn(x).data
    assert y.shape == (2, 5, 8)
    x2 = x.copy()
    x2[:, 3:] += 5.0  # change the future of position 2
    np.testing.assert_allclose(attn(x2).data[:, :3], y[:, :3], rtol=1e-6)
    assert not np.allclose(attn(x2).data[:, 3:], y[:, 3:])
    with pytest.raises(ValueError, match="not divisible"):
        nn.CausalSelfAttention(8, 3)
    with pytest.raises(ValueError, match=r"\(B, T, 8\)"):
        attn(np.zeros((5, 8), np.float32))


def test_transformer_block_gradients_against_finite_differences():
    block = _to_float64(nn.TransformerBlock(4, 2, rng=3))
    rng = np.random.default_rng(4)
    for p in block.parameters():  # move layer-norm scales and biases off their init
        p.data = p.data + 0.3 * rng.standard_normal(p.shape)
    x = Tensor(rng.standard_normal((2, 3, 4)), requires_grad=True)
    u = rng.standard_normal((2, 3, 4))

    def loss():
        return (block(x) * Tensor(u)).sum()

    assert _module_gradcheck(block, loss) == block.num_parameters()
    # and the input's gradient
    x.grad = None
    loss().backward()
    eps, numeric = 1e-6, np.zeros_like(x.data)
    with no_grad():
        for j in np.ndindex(x.shape):
            orig = x.data[j]
            x.data[j] = orig + eps
            up = loss().item()
            x.data[j] = orig - eps
            down = loss().item()
            x.data[j] = orig
            numeric[j] = (up - down) / (2 * eps)
    np.testing.assert_allclose(x.grad, numeric, rtol=1e-5, atol=1e-8)


# ---------------------------------------------------------------------------------------------
# the GPT


def test_gpt_config_names_and_checks():
    cfg = GPTConfig(**TINY)
    assert (cfg.vocab_size, cfg.block_size, cfg.n_layer, cfg.n_head, cfg.n_embd) == (7, 6, 2, 2, 8)
    with pytest.raises(ValueError, match="divisible"):
        GPTConfig(n_embd=10, n_head=4)
    with pytest.raises(ValueError, match="block_size"):
        GPTConfig(block_size=0)
    assert nn.GPT is GPT and nn.GPTConfig is GPTConfig  # lazily exposed by nn
    with pytest.raises(AttributeError):
        nn.NoSuchModel  # noqa: B018


def test_gpt_forward_shapes_parameters_and_weight_tying():
    model = GPT(GPTConfig(**TINY), rng=0)
    assert model.lm_head.weight is model.wte.weight
    names = [n for n, _ in model.named_parameters()]
    assert "lm_head.weight" not in names and names[:2] == ["wte.weight", "wpe.weight"]
    c, v, t, layers = 8, 7, 6, 2
    per_block = (
        2 * 2 * c + (c * 3 * c + 3 * c) + (c * c + c) + (c * 4 * c + 4 * c) + (4 * c * c + c)
    )
    assert model.num_parameters() == v * c + t * c + layers * per_block + 2 * c
    ids = np.random.default_rng(1).integers(0, 7, (3, 6))
    assert model(ids).shape == (3, 6, 7)
    assert model(ids[0, :4]).shape == (4, 7)
    with pytest.raises(ValueError, match="longer than block_size=6"):
        model(np.zeros((1, 7), dtype=np.int64))
    with pytest.raises(ValueError, match="integer token ids"):
        model(np.zeros((1, 3)))
    assert GPT(**TINY, rng=0).wte.weight.data.std() < 0.03  # nanoGPT's N(0, 0.02)
    np.testing.assert_array_equal(
        GPT(**TINY, rng=5).wte.weight.data, GPT(**TINY, rng=5).wte.weight.data
    )


def test_gpt_loss_gradient_against_finite_differences_with_tied_weights():
    model = _to_float64(
        GPT(GPTConfig(vocab_size=5, block_size=3, n_layer=1, n_head=2, n_embd=4), rng=2)
    )
    rng = np.random.default_rng(3)
    for p in model.parameters():
        p.data = p.data + 0.2 * rng.standard_normal(p.shape)
    ids = rng.integers(0, 5, (2, 3))
    targets = rng.integers(0, 5, (2, 3))
    assert _module_gradcheck(model, lambda: model.loss(ids, targets)) == model.num_parameters()


def test_gpt_learns_a_repeating_sequence_with_adamw():
    model = GPT(GPTConfig(vocab_size=5, block_size=8, n_layer=1, n_head=2, n_embd=16), rng=0)
    seq = np.array([0, 1, 2, 3, 4] * 4)
    x = np.stack([seq[i : i + 8] for i in range(5)])
    y = np.stack([seq[i + 1 : i + 9] for i in range(5)])
    opt = optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.0)
    first = None
    for _ in range(60):
        opt.zero_grad()
        loss = model.loss(x, y)
        first = first if first is not None else loss.item()
        loss.backward()
        opt.step()
    assert first > 1.4 and loss.item() < 0.05
    out = model.generate(np.array([[2]]), 9, top_k=1)
    np.testing.assert_array_equal(out[0], [2, 3, 4, 0, 1, 2, 3, 4, 0, 1])


def test_generate_is_deterministic_for_a_seed():
    model = GPT(GPTConfig(**TINY), rng=0)
    prompt = np.array([[1, 2], [3, 4]])
    a = model.generate(prompt, 10, rng=123)
    b = model.generate(prompt, 10, rng=np.random.default_rng(123))
    np.testing.assert_array_equal(a, b)
    assert a.shape == (2, 12) and a.dtype == prompt.dtype
    np.testing.assert_array_equal(a[:, :2], prompt)
    assert ((a >= 0) & (a < 7)).all()
    assert not np.array_equal(a, model.generate(prompt, 10, rng=124))
    assert model.training  # generation switches to eval and back


def test_generate_top_k_temperature_and_long_contexts():
    model = GPT(GPTConfig(**TINY), rng=1)
    prompt = np.array([0, 1, 2, 3, 4, 5, 6, 0])  # longer than block_size: cropped at each step
    greedy = model.generate(prompt, 5, top_k=1, rng=0)
    again = model.generate(prompt, 5, top_k=1, rng=99)
    np.testing.assert_array_equal(greedy, again)  # top_k=1 ignores the randomness
    with no_grad():
        first = model(prompt[-6:]).data[-1].argmax()
    assert greedy.shape == (13,) and greedy[8] == first
    cold = model.generate(prompt, 5, temperature=1e-4, rng=0)
    np.testing.assert_array_equal(cold, greedy)  # a tiny temperature is greedy too
    top2 = model.generate(np.zeros((50, 1), np.int64), 1, top_k=2, rng=0)[:, 1]
    with no_grad():
        best2 = set(np.argsort(model(np.zeros(1, np.int64)).data[-1])[-2:].tolist())
    assert set(top2.tolist()) <= best2
    with pytest.raises(ValueError, match="temperature"):
        model.generate(prompt, 1, temperature=0)
    with pytest.raises(ValueError, match="top_k"):
        model.generate(prompt, 1, top_k=0)


# ---------------------------------------------------------------------------------------------
# explain: attention's backward, with the softmax's VJP inside


def test_explain_shows_the_softmax_vjp_inside_causal_attention():
    rng = np.random.default_rng(0)
    q, k, v = (Tensor(rng.standard_normal((3, 2)), requires_grad=True, name=n) for n in "qkv")
    out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    text = explain(out.sum(), quiet=True)
    steps = [line.split()[1] for line in text.splitlines() if line[:4].strip().isdigit()]
    # the softmax's primitives, backwards: Div, Sum, Exp, Sub; then the mask, the scores
    assert steps == [
        "Sum",
        "MatMul",
        "Div",
        "Sum",
        "Exp",
        "Sub",
        "Where",
        "MatMul",
        "Transpose",
        "Mul",
    ]
    assert "t1 = where(causal, (q * 0.707107) k^T, -inf)" in text  # the masked, scaled scores
    assert "t2 = exp(t1 - c1) / sum(exp(t1 - c1), axis=1)" in text  # the softmax
    # the quotient rule of softmax, in the operands' names ({y}: the row sum, too long to inline)
    assert "d(exp(t1 - c1)) = g / {y}" in text and "d{y} = -g * t2 / {y}" in text
    assert "dL/dv = t2^T @ 1" in text  # values get the attention weights' transpose
    assert "where(causal, g5 * exp(t1 - c1), 0)" in text  # masked entries get no gradient
    assert "No Jacobian was built" in text


def test_gpt_stays_float32_end_to_end():
    """A float64 scalar anywhere (``np.sqrt(E)`` for the attention scale, say) would silently
    turn the residual stream into float64 and make training twice as slow."""
    model = GPT(GPTConfig(**TINY), rng=0)
    ids = np.random.default_rng(0).integers(0, 7, (2, 6))
    seen = []
    logits = model(ids)
    stack, visited = [logits], set()
    while stack:  # every tensor of the graph
        t = stack.pop()
        if id(t) in visited:
            continue
        visited.add(id(t))
        seen.append(t.dtype)
        if t.grad_fn is not None:
            stack.extend(x for x in t.grad_fn.inputs if isinstance(x, Tensor))
    assert set(seen) == {np.dtype(np.float32)}
    loss = model.loss(ids, ids)
    loss.backward()
    assert loss.dtype == np.float32
    assert {p.grad.dtype for p in model.parameters()} == {np.dtype(np.float32)}


@pytest.mark.slow  # about 10 s: a subprocess that imports torch
def test_bench_gpt_runs_on_a_tiny_batch():
    """A smoke run of benchmarks/bench_gpt.py (no timing asserted): with torch installed it also
    checks that the two models' first losses agree."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root)}
    result = subprocess.run(
        [
            sys.executable,
            "benchmarks/bench_gpt.py",
            "--steps",
            "2",
            "--repeats",
            "1",
            "--batch",
            "2",
        ],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "tinygrad_ce" in result.stdout and "tokens/s" in result.stdout
