"""Models built from ``nn`` layers, ready to train: what the command line and notebooks use.

:class:`MLP` is the multi-layer perceptron ``tinygrad-ce train`` trains; the CNN and GPT of
later chapters will sit beside it. Also reachable as ``nn.MLP``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from . import nn

__all__ = ["ACTIVATIONS", "MLP", "mlp_parameter_count"]

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
