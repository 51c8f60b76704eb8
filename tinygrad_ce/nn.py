"""Layers, losses and checkpoints: a small ``torch.nn`` for tinygrad_ce.

A :class:`Module` keeps its :class:`Parameter` s and sub-modules by attribute, so
``self.fc = Linear(2, 3)`` is all it takes to register a layer. ``model(x)`` calls
``model.forward(x)``. Layers compose Tensor ops, so ``draw_graph`` shows the engine's nodes
(``ReLU``, ...); a :class:`Linear` layer is one ``ops.Affine`` node (``x @ W^T + b``), or
``Transpose``, ``MatMul`` and ``Add`` with ``fused=False``.

Randomness (initial weights, dropout masks) comes from a module-level generator seeded with
:func:`manual_seed`, or from an ``rng=`` argument (a ``numpy.random.Generator`` or a seed).

Checkpoints are ``.npz`` files read with ``np.load(allow_pickle=False)``: loading an untrusted
file cannot run code, and a corrupted or mismatched file raises :class:`CheckpointError`.
"""

from __future__ import annotations

import math
import os
import zipfile
import zlib
from collections.abc import Iterator
from typing import Any

import numpy as np

from . import functional as F
from . import ops
from .ops import Affine
from .ops.conv import pair
from .outputs import write_atomic
from .tensor import Tensor

__all__ = [
    "AvgPool2d",
    "BatchNorm1d",
    "BatchNorm2d",
    "CausalSelfAttention",
    "CheckpointError",
    "Conv2d",
    "CrossEntropyLoss",
    "Dropout",
    "Embedding",
    "Flatten",
    "GELU",
    "Identity",
    "LayerNorm",
    "Linear",
    "MSELoss",
    "MaxPool2d",
    "Module",
    "Parameter",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Tanh",
    "TransformerBlock",
    "load",
    "manual_seed",
    "save",
]

# ---------------------------------------------------------------------------------------------
# randomness

