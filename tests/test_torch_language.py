"""The language-model ops and the GPT against PyTorch (skipped when torch is not installed):
values, gradients and second derivatives of the same program in both frameworks, float64."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import rand

import tinygrad_ce as tg
from tinygrad_ce import F, Tensor, grad
from tinygrad_ce.models import GPT, GPTConfig

torch = pytest.importorskip("torch")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from torch_gpt import TorchGPT, copy_weights, torch_grads  # noqa: E402

TF = torch.nn.functional


def _sdpa(*args, **kwargs):
    """PyTorch's attention on its math path (the fused CPU kernel has no double backward)."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    with sdpa_kernel(SDPBackend.MATH):
        return TF.scaled_dot_product_attention(*args, **kwargs)


def _both(fn_ours, fn_torch, arrays, second_order=True, seed=0):
    """Value, gradient and (optionally) the Hessian-vector product of sum(f * u), both ways."""
    rng = np.random.default_rng(seed)
    ours = [Tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out_o, out_t = fn_ours(*ours), fn_torch(*theirs)
    np.testing.assert_allclose(out_o.data, out_t.detach().numpy(), rtol=1e-10, atol=1e-12)
    u = rng.standard_normal(out_o.shape)
    go = grad(out_o, ours, grad_outputs=u, create_graph=second_order)
    gt = torch.autograd.grad(out_t, theirs, torch.tensor(u), create_graph=second_order)
    for a, b in zip(go, gt, strict=True):
        np.testing.assert_allclose(a.data, b.detach().numpy(), rtol=1e-9, atol=1e-11)
    if not second_order:
        return
    vs = [rng.standard_normal(a.shape) for a in arrays]
    ho = grad(sum((g * Tensor(v)).sum() for g, v in zip(go, vs, strict=True)), ours)
    ht = torch.autograd.grad(
        sum((g * torch.tensor(v)).sum() for g, v in zip(gt, vs, strict=True)),
        theirs,
        allow_unused=True,
    )
    for a, b in zip(ho, ht, strict=True):
        want = np.zeros(a.shape) if b is None else b.numpy()
        np.testing.assert_allclose(a.data, want, rtol=1e-8, atol=1e-10)


KEEP = np.array([[True, False, True, True], [False, True, True, False], [True] * 4])
EMPTY_ROW = np.array([[True, False, True], [False, False, False]])
CASES = {
    "sdpa": (
        lambda q, k, v: F.scaled_dot_product_attention(q, k, v),
        lambda q, k, v: _sdpa(q, k, v),
        [rand((2, 3, 4), 1), rand((2, 5, 4), 2), rand((2, 5, 3), 3)],
    ),
    "sdpa causal, heads": (
        lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
        lambda q, k, v: _sdpa(q, k, v, is_causal=True),
        [rand((2, 2, 4, 3), 4), rand((2, 2, 4, 3), 5), rand((2, 2, 4, 3), 6)],
    ),
    "sdpa bool mask": (
        lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=KEEP),
        lambda q, k, v: _sdpa(q, k, v, attn_mask=torch.tensor(KEEP)),
        [rand((3, 2), 7), rand((4, 2), 8), rand((4, 3), 9)],
    ),
    "sdpa fully masked row": (
        lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=EMPTY_ROW),
        lambda q, k, v: _sdpa(q, k, v, attn_mask=torch.tensor(EMPTY_ROW)),
        [rand((2, 3), 24), rand((3, 3), 25), rand((3, 2), 26)],
    ),
    "sdpa float mask": (
        lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=rand((3, 4), 10)),
        lambda q, k, v: _sdpa(q, k, v, attn_mask=torch.tensor(rand((3, 4), 10))),
        [rand((3, 2), 11), rand((4, 2), 12), rand((4, 3), 13)],
    ),
    "layer_norm": (
        lambda x, w, b: F.layer_norm(x, 4, w, b),
        lambda x, w, b: TF.layer_norm(x, (4,), w, b),
        [rand((2, 3, 4), 14), rand((4,), 15), rand((4,), 16)],
    ),
    "layer_norm 2 axes, eps": (
        lambda x: F.layer_norm(x, (3, 4), eps=0.1),
        lambda x: TF.layer_norm(x, (3, 4), eps=0.1),
        [rand((2, 3, 4), 17)],
    ),
    "gelu": (lambda x: F.gelu(x * 3), lambda x: TF.gelu(x * 3), [rand((3, 5), 18)]),
    "gelu tanh": (
        lambda x: F.gelu(x * 3, approximate="tanh"),
        lambda x: TF.gelu(x * 3, approximate="tanh"),
        [rand((3, 5), 19)],
    ),
    "embedding": (
        lambda w: F.embedding(np.array([[1, 1, 3], [0, 1, 3]]), w) ** 2,
        lambda w: TF.embedding(torch.tensor([[1, 1, 3], [0, 1, 3]]), w) ** 2,
        [rand((4, 3), 20)],
    ),
    "maximum with ties": (
        lambda x, y: x.maximum(y) * x,
        lambda x, y: torch.maximum(x, y) * x,
        [np.array([1.0, 2.0, -1.0, 0.5]), np.array([1.0, 0.0, -1.0, 3.0])],
    ),
    "minimum with ties": (
        lambda x, y: x.minimum(y) * y,
        lambda x, y: torch.minimum(x, y) * y,
        [np.array([1.0, 2.0, -1.0, 0.5]), np.array([1.0, 0.0, -1.0, 3.0])],
    ),
    "clip on the bounds": (
        lambda x: x.clip(-1.0, 1.0) * x,
        lambda x: torch.clamp(x, -1.0, 1.0) * x,
        [np.array([-2.0, -1.0, 0.3, 1.0, 1.5])],
    ),
    "var and std": (
        lambda x: x.var(axis=1, ddof=1) * x.std(axis=1),
        lambda x: torch.var(x, dim=1, correction=1) * torch.std(x, dim=1, correction=0),
        [rand((3, 4), 21)],
    ),
    "where, cat, stack": (
        lambda a, b: tg.stack(
            [tg.cat([a, b], axis=1), tg.cat([tg.where(a.data > 0, a * b, b), a], axis=-1)], axis=2
        ),
        lambda a, b: torch.stack(
            [
                torch.cat([a, b], dim=1),
                torch.cat([torch.where(a.detach() > 0, a * b, b), a], dim=-1),
            ],
            dim=2,
        ),
        [rand((2, 3), 22), rand((2, 3), 23)],
    ),
}


