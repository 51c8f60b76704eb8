"""Model builders: the networks the command line and the notebooks train.

``CNN`` is a LeNet-style convolutional network (also reachable as ``nn.CNN``); ``LeNet`` is
LeCun's LeNet-5 layout for 28x28 images.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from . import nn
from .ops.conv import out_size


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
