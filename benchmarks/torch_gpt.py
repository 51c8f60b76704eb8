"""The same GPT in PyTorch (a reference for ``bench_gpt.py`` and the torch oracle tests).

Parameter names match ``tinygrad_ce.models.GPT``'s (``h.0.attn.c_attn.weight``, ...), so
:func:`copy_weights` is a loop over ``named_parameters``. Only imported where torch is.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F


class Attention(nn.Module):
    def __init__(self, c: int, n_head: int, bias: bool) -> None:
        super().__init__()
        self.n_head = n_head
        self.c_attn = nn.Linear(c, 3 * c, bias=bias)
        self.c_proj = nn.Linear(c, c, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, c = x.shape
        h = self.n_head
        qkv = self.c_attn(x).view(b, t, 3, h, c // h).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], is_causal=True)
        return self.c_proj(y.transpose(1, 2).reshape(b, t, c))


class Block(nn.Module):
    def __init__(self, c: int, n_head: int, bias: bool) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(c, bias=bias)
        self.attn = Attention(c, n_head, bias)
        self.ln_2 = nn.LayerNorm(c, bias=bias)
        self.mlp = nn.Sequential(
            nn.Linear(c, 4 * c, bias=bias), nn.GELU(), nn.Linear(4 * c, c, bias=bias), nn.Dropout(0)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class TorchGPT(nn.Module):
    """nanoGPT's layout with the names of ``tinygrad_ce.models.GPT``; dropout left out."""

    def __init__(self, config: Any) -> None:
        super().__init__()
        c = config.n_embd
        self.wte = nn.Embedding(config.vocab_size, c)
        self.wpe = nn.Embedding(config.block_size, c)
        self.h = nn.Sequential(
            *[Block(c, config.n_head, config.bias) for _ in range(config.n_layer)]
        )
        self.ln_f = nn.LayerNorm(c, bias=config.bias)
        self.lm_head = nn.Linear(c, config.vocab_size, bias=False)
        self.lm_head.weight = self.wte.weight  # tied, as ours

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        pos = torch.arange(idx.shape[-1])
        return self.lm_head(self.ln_f(self.h(self.wte(idx) + self.wpe(pos))))

    def loss(self, idx: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        logits = self(idx)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


def copy_weights(ours: Any, theirs: TorchGPT) -> None:
    """Copy every parameter of our GPT into the torch one (same names, same dtype)."""
    params = dict(theirs.named_parameters())
    ours_named = dict(ours.named_parameters())
    if set(params) != set(ours_named):
        raise KeyError(f"parameter names differ: {sorted(set(params) ^ set(ours_named))}")
    with torch.no_grad():
        for name, p in ours_named.items():
            params[name].copy_(torch.from_numpy(np.asarray(p.data)))


def torch_grads(theirs: TorchGPT) -> dict[str, np.ndarray]:
    """Each parameter's ``.grad`` as an ndarray, by name."""
    return {n: p.grad.numpy() for n, p in theirs.named_parameters() if p.grad is not None}