_generator = np.random.default_rng(0)


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed the generator used by layers created without ``rng=`` (weights, dropout masks).

    Returns the new generator. Building the same model after the same seed gives the same
    weights.
    """
    global _generator
    _generator = np.random.default_rng(seed)
    return _generator


def _rng(rng: np.random.Generator | int | None) -> np.random.Generator:
    """``rng`` itself, a new generator seeded with it, or the module-level generator."""
    if rng is None:
        return _generator
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(rng)


# ---------------------------------------------------------------------------------------------
# Parameter and Module


class Parameter(Tensor):
    """A Tensor that a :class:`Module` registers as trainable (``requires_grad=True``).

    Parameters
    ----------
    data : array_like
        Initial values (copied); float64 stays float64, Python floats become float32.
    requires_grad : bool
        True by default; set False to freeze the parameter.
    """

    def __init__(self, data: Any, requires_grad: bool = True, name: str | None = None) -> None:
        super().__init__(data, requires_grad=requires_grad, name=name)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


class CheckpointError(ValueError):
    """A state dict or checkpoint file that does not fit the module (or cannot be read)."""


class Module:
    """Base class of layers and models.

    Assigning a :class:`Parameter` or a ``Module`` to an attribute registers it; ``parameters()``
    then finds it, in the order the attributes were set. Subclasses define ``forward``.

    Examples
    --------
    >>> class MLP(Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.hidden = Linear(2, 16)
    ...         self.out = Linear(16, 3)
    ...     def forward(self, x):
    ...         return self.out(self.hidden(x).relu())
    >>> [name for name, _ in MLP().named_parameters()]
    ['hidden.weight', 'hidden.bias', 'out.weight', 'out.bias']
    """

    training: bool

    def __init__(self) -> None:
        object.__setattr__(self, "_param_names", {})
        object.__setattr__(self, "_module_names", {})
        object.__setattr__(self, "_buffer_names", {})
        object.__setattr__(self, "training", True)

    def __setattr__(self, name: str, value: Any) -> None:
        if "_param_names" not in self.__dict__:
            raise AttributeError(
                f"{type(self).__name__}.__init__ must call super().__init__() before setting "
                f"attribute {name!r}"
            )
        self._param_names.pop(name, None)
        self._module_names.pop(name, None)
        if isinstance(value, Parameter):
            self._param_names[name] = None
        elif isinstance(value, Module):
            self._module_names[name] = None
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        self._param_names.pop(name, None)
        self._module_names.pop(name, None)
        object.__delattr__(self, name)

    # --- registration -----------------------------------------------------------------------

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register ``param`` under ``name`` (``None`` means "no such parameter", e.g. bias)."""
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"{name!r} must be a Parameter or None, got {type(param).__name__}")
        setattr(self, name, param)

    def register_buffer(self, name: str, value: Any) -> None:
        """Keep ``value`` (a Tensor with no gradient, e.g. BatchNorm's running mean) as state:
        saved in ``state_dict`` and checkpoints, never returned by ``parameters()``."""
        tensor = value if isinstance(value, Tensor) else Tensor(np.asarray(value))
        if isinstance(tensor, Parameter) or tensor.requires_grad:
            raise TypeError(f"buffer {name!r} must not require grad (use a Parameter for that)")
        setattr(self, name, tensor)
        self._buffer_names[name] = None

    def named_buffers(self) -> Iterator[tuple[str, Tensor]]:
        """Every buffer with its dotted name (``'1.running_mean'``)."""
        for prefix, module in self.named_modules():
            for name in module.__dict__.get("_buffer_names", ()):
                yield (f"{prefix}.{name}" if prefix else name), module.__dict__[name]

    def add_module(self, name: str, module: Module | None) -> None:
        """Register ``module`` under ``name``."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{name!r} must be a Module or None, got {type(module).__name__}")
        setattr(self, name, module)

    # --- traversal --------------------------------------------------------------------------

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """The direct sub-modules with their attribute names."""
        for name in self._module_names:
            yield name, self.__dict__[name]

    def children(self) -> Iterator[Module]:
        for _, module in self.named_children():
            yield module

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """This module and all sub-modules, depth first, with dotted names ('' for self)."""
        stack: list[tuple[str, Module]] = [(prefix, self)]
        seen: set[int] = set()
        while stack:
            name, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            kids = [(f"{name}.{n}" if name else n, m) for n, m in module.named_children()]
            stack.extend(reversed(kids))

    def modules(self) -> Iterator[Module]:
        for _, module in self.named_modules():
            yield module

    def named_parameters(self) -> Iterator[tuple[str, Parameter]]:
        """Every parameter with its dotted name (``'0.weight'``), each shared one once."""
        seen: set[int] = set()
        for prefix, module in self.named_modules():
            for name in module._param_names:
                param = module.__dict__[name]
                if param is None or id(param) in seen:
                    continue
                seen.add(id(param))
                yield (f"{prefix}.{name}" if prefix else name), param

    def parameters(self) -> Iterator[Parameter]:
        """Every parameter (what an optimizer needs)."""
        for _, param in self.named_parameters():
            yield param

    def num_parameters(self) -> int:
        """The number of scalar values in all parameters."""
        return sum(p.size for p in self.parameters())

    # --- modes and gradients ----------------------------------------------------------------

    def zero_grad(self) -> None:
        """Set every parameter's ``.grad`` to None."""
        for param in self.parameters():
            param.grad = None

    def train(self, mode: bool = True) -> Module:
        """Training mode (dropout active) for this module and all sub-modules; returns self."""
        for module in self.modules():
            object.__setattr__(module, "training", bool(mode))
        return self

    def eval(self) -> Module:
        """Evaluation mode (dropout off); same as ``train(False)``."""
        return self.train(False)

    # --- state ------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, np.ndarray]:
        """A copy of every parameter's (and buffer's) values, keyed by dotted name."""
        state = {name: param.data.copy() for name, param in self.named_parameters()}
        state.update((name, buf.data.copy()) for name, buf in self.named_buffers())
        return state

    def load_state_dict(self, state: dict[str, Any], strict: bool = True) -> None:
        """Copy values from ``state`` into the parameters.

        Raises :class:`CheckpointError` naming the offending keys when a name is missing or
        unexpected (``strict=False`` ignores both), a shape differs, or a finite value does not
        fit the parameter's dtype (1e300 into float32). Values are cast to each parameter's
        dtype; nothing is changed unless every entry fits.
        """
        params: dict[str, Tensor] = dict(self.named_parameters())
        params.update(self.named_buffers())
        missing = [k for k in params if k not in state]
        unexpected = [k for k in state if k not in params]
        if strict and (missing or unexpected):
            parts = []
            if missing:
                parts.append(f"missing keys {missing}")
            if unexpected:
                parts.append(f"unexpected keys {unexpected}")
            raise CheckpointError(
                f"state dict does not match {type(self).__name__}: {'; '.join(parts)}"
            )
        new = {}
        for name, param in params.items():
            if name not in state:
                continue
            value = state[name]
            value = np.asarray(value.data if isinstance(value, Tensor) else value)
            if value.shape != param.shape:
                raise CheckpointError(
                    f"shape mismatch for {name!r}: the module has {param.shape}, the state dict "
                    f"has {value.shape}"
                )
            if value.dtype.kind not in "fiub":
                raise CheckpointError(f"{name!r} holds {value.dtype} values, not numbers")
            with np.errstate(over="ignore", invalid="ignore"):
                cast = np.array(value, dtype=param.dtype, copy=True)
            overflow = np.isfinite(value) & ~np.isfinite(cast)
            if overflow.any():
                where = tuple(int(i) for i in np.argwhere(overflow)[0])
                raise CheckpointError(
                    f"{name!r} holds {value[where]!r} at index {where}, which overflows the "
                    f"parameter's dtype {param.dtype}"
                )
            new[name] = cast
        for name, value in new.items():
            params[name].data = value

    def save(self, path: str | os.PathLike) -> None:
        """Write the parameters to an ``.npz`` file (see :func:`save`)."""
        save(self, path)

    def load(self, path: str | os.PathLike, strict: bool = True) -> Module:
        """Read parameters from an ``.npz`` file written by :func:`save`; returns self."""
        load(self, path, strict=strict)
        return self

    # --- calling and printing ---------------------------------------------------------------

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    def extra_repr(self) -> str:
        """The text inside the parentheses of this module's repr (its settings)."""
        return ""

    def __repr__(self) -> str:
        kids = list(self.named_children())
        extra = self.extra_repr()
        if not kids:
            return f"{type(self).__name__}({extra})"
        lines = [extra] if extra else []
        for name, module in kids:
            body = repr(module).replace("\n", "\n  ")
            lines.append(f"({name}): {body}")
        return f"{type(self).__name__}(\n  " + "\n  ".join(lines) + "\n)"


