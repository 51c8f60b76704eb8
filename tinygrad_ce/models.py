"""Models built from ``nn`` layers, ready to train: what the command line and notebooks use.

:class:`MLP` is the multi-layer perceptron ``tinygrad-ce train`` trains by default; :class:`CNN`
is a LeNet-style convolutional network and :func:`LeNet` LeCun's LeNet-5 layout for 28x28
images. Each is also reachable from ``nn`` (``nn.MLP``, ``nn.CNN``, ``nn.LeNet``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from . import nn
from .ops.conv import out_size

__all__ = ["ACTIVATIONS", "CNN", "MLP", "LeNet", "cnn_for", "mlp_parameter_count"]

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
