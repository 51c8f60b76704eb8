"""Models built from ``nn`` layers, ready to train: what the command line and notebooks use.

:class:`MLP` is the multi-layer perceptron ``tinygrad-ce train`` trains by default; :class:`CNN`
is a LeNet-style convolutional network and :func:`LeNet` LeCun's LeNet-5 layout for 28x28
images; :class:`GPT` is a decoder-only transformer in the shape of Karpathy's nanoGPT
(``model.py``): token and position embeddings, ``n_layer`` pre-norm
:class:`~tinygrad_ce.nn.TransformerBlock` s, a final layer norm and a language-model head that
shares its weights with the token embedding, configured with nanoGPT's names (:class:`GPTConfig`).
Each is also reachable from ``nn`` (``nn.MLP``, ``nn.CNN``, ``nn.LeNet``, ``nn.GPT``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import functional as F
from . import nn
from .autograd import no_grad
from .ops.conv import out_size
from .tensor import Tensor

__all__ = [
    "ACTIVATIONS",
    "CNN",
    "GPT",
    "MLP",
    "GPTConfig",
    "LeNet",
    "cnn_for",
    "mlp_parameter_count",
]

ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}


class MLP(nn.Sequential):
    """``Linear -> activation -> ... -> Linear``: layer widths ``sizes``, no activation after
    the last layer (it outputs logits).

    ``MLP(2, 64, 64, 3)`` maps 2 inputs through two hidden layers of 64 to 3 outputs;
    ``MLP(2, 3)`` is a single linear layer (logistic regression with a softmax loss). Layers
    are numbered as in a ``Sequential`` (``'0.weight'``, ``'2.bias'`` ...), so checkpoints of
    the equivalent ``Sequential`` load into it.

    Parameters
    ----------
    *sizes : int
        At least two widths: inputs, hidden layers..., outputs.
    activation : "relu", "tanh" or "sigmoid"
    rng : Generator or int, optional
        Where the initial weights come from (default: ``nn.manual_seed``'s generator).
    dtype : numpy dtype
        float32 by default.
    """

    def __init__(
        self,
        *sizes: int,
        activation: str = "relu",
        rng: np.random.Generator | int | None = None,
        dtype: Any = np.float32,
    ) -> None:
        if len(sizes) == 1 and isinstance(sizes[0], (list, tuple)):
            sizes = tuple(sizes[0])
        if len(sizes) < 2:
            raise ValueError(f"MLP needs at least an input and an output size, got {sizes}")
        if activation not in ACTIVATIONS:
            raise ValueError(
                f"MLP: activation must be one of {', '.join(ACTIVATIONS)}, got {activation!r}"
            )
        gen = nn._rng(rng)
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
            layers.append(nn.Linear(a, b, rng=gen, dtype=dtype))
            if i < len(sizes) - 2:
                layers.append(ACTIVATIONS[activation]())
        super().__init__(*layers)
        self.sizes = tuple(int(n) for n in sizes)
        self.activation = activation

    @property
    def layout(self) -> str:
        """The widths joined by dashes, e.g. ``"2-64-64-3"``."""
        return "-".join(str(n) for n in self.sizes)


def mlp_parameter_count(sizes: Sequence[int]) -> int:
    """Weights and biases of an :class:`MLP` with layer widths ``sizes`` (without building it)."""
    return sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:], strict=True))


class CNN(nn.Sequential):
    """A LeNet-style CNN: conv blocks, then a small MLP on the flattened feature maps.

    Each entry of ``channels`` adds ``Conv2d(k, padding) -> [BatchNorm2d] -> ReLU ->
    MaxPool2d(2)``; then ``Flatten -> Linear -> ReLU`` per entry of ``hidden`` and a final
    ``Linear`` to the class scores.

    Parameters
    ----------
    in_shape : (C, H, W)
        The shape of one image, e.g. ``(1, 8, 8)`` for the digits, ``(1, 28, 28)`` for MNIST.
    n_classes : int
        The number of outputs (logits).
    channels : sequence of int
        Output channels of each conv block.
    kernel_size : int
        The (square) kernel of every conv layer.
    padding : int, sequence of int or None
        Zero padding of each conv layer (one value for all, or one per block); None keeps the
        spatial size (``kernel_size // 2``).
    hidden : int or sequence of int
        Widths of the fully connected hidden layers (``()`` for none).
    batch_norm : bool
        Put a ``BatchNorm2d`` after each convolution.

    Input ``(N, C, H, W)``, output ``(N, n_classes)``. Weights come from ``nn``'s generator
    (:func:`nn.manual_seed`).
    """

    def __init__(
        self,
        in_shape: Sequence[int] = (1, 8, 8),
        n_classes: int = 10,
        channels: Sequence[int] = (16, 32),
        kernel_size: int = 3,
        padding: int | Sequence[int] | None = None,
        hidden: int | Sequence[int] = (64,),
        batch_norm: bool = False,
    ) -> None:
        in_shape = tuple(int(n) for n in in_shape)
        if len(in_shape) != 3 or min(in_shape) < 1:
            raise ValueError(f"CNN: in_shape must be (C, H, W) of positive sizes, got {in_shape}")
        channels = list(channels)
        pads = _per_block(padding, len(channels), kernel_size // 2, "padding")
        hidden_sizes = [hidden] if isinstance(hidden, (int, np.integer)) else list(hidden)
        layers: list[nn.Module] = []
        c, h, w = in_shape
        for out_c, pad in zip(channels, pads, strict=True):
            h, w = out_size(h, kernel_size, 1, pad), out_size(w, kernel_size, 1, pad)
            if h < 2 or w < 2:
                raise ValueError(
                    f"CNN: images of shape {in_shape} are too small for {len(channels)} conv "
                    f"blocks of kernel {kernel_size} (padding {pads}) each followed by a 2x2 "
                    "pool; use fewer channels entries or more padding"
                )
            layers.append(nn.Conv2d(c, out_c, kernel_size, padding=pad))
            if batch_norm:
                layers.append(nn.BatchNorm2d(out_c))
            layers += [nn.ReLU(), nn.MaxPool2d(2)]
            c, h, w = out_c, h // 2, w // 2
        layers.append(nn.Flatten())
        width = c * h * w
        for size in hidden_sizes:
            layers += [nn.Linear(width, int(size)), nn.ReLU()]
            width = int(size)
        layers.append(nn.Linear(width, int(n_classes)))
        super().__init__(*layers)
        self.in_shape = in_shape
        self.n_classes = int(n_classes)

    @property
    def layout(self) -> str:
        """Channels of the conv blocks and widths of the head: ``"conv 16-32, fc 512-64-10"``."""
        convs = [m.out_channels for m in self.modules() if isinstance(m, nn.Conv2d)]
        fcs = [m for m in self.modules() if isinstance(m, nn.Linear)]
        widths = [fcs[0].in_features] + [m.out_features for m in fcs]
        return f"conv {'-'.join(map(str, convs))}, fc {'-'.join(map(str, widths))}"

    def forward(self, x: Any) -> Any:
        shape = np.shape(x.data if hasattr(x, "data") else x)
        if len(shape) != 4 or tuple(shape[1:]) != self.in_shape:
            raise ValueError(
                f"CNN expects images of shape (N, {', '.join(map(str, self.in_shape))}), got "
                f"{tuple(shape)} (reshape flat rows with X.reshape(-1, "
                f"{', '.join(map(str, self.in_shape))}))"
            )
        return super().forward(x)


def _per_block(value: Any, n: int, default: int, what: str) -> list[int]:
    if value is None:
        return [default] * n
    if isinstance(value, (int, np.integer)):
        return [int(value)] * n
    values = [int(v) for v in value]
    if len(values) != n:
        raise ValueError(f"CNN: {what} has {len(values)} entries for {n} conv blocks")
    return values


def cnn_for(
    image_shape: Sequence[int], n_classes: int, hidden: Sequence[int], batch_norm: bool
) -> CNN:
    """The CNN ``tinygrad-ce train --model cnn`` builds for images of ``image_shape``: LeNet-5's
    layout (5x5 kernels, 6 and 16 channels) from 28x28 up, two 3x3 blocks (16, 32) below."""
    if image_shape[1] >= 28:
        return CNN(image_shape, n_classes, channels=(6, 16), kernel_size=5, padding=(2, 0),
                   hidden=hidden, batch_norm=batch_norm)  # fmt: skip
    return CNN(image_shape, n_classes, hidden=hidden, batch_norm=batch_norm)


def LeNet(n_classes: int = 10, in_channels: int = 1, batch_norm: bool = False) -> CNN:
    """LeNet-5 for 28x28 images: conv 5x5 (6, padding 2) -> pool -> conv 5x5 (16) -> pool ->
    120 -> 84 -> ``n_classes``, with ReLU and max pooling (61,706 parameters for 10 classes)."""
    return CNN(
        (in_channels, 28, 28),
        n_classes,
        channels=(6, 16),
        kernel_size=5,
        padding=(2, 0),
        hidden=(120, 84),
        batch_norm=batch_norm,
    )


@dataclass(frozen=True)
class GPTConfig:
    """A GPT's sizes, with nanoGPT's names.

    Attributes
    ----------
    vocab_size : int
        Number of token ids (65 for a character model of Shakespeare).
    block_size : int
        The longest context, in tokens (positions have their own embedding).
    n_layer, n_head, n_embd : int
        Transformer blocks, attention heads per block, width of the residual stream
        (``n_embd`` must be divisible by ``n_head``).
    dropout : float
        Dropout after attention, after each MLP and on the embeddings (0 turns it off).
    bias : bool
        Biases in the linear layers and layer norms.
    """

    vocab_size: int = 65
    block_size: int = 64
    n_layer: int = 2
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.0
    bias: bool = True

    def __post_init__(self) -> None:
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"GPTConfig: {name} must be a positive integer, got {value!r}")
        if self.n_embd % self.n_head:
            raise ValueError(
                f"GPTConfig: n_embd={self.n_embd} must be divisible by n_head={self.n_head}"
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"GPTConfig: dropout must be in [0, 1), got {self.dropout}")


class GPT(nn.Module):
    """A GPT language model: ids ``(B, T)`` -> next-token logits ``(B, T, vocab_size)``.

    Parameters
    ----------
    config : GPTConfig, optional
        The sizes; keyword arguments (``GPT(vocab_size=65, n_layer=2)``) override its fields.
    rng : Generator or int, optional
        Initial weights come from it (default: ``nn.manual_seed``'s generator).

    Notes
    -----
    Initialised as nanoGPT: weights ``N(0, 0.02)``, biases 0, the two residual projections of
    each block (``attn.c_proj`` and the MLP's second layer) ``N(0, 0.02 / sqrt(2 n_layer))``.
    ``lm_head.weight`` *is* ``wte.weight`` (weight tying): one Parameter, listed once by
    ``parameters()``, whose gradient sums the lookup's scatter-add and the head's matmul.
    """

    def __init__(
        self,
        config: GPTConfig | None = None,
        rng: np.random.Generator | int | None = None,
        **overrides: Any,
    ) -> None:
        super().__init__()
        cfg = config or GPTConfig()
        if overrides:
            cfg = dataclasses.replace(cfg, **overrides)
        self.config = cfg
        gen = nn._rng(rng)
        c = cfg.n_embd
        self.wte = nn.Embedding(cfg.vocab_size, c, rng=gen)
        self.wpe = nn.Embedding(cfg.block_size, c, rng=gen)
        self.drop = nn.Dropout(cfg.dropout, rng=gen)
        self.h = nn.Sequential(
            *[
                nn.TransformerBlock(c, cfg.n_head, bias=cfg.bias, dropout=cfg.dropout, rng=gen)
                for _ in range(cfg.n_layer)
            ]
        )
        self.ln_f = nn.LayerNorm(c, bias=cfg.bias)
        self.lm_head = nn.Linear(c, cfg.vocab_size, bias=False, rng=gen)
        self.lm_head.weight = self.wte.weight  # tied
        self._init_weights(gen)

    def _init_weights(self, gen: np.random.Generator) -> None:
        residual_std = 0.02 / math.sqrt(2 * self.config.n_layer)
        for name, module in self.named_modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                std = residual_std if name.endswith(("attn.c_proj", "mlp.2")) else 0.02
                w = module.weight
                w.data = gen.normal(0.0, std, size=w.shape).astype(w.dtype)
                if getattr(module, "bias", None) is not None:
                    module.bias.data = np.zeros_like(module.bias.data)

    def forward(self, idx: Any) -> Tensor:
        """Logits ``(B, T, vocab_size)`` for token ids ``idx`` of shape ``(B, T)`` (or ``(T,)``,
        giving ``(T, vocab_size)``), ``T <= block_size``."""
        ids = np.asarray(idx.data if isinstance(idx, Tensor) else idx)
        if ids.dtype.kind not in "iu" or ids.ndim not in (1, 2):
            raise ValueError(
                f"GPT: idx must be integer token ids of shape (B, T) or (T,), got dtype "
                f"{ids.dtype} and shape {ids.shape}"
            )
        t = ids.shape[-1]
        if t > self.config.block_size:
            raise ValueError(
                f"GPT: a sequence of {t} tokens is longer than block_size="
                f"{self.config.block_size}; crop it to the last {self.config.block_size}"
            )
        single = ids.ndim == 1
        if single:
            ids = ids[None]
        x = self.drop(self.wte(ids) + self.wpe(np.arange(t)))
        logits = self.lm_head(self.ln_f(self.h(x)))
        return logits.reshape(logits.shape[1:]) if single else logits

    def loss(self, idx: Any, targets: Any) -> Tensor:
        """Mean cross-entropy of the next-token predictions (nats per token): ``targets`` are
        the ids that follow ``idx``, same shape."""
        return F.cross_entropy(self(idx), np.asarray(targets))

    @no_grad()
    def generate(
        self,
        idx: Any,
        max_new_tokens: int,
        temperature: float = 1.0,
        top_k: int | None = None,
        rng: np.random.Generator | int | None = None,
    ) -> np.ndarray:
        """Extend each row of ``idx`` by ``max_new_tokens`` sampled tokens.

        Parameters
        ----------
        idx : integer array, shape (B, T) or (T,)
            The prompt(s); only the last ``block_size`` tokens are read at each step.
        max_new_tokens : int
        temperature : float > 0
            Logits are divided by it: below 1 sharper, above 1 flatter.
        top_k : int, optional
            Sample only among the ``top_k`` most likely tokens.
        rng : Generator or int, optional
            The source of randomness: the same seed gives the same text.

        Returns
        -------
        ndarray of ids, shape ``(B, T + max_new_tokens)`` (or ``(T + max_new_tokens,)``).
        """
        if not temperature > 0:
            raise ValueError(f"generate: temperature must be > 0, got {temperature}")
        if top_k is not None and not 1 <= top_k:
            raise ValueError(f"generate: top_k must be a positive integer, got {top_k}")
        ids = np.asarray(idx.data if isinstance(idx, Tensor) else idx)
        single = ids.ndim == 1
        ids = ids[None] if single else ids
        if ids.dtype.kind not in "iu" or ids.ndim != 2 or ids.shape[1] == 0:
            raise ValueError(
                f"generate: idx must be a non-empty (B, T) or (T,) array of token ids, got "
                f"dtype {ids.dtype} and shape {np.shape(idx)}"
            )
        gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        was_training = self.training
        self.eval()
        try:
            for _ in range(max_new_tokens):
                logits = self(ids[:, -self.config.block_size :]).data[:, -1, :]
                logits = logits.astype(np.float64) / temperature
                if top_k is not None and top_k < logits.shape[-1]:
                    kth = np.partition(logits, -top_k, axis=-1)[:, -top_k, None]
                    logits = np.where(logits < kth, -np.inf, logits)
                probs = np.exp(logits - logits.max(axis=-1, keepdims=True))
                probs /= probs.sum(axis=-1, keepdims=True)
                u = gen.random((ids.shape[0], 1))
                nxt = (probs.cumsum(axis=-1) < u).sum(axis=-1)  # inverse-CDF sampling
                nxt = np.minimum(nxt, probs.shape[-1] - 1)
                ids = np.concatenate([ids, nxt[:, None].astype(ids.dtype)], axis=1)
        finally:
            self.train(was_training)
        return ids[0] if single else ids

    def extra_repr(self) -> str:
        c = self.config
        return (
            f"vocab_size={c.vocab_size}, block_size={c.block_size}, n_layer={c.n_layer}, "
            f"n_head={c.n_head}, n_embd={c.n_embd}"
        )