def _to_tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(np.asarray(x))


# ---------------------------------------------------------------------------------------------
# layers


class Linear(Module):
    """``y = x @ W.T + b``, with ``W`` stored as ``(out_features, in_features)`` as in PyTorch.

    Parameters
    ----------
    in_features, out_features : int
        Sizes of the last axis of the input ``(..., in_features)`` and of the output
        ``(..., out_features)``.
    bias : bool
        Whether to add the learnable bias ``b`` of shape ``(out_features,)``.
    rng : Generator or int, optional
        Where the initial values come from (default: the generator of :func:`manual_seed`).
    dtype : numpy dtype
        float32 by default.
    fused : bool
        True (default): one :class:`Affine` node per call, with the rules ``dx = g @ W``,
        ``dW = g^T @ x``, ``db = sum(g)``. False: the same value from primitive ops
        (``Transpose``, ``MatMul``, ``Add``), three nodes, to see each rule on its own. Same
        values and gradients; the fused layer is faster.

    Notes
    -----
    PyTorch's default initialisation: ``W`` and ``b`` uniform in ``[-1/sqrt(in), 1/sqrt(in)]``
    (Kaiming-uniform with ``a = sqrt(5)`` reduces to this bound).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        rng: np.random.Generator | int | None = None,
        dtype: Any = np.float32,
        fused: bool = True,
    ) -> None:
        super().__init__()
        for label, n in (("in_features", in_features), ("out_features", out_features)):
            if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n <= 0:
                raise ValueError(f"Linear: {label} must be a positive integer, got {n!r}")
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        self.fused = bool(fused)
        gen = _rng(rng)
        bound = 1.0 / math.sqrt(in_features)
        w = gen.uniform(-bound, bound, size=(out_features, in_features))
        self.weight = Parameter(w.astype(dtype))
        if bias:
            self.bias = Parameter(gen.uniform(-bound, bound, size=(out_features,)).astype(dtype))
        else:
            self.bias = None

    def forward(self, x: Any) -> Tensor:
        if not isinstance(x, Tensor):
            x = Tensor(np.asarray(x))
        shape = x._data.shape
        if not shape or shape[-1] != self.in_features:
            raise ValueError(
                f"Linear({self.in_features}, {self.out_features}) expects inputs of shape "
                f"(..., {self.in_features}), got {x.shape}"
            )
        if self.fused:
            if self.bias is None:
                return Affine.apply(x, self.weight)
            return Affine.apply(x, self.weight, self.bias)
        out = x @ self.weight.T
        return out + self.bias if self.bias is not None else out

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}" + ("" if self.fused else ", fused=False")
        )


class Sequential(Module):
    """Layers applied one after the other; indexable (``model[0]``, ``model[1:]``) with ``len``.

    Sub-modules are registered under the names ``'0'``, ``'1'``, ... so parameter names read
    ``'0.weight'``, as in PyTorch.
    """

    def __init__(self, *layers: Module) -> None:
        super().__init__()
        for i, layer in enumerate(layers):
            if not isinstance(layer, Module):
                raise TypeError(f"Sequential: layer {i} is a {type(layer).__name__}, not a Module")
            self.add_module(str(i), layer)

    def _layers(self) -> list[Module]:
        return [self.__dict__[name] for name in self._module_names]

    def __len__(self) -> int:
        return len(self._module_names)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._layers())

    def __getitem__(self, index: int | slice) -> Any:
        layers = self._layers()
        if isinstance(index, slice):
            return Sequential(*layers[index])
        try:
            return layers[index]
        except IndexError:
            raise IndexError(
                f"index {index} is out of range for Sequential of length {len(layers)}"
            ) from None

    def append(self, layer: Module) -> Sequential:
        """Add ``layer`` at the end; returns self."""
        self.add_module(str(len(self)), layer)
        return self

    def forward(self, x: Any) -> Any:
        layers = self.__dict__
        for name in self._module_names:
            x = layers[name](x)
        return x


class ReLU(Module):
    """``max(x, 0)`` elementwise."""

    def forward(self, x: Any) -> Tensor:
        return ops.ReLU.apply(x if isinstance(x, Tensor) else _to_tensor(x))


class Tanh(Module):
    """``tanh(x)`` elementwise."""

    def forward(self, x: Any) -> Tensor:
        return _to_tensor(x).tanh()


class Sigmoid(Module):
    """``1 / (1 + exp(-x))`` elementwise."""

    def forward(self, x: Any) -> Tensor:
        return _to_tensor(x).sigmoid()


class Identity(Module):
    """Returns its input unchanged."""

    def forward(self, x: Any) -> Any:
        return x


class Flatten(Module):
    """Merge axes ``start_dim`` to the end: ``(N, 8, 8) -> (N, 64)`` with the default 1."""

    def __init__(self, start_dim: int = 1) -> None:
        super().__init__()
        self.start_dim = start_dim

    def forward(self, x: Any) -> Tensor:
        x = _to_tensor(x)
        start = self.start_dim % max(x.ndim, 1)
        return x.reshape(*x.shape[:start], -1)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}"


class Dropout(Module):
    """Inverted dropout: in training, zero each value with probability ``p`` and scale the rest
    by ``1 / (1 - p)``, so the expected output equals the input; the identity in eval mode.

    Parameters
    ----------
    p : float
        Probability of zeroing, in ``[0, 1]``.
    rng : Generator or int, optional
        Source of the masks (default: the generator of :func:`manual_seed`, read at each call).
    """

    def __init__(self, p: float = 0.5, rng: np.random.Generator | int | None = None) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: p must be between 0 and 1, got {p}")
        self.p = float(p)
        self._own_rng = None if rng is None else _rng(rng)

    def forward(self, x: Any) -> Tensor:
        x = _to_tensor(x)
        if not self.training or self.p == 0.0:
            return x
        if self.p == 1.0:
            return x * np.zeros(x.shape, dtype=x.dtype)
        gen = self._own_rng if self._own_rng is not None else _generator
        keep = gen.random(x.shape) >= self.p
        mask = (keep * (1.0 / (1.0 - self.p))).astype(x.dtype)
        mask.setflags(write=False)  # ours alone: the recorded Mul need not snapshot it
        return x * mask

    def extra_repr(self) -> str:
        return f"p={self.p}"


# ---------------------------------------------------------------------------------------------
# language-model layers


class Embedding(Module):
    """A table of ``num_embeddings`` learnable vectors of size ``embedding_dim``, looked up by id.

    ``Embedding(V, D)(idx)`` has shape ``idx.shape + (D,)``. Initialised from ``N(0, 1)`` as in
    PyTorch (GPT re-initialises with a smaller spread). The gradient is a scatter-add of the
    upstream rows into the table (see ``F.embedding``).
    """

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        rng: np.random.Generator | int | None = None,
        dtype: Any = np.float32,
    ) -> None:
        super().__init__()
        for label, n in (("num_embeddings", num_embeddings), ("embedding_dim", embedding_dim)):
            if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n <= 0:
                raise ValueError(f"Embedding: {label} must be a positive integer, got {n!r}")
        self.num_embeddings, self.embedding_dim = int(num_embeddings), int(embedding_dim)
        table = _rng(rng).standard_normal((num_embeddings, embedding_dim))
        self.weight = Parameter(table.astype(dtype))

    def forward(self, indices: Any) -> Tensor:
        return F.embedding(indices, self.weight)

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}"


class LayerNorm(Module):
    """Layer normalisation over the trailing ``normalized_shape`` with a learnable scale
    (ones) and shift (zeros): ``(x - mean) / sqrt(var + eps) * weight + bias``.

    ``bias=False`` leaves the shift out (nanoGPT's option).
    """

    def __init__(
        self,
        normalized_shape: int | tuple[int, ...],
        eps: float = 1e-5,
        bias: bool = True,
        dtype: Any = np.float32,
    ) -> None:
        super().__init__()
        shape = (
            (int(normalized_shape),)
            if isinstance(normalized_shape, (int, np.integer))
            else tuple(int(n) for n in normalized_shape)
        )
        self.normalized_shape, self.eps = shape, float(eps)
        self.weight = Parameter(np.ones(shape, dtype=dtype))
        self.bias = Parameter(np.zeros(shape, dtype=dtype)) if bias else None

    def forward(self, x: Any) -> Tensor:
        return F.layer_norm(_to_tensor(x), self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}"


class GELU(Module):
    """``x * Phi(x)`` elementwise (``approximate="tanh"`` for GPT-2's tanh form)."""

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x: Any) -> Tensor:
        return F.gelu(_to_tensor(x), approximate=self.approximate)

    def extra_repr(self) -> str:
        return "" if self.approximate == "none" else f"approximate={self.approximate!r}"


class CausalSelfAttention(Module):
    """Multi-head self-attention where position ``t`` sees positions ``<= t`` (nanoGPT's).

    Input and output ``(B, T, C)`` with ``C = n_embd``. The linear layer ``c_attn`` (its weight
    ``(3C, C)``, nanoGPT's layout) makes queries, keys and values, each ``(B, T, C)`` from its
    third of the rows; each is split into ``n_head`` heads of size
    ``C / n_head`` ``(B, n_head, T, hs)``; ``F.scaled_dot_product_attention(is_causal=True)``
    mixes the values; the heads are joined again and projected by ``c_proj``.
    """

    def __init__(
        self,
        n_embd: int,
        n_head: int,
        bias: bool = True,
        dropout: float = 0.0,
        rng: np.random.Generator | int | None = None,
    ) -> None:
        super().__init__()
        if n_embd % n_head:
            raise ValueError(
                f"CausalSelfAttention: n_embd={n_embd} is not divisible by n_head={n_head}"
            )
        self.n_embd, self.n_head = n_embd, n_head
        gen = _rng(rng)
        self.c_attn = Linear(n_embd, 3 * n_embd, bias=bias, rng=gen)
        self.c_proj = Linear(n_embd, n_embd, bias=bias, rng=gen)
        self.resid_dropout = Dropout(dropout, rng=gen)

    def forward(self, x: Any) -> Tensor:
        x = _to_tensor(x)
        if x.ndim != 3 or x.shape[-1] != self.n_embd:
            raise ValueError(
                f"CausalSelfAttention expects (B, T, {self.n_embd}) inputs, got {x.shape}"
            )
        b, t, c = x.shape
        h = self.n_head
        w, bias = self.c_attn.weight, self.c_attn.bias
        heads = []  # q, k, v: rows [0, C), [C, 2C), [2C, 3C) of c_attn, each (B, h, T, hs)
        for i in range(3):
            rows = slice(i * c, (i + 1) * c)
            part = (
                Affine.apply(x, w[rows]) if bias is None else Affine.apply(x, w[rows], bias[rows])
            )
            heads.append(part.reshape(b, t, h, c // h).transpose(0, 2, 1, 3))
        # (three products on slices of the weight cost the same as one on all of it, and their
        # backward adds three (B, T, C) gradients instead of scattering into a (B, T, 3C) one)
        y = F.scaled_dot_product_attention(*heads, is_causal=True)
        y = y.transpose(0, 2, 1, 3).reshape(b, t, c)  # heads side by side again
        return self.resid_dropout(self.c_proj(y))

    def extra_repr(self) -> str:
        return f"n_head={self.n_head}"


class TransformerBlock(Module):
    """A pre-norm transformer block (nanoGPT's ``Block``): with ``C = n_embd``,
    ``x = x + attn(ln_1(x))`` then ``x = x + mlp(ln_2(x))``, where ``attn`` is a
    :class:`CausalSelfAttention` and ``mlp`` is ``Linear(C, 4C) -> GELU -> Linear(4C, C)``
    (then ``Dropout``). Input and output ``(B, T, C)``.
    """

    def __init__(
        self,
        n_embd: int,
        n_head: int,
        bias: bool = True,
        dropout: float = 0.0,
        rng: np.random.Generator | int | None = None,
    ) -> None:
        super().__init__()
        gen = _rng(rng)
        self.ln_1 = LayerNorm(n_embd, bias=bias)
        self.attn = CausalSelfAttention(n_embd, n_head, bias=bias, dropout=dropout, rng=gen)
        self.ln_2 = LayerNorm(n_embd, bias=bias)
        self.mlp = Sequential(
            Linear(n_embd, 4 * n_embd, bias=bias, rng=gen),
            GELU(),
            Linear(4 * n_embd, n_embd, bias=bias, rng=gen),
            Dropout(dropout, rng=gen),
        )

    def forward(self, x: Any) -> Tensor:
        x = _to_tensor(x)
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


# ---------------------------------------------------------------------------------------------
# vision layers: convolution, pooling, batch norm


class Conv2d(Module):
    """2-D convolution of ``(N, in_channels, H, W)`` inputs, PyTorch's layout and initialisation.

    Parameters
    ----------
    in_channels, out_channels : int
    kernel_size : int or (int, int)
    stride, padding : int or (int, int)
    bias : bool
        Whether to add a learnable ``bias`` of shape ``(out_channels,)``.
    rng : Generator or int, optional
        Where the initial values come from (default: the generator of :func:`manual_seed`).
    dtype : numpy dtype
        float32 by default.

    Notes
    -----
    ``weight`` has shape ``(out_channels, in_channels, kh, kw)``. PyTorch's default
    initialisation: Kaiming-uniform with ``a = sqrt(5)``, which is ``U(-1/sqrt(fan_in),
    1/sqrt(fan_in))`` with ``fan_in = in_channels * kh * kw``, for the weight and the bias.
    The output is ``(N, out_channels, Ho, Wo)``, see :func:`functional.conv2d`.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] = 0,
        bias: bool = True,
        rng: np.random.Generator | int | None = None,
        dtype: Any = np.float32,
    ) -> None:
        super().__init__()
        for label, n in (("in_channels", in_channels), ("out_channels", out_channels)):
            if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n <= 0:
                raise ValueError(f"Conv2d: {label} must be a positive integer, got {n!r}")
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size = pair(kernel_size, "Conv2d: kernel_size")
        self.stride = pair(stride, "Conv2d: stride")
        self.padding = pair(padding, "Conv2d: padding", 0)
        gen = _rng(rng)
        fan_in = self.in_channels * self.kernel_size[0] * self.kernel_size[1]
        bound = 1.0 / math.sqrt(fan_in)
        shape = (self.out_channels, self.in_channels, *self.kernel_size)
        self.weight = Parameter(gen.uniform(-bound, bound, size=shape).astype(dtype))
        self.bias = (
            Parameter(gen.uniform(-bound, bound, size=(out_channels,)).astype(dtype))
            if bias
            else None
        )

    def forward(self, x: Any) -> Tensor:
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding)

    def extra_repr(self) -> str:
        text = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}"
        if self.stride != (1, 1):
            text += f", stride={self.stride}"
        if self.padding != (0, 0):
            text += f", padding={self.padding}"
        return text + ("" if self.bias is not None else ", bias=False")


class _Pool2d(Module):
    function: Any = None

    def __init__(
        self,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] | None = None,
        padding: int | tuple[int, int] = 0,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        self.kernel_size = pair(kernel_size, f"{name}: kernel_size")
        self.stride = self.kernel_size if stride is None else pair(stride, f"{name}: stride")
        self.padding = pair(padding, f"{name}: padding", 0)

    def forward(self, x: Any) -> Tensor:
        return type(self).function(x, self.kernel_size, self.stride, self.padding)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxPool2d(_Pool2d):
    """The maximum of each window (see :func:`functional.max_pool2d`); stride defaults to the
    kernel size."""

    function = staticmethod(F.max_pool2d)


class AvgPool2d(_Pool2d):
    """The mean of each window, padded zeros included (see :func:`functional.avg_pool2d`);
    stride defaults to the kernel size."""

    function = staticmethod(F.avg_pool2d)


_BATCH_NORM_DOC = """

    Normalises over every axis but the channels (axis 1), with PyTorch's running statistics:
    ``y = (x - mean) / sqrt(var + eps) * weight + bias`` (see :func:`functional.batch_norm`).
    Starts in training mode (batch statistics); ``eval()`` switches to the running ones.

    Parameters
    ----------
    num_features : int
        The number of channels ``C``.
    eps : float
        Added to the variance before the square root.
    momentum : float
        ``running = (1 - momentum) running + momentum batch`` at each training step (the batch
        variance is the unbiased one there, the normalisation uses the biased one).
    affine : bool
        Learnable ``weight`` (ones) and ``bias`` (zeros) of shape ``(C,)``.
    track_running_stats : bool
        Keep ``running_mean`` (zeros) and ``running_var`` (ones) as buffers (saved in
        ``state_dict``) and use them in eval mode; without them eval mode uses the batch's.
    """


class _BatchNorm(Module):
    __doc__ = "Shared by BatchNorm1d and BatchNorm2d." + _BATCH_NORM_DOC
    dims: tuple[int, ...] = ()

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        dtype: Any = np.float32,
    ) -> None:
        super().__init__()
        if not isinstance(num_features, (int, np.integer)) or num_features <= 0:
            raise ValueError(
                f"{type(self).__name__}: num_features must be a positive integer, "
                f"got {num_features!r}"
            )
        self.num_features, self.eps, self.momentum = int(num_features), float(eps), float(momentum)
        self.weight = Parameter(np.ones(num_features, dtype)) if affine else None
        self.bias = Parameter(np.zeros(num_features, dtype)) if affine else None
        self.track_running_stats = bool(track_running_stats)
        if track_running_stats:
            self.register_buffer("running_mean", np.zeros(num_features, dtype))
            self.register_buffer("running_var", np.ones(num_features, dtype))

    def forward(self, x: Any) -> Tensor:
        x = _to_tensor(x)
        name = type(self).__name__
        if x.ndim not in self.dims or x.shape[1] != self.num_features:
            shapes = " or ".join(
                "(N, C" + ", L" * (d == 3) + ", H, W" * (d == 4) + ")" for d in self.dims
            )
            raise ValueError(
                f"{name}({self.num_features}) expects an input of shape {shapes} with "
                f"C = {self.num_features}, got {x.shape}"
            )
        tracked = self.track_running_stats
        return F.batch_norm(
            x,
            self.running_mean if tracked else None,
            self.running_var if tracked else None,
            self.weight,
            self.bias,
            training=self.training or not tracked,
            momentum=self.momentum,
            eps=self.eps,
        )

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps:g}, momentum={self.momentum:g}"


class BatchNorm1d(_BatchNorm):
    __doc__ = "Batch norm of ``(N, C)`` or ``(N, C, L)`` inputs." + _BATCH_NORM_DOC
    dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    __doc__ = "Batch norm of ``(N, C, H, W)`` inputs." + _BATCH_NORM_DOC
    dims = (4,)


# ---------------------------------------------------------------------------------------------
# losses


class CrossEntropyLoss(Module):
    """Softmax cross-entropy between logits ``(N, C)`` and labels ``(N,)`` (or probability rows
    ``(N, C)``): :func:`tinygrad_ce.functional.cross_entropy` with fixed options.

    ``fused=True`` (default) records one ``SoftmaxCrossEntropy`` node whose backward is
    ``softmax - target``; ``fused=False`` composes primitives (max shift, exp, sum, log ...),
    each with its own rule. Both give the same value and gradient. ``weight``,
    ``ignore_index``, ``reduction`` and ``label_smoothing`` mean what they mean in PyTorch.
    """

    def __init__(
        self,
        weight: Any = None,
        ignore_index: int | None = None,
        reduction: str = "mean",
        label_smoothing: float = 0.0,
        fused: bool = True,
    ) -> None:
        super().__init__()
        F.check_reduction(reduction, "CrossEntropyLoss")
        if isinstance(weight, Tensor):
            if weight.requires_grad:
                raise ValueError(
                    "CrossEntropyLoss: `weight` is a constant and gets no gradient; pass "
                    "weight.detach() or an ndarray"
                )
            weight = weight.data.copy()
        self.weight = None if weight is None else np.array(weight)
        if self.weight is not None and (
            self.weight.ndim != 1 or self.weight.dtype.kind not in "fiu" or self.weight.size == 0
        ):
            raise ValueError(
                f"CrossEntropyLoss: weight must be one number per class, a 1-D array, got "
                f"shape {self.weight.shape} and dtype {self.weight.dtype}"
            )
        if ignore_index is not None and (
            not isinstance(ignore_index, (int, np.integer)) or isinstance(ignore_index, bool)
        ):
            raise TypeError(
                f"CrossEntropyLoss: ignore_index must be an int (a class index), got "
                f"{ignore_index!r}"
            )
        self.ignore_index = ignore_index
        self.reduction = reduction
        self.label_smoothing = float(label_smoothing)
        self.fused = bool(fused)

    def forward(self, logits: Any, target: Any) -> Tensor:
        return F.cross_entropy(
            logits if isinstance(logits, Tensor) else _to_tensor(logits),
            target,
            fused=self.fused,
            reduction=self.reduction,
            weight=self.weight,
            ignore_index=self.ignore_index,
            label_smoothing=self.label_smoothing,
        )

    def extra_repr(self) -> str:
        parts = [f"fused={self.fused}"]
        if self.reduction != "mean":
            parts.append(f"reduction={self.reduction!r}")
        if self.label_smoothing:
            parts.append(f"label_smoothing={self.label_smoothing}")
        if self.ignore_index is not None:
            parts.append(f"ignore_index={self.ignore_index}")
        if self.weight is not None:
            parts.append("weight=...")
        return ", ".join(parts)


class MSELoss(Module):
    """Mean squared error: ``mean((input - target) ** 2)`` (``reduction='sum'`` or ``'none'``):
    :func:`tinygrad_ce.functional.mse_loss` with a fixed reduction."""

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        F.check_reduction(reduction, "MSELoss")
        self.reduction = reduction

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.mse_loss(input, target, reduction=self.reduction)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


# ---------------------------------------------------------------------------------------------
# checkpoints

_FORMAT_KEY = "__tinygrad_ce_checkpoint__"


def save(module: Module, path: str | os.PathLike) -> None:
    """Write ``module.state_dict()`` to ``path`` as an ``.npz`` archive (no pickle).

    Each parameter is one ``NAME.npy`` member, whatever its name (even ``file`` or
    ``allow_pickle``, which ``np.savez`` would take as its own arguments). The file is written
    under a temporary name in the same folder and then moved into place, so an interrupted
    save never leaves half a checkpoint behind, and an earlier file at ``path`` stays intact
    until the new one is complete. The exact ``path`` is used (no ``.npz`` suffix is added).
    """
    state = module.state_dict()
    if _FORMAT_KEY in state:
        raise ValueError(f"a parameter may not be called {_FORMAT_KEY!r}")

    def write(f: Any) -> None:
        with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED) as archive:
            for name, value in {_FORMAT_KEY: np.array(1), **state}.items():
                with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
                    np.lib.format.write_array(member, np.asanyarray(value), allow_pickle=False)

    write_atomic(path, write)


def load(module: Module, path: str | os.PathLike, strict: bool = True) -> Module:
    """Load parameters saved by :func:`save` into ``module``; returns it.

    Uses ``np.load(allow_pickle=False)``, so an untrusted file cannot run code. Raises
    :class:`CheckpointError` if the file cannot be read as such a checkpoint, or if its names or
    shapes do not match the module (see :meth:`Module.load_state_dict`). ``FileNotFoundError``
    if there is no file.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no checkpoint file at {path!r}")
    if os.path.isdir(path):
        raise CheckpointError(f"{path!r} is a directory, not a checkpoint file")
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
    except OSError as err:
        raise CheckpointError(f"cannot read checkpoint {path!r}: {err.strerror or err}") from None
    if magic != b"PK\x03\x04":
        raise CheckpointError(
            f"{path!r} is not a tinygrad_ce checkpoint: it is not an .npz (zip) archive "
            f"(starts with {magic!r}); it may be corrupted or truncated"
        )
    try:
        archive = np.load(path, allow_pickle=False)
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise CheckpointError("it holds a single array, not an .npz archive")
        with archive:
            state = {key: archive[key] for key in archive.files}
    except CheckpointError as err:
        raise CheckpointError(f"{path!r} is not a tinygrad_ce checkpoint: {err}") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError, zlib.error) as err:
        raise CheckpointError(
            f"cannot read checkpoint {path!r} ({type(err).__name__}: {err}); it is corrupted or "
            "was not written by tinygrad_ce.nn.save"
        ) from None
    state.pop(_FORMAT_KEY, None)
    try:
        module.load_state_dict(state, strict=strict)
    except CheckpointError as err:
        raise CheckpointError(f"checkpoint {path!r} does not fit the model: {err}") from None
    return module


# ---------------------------------------------------------------------------------------------
# models, reachable as nn.MLP, nn.CNN, nn.LeNet, nn.GPT (imported on first use: models imports
# nn)

_MODELS = ("MLP", "CNN", "LeNet", "GPT", "GPTConfig")


def __getattr__(name: str) -> Any:
    if name in _MODELS:
        from . import models

        return getattr(models, name)
    raise AttributeError(f"module 'tinygrad_ce.nn' has no attribute {name!r}")