@pytest.mark.parametrize("name", CASES)
def test_against_torch_values_gradients_and_second_derivatives(name):
    ours, theirs, arrays = CASES[name]
    _both(ours, theirs, arrays)


def test_gpt_forward_and_backward_match_torch_with_copied_weights():
    cfg = GPTConfig(vocab_size=11, block_size=8, n_layer=2, n_head=2, n_embd=16)
    ours = GPT(cfg, rng=0)
    rng = np.random.default_rng(1)
    for p in ours.parameters():  # float64, and away from the init's zeros and ones
        p.data = (p.data + 0.1 * rng.standard_normal(p.shape)).astype(np.float64)
    theirs = TorchGPT(cfg).double()
    copy_weights(ours, theirs)
    idx, targets = rng.integers(0, 11, (3, 8)), rng.integers(0, 11, (3, 8))
    loss = ours.loss(idx, targets)
    loss_t = theirs.loss(torch.tensor(idx), torch.tensor(targets))
    np.testing.assert_allclose(loss.item(), loss_t.item(), rtol=1e-12)
    np.testing.assert_allclose(
        ours(idx).data, theirs(torch.tensor(idx)).detach().numpy(), rtol=1e-10, atol=1e-12
    )
    loss.backward()
    loss_t.backward()
    want = torch_grads(theirs)
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad, want[name], rtol=1e-8, atol=1e-12, err_msg=name)
