"""Functional API (imported as ``F``): activations, softmax family and the losses.

Everything here takes and returns Tensors and is composed of the primitive ops in ``ops/``
(``cross_entropy(fused=True)`` records the one fused ``ops.SoftmaxCrossEntropy`` node).

The cross-entropy story in one place
------------------------------------
For logits ``z`` (classes on the last axis) and a target row ``t``::

    log p  = z - logsumexp(z)                       (log_softmax)
    loss   = -sum_c t_c log p_c = sum(t) * logsumexp(z) - sum_c t_c z_c
    dloss/dz = sum(t) * softmax(z) - t              (= softmax(z) - t when t sums to 1)

``cross_entropy(..., fused=False)`` composes the first two lines from primitive nodes, each
with its own VJP; ``fused=True`` records one ``SoftmaxCrossEntropy`` node whose backward is the
third line.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np

from .ops.conv import AvgPool2d, Conv2d, MaxPool2d, pair
from .ops.elementwise import GELU, Where
from .ops.loss import (
    SoftmaxCrossEntropy,
    Target,
    check_weight,
    log_softmax_of,
    read_target,
    softmax_of,
)
from .ops.norm import BatchNorm, LayerNorm
from .ops.reduce import normalize_axis, stable_shift
from .ops.shape import Concat, Embedding, scatter_add
from .tensor import Tensor

Reduction = Literal["mean", "sum", "none"]
_REDUCTIONS = ("mean", "sum", "none")

__all__ = [
    "SoftmaxCrossEntropy",
    "avg_pool2d",
    "batch_norm",
    "cat",
    "conv2d",
    "cross_entropy",
    "embedding",
    "gelu",
    "layer_norm",
    "log_softmax",
    "logsumexp",
    "max_pool2d",
    "mse_loss",
    "relu",
    "scaled_dot_product_attention",
    "sigmoid",
    "softmax",
    "stack",
    "tanh",
    "where",
]


# ---------------------------------------------------------------------------------------------
# small helpers


def _tensor(x: Any, what: str) -> Tensor:
    """``x`` as a Tensor (no copy when it already is one)."""
    return x if isinstance(x, Tensor) else Tensor(x)


def _float_tensor(x: Any, what: str) -> Tensor:
    """``x`` as a floating-point Tensor; integer or boolean data is an error, not a cast."""
    t = _tensor(x, what)
    if t.dtype.kind != "f":
        raise TypeError(
            f"{what} must be floating point, got dtype {t.dtype} (shape {t.shape}); "
            f"convert it first, e.g. `x.astype(np.float32)`"
        )
    return t


def _check_axis(x: Tensor, axis: Any, what: str) -> None:
    if x.ndim == 0:
        normalize_axis(axis, 0)  # axis 0, -1 or None of a 0-d tensor: the value itself
        return
    axes = (axis,) if isinstance(axis, (int, np.integer)) else axis
    if axes is not None:
        for a in axes:
            if not -x.ndim <= a < x.ndim:
                raise ValueError(
                    f"{what}: axis {a} is out of range for a tensor of shape {x.shape}"
                )


# ---------------------------------------------------------------------------------------------
# activations


def relu(x: Any) -> Tensor:
    """``max(x, 0)`` elementwise; the gradient is ``g * (x > 0)``."""
    return _float_tensor(x, "relu input").relu()


def tanh(x: Any) -> Tensor:
    """``tanh(x)`` elementwise; the gradient is ``g * (1 - tanh(x)**2)``."""
    return _float_tensor(x, "tanh input").tanh()


def sigmoid(x: Any) -> Tensor:
    """``1 / (1 + exp(-x))`` elementwise, stable for large ``|x|``; gradient ``g * s * (1 - s)``."""
    return _float_tensor(x, "sigmoid input").sigmoid()


# ---------------------------------------------------------------------------------------------
# softmax family (composed of primitive nodes, so they are differentiable to any order)


def softmax(x: Any, axis: int = -1) -> Tensor:
    """Softmax along ``axis``: ``exp(x - m) / sum(exp(x - m))`` with ``m`` the max (a constant).

    Parameters
    ----------
    x : Tensor, shape (..., C, ...)
        Floating-point scores.
    axis : int
        The axis that sums to one.

    Returns
    -------
    Tensor of ``x``'s shape. Stable for large inputs: the largest entry of each slice becomes
    ``exp(0) = 1`` before dividing, so nothing overflows.
    """
    x = _float_tensor(x, "softmax input")
    _check_axis(x, axis, "softmax")
    if x.dtype == np.float16:  # sums of many float16 terms overflow: work in float32
        return softmax_of(x.astype(np.float32), axis).astype(np.float16)
    return softmax_of(x, axis)


def logsumexp(x: Any, axis: int | tuple[int, ...] | None = -1, keepdims: bool = False) -> Tensor:
    """``log(sum(exp(x), axis))`` computed as ``m + log(sum(exp(x - m)))``, ``m`` the max.

    Parameters
    ----------
    x : Tensor
        Floating-point values.
    axis : int, tuple of ints or None
        Axes to reduce (None: all).
    keepdims : bool
        Keep the reduced axes with length 1.

    Returns
    -------
    Tensor with ``axis`` removed (or of length 1 with ``keepdims``). Its gradient is
    ``softmax(x, axis)`` times the upstream gradient.
    """
    x = _float_tensor(x, "logsumexp input")
    _check_axis(x, axis, "logsumexp")
    if x.dtype == np.float16:  # sums of many float16 terms overflow: work in float32
        return logsumexp(x.astype(np.float32), axis, keepdims).astype(np.float16)
    if x.ndim == 0:
        return x * 1.0  # log(exp(x)): the value itself, still a node of the graph
    m = stable_shift(x._data, axis)
    out = (x - m).exp().sum(axis=axis, keepdims=True).log() + m
    if keepdims:
        return out
    return out.reshape(np.squeeze(m, axis=axis).shape)


def log_softmax(x: Any, axis: int = -1) -> Tensor:
    """``x - logsumexp(x, axis)``: log-probabilities, stable for large inputs.

    Parameters
    ----------
    x : Tensor, shape (..., C, ...)
    axis : int

    Returns
    -------
    Tensor of ``x``'s shape whose ``exp`` sums to one along ``axis``.
    """
    x = _float_tensor(x, "log_softmax input")
    _check_axis(x, axis, "log_softmax")
    if x.dtype == np.float16:  # sums of many float16 terms overflow: work in float32
        return log_softmax_of(x.astype(np.float32), axis).astype(np.float16)
    return log_softmax_of(x, axis)


# ---------------------------------------------------------------------------------------------
# mean squared error


def _reduce(per_item: Tensor, reduction: str, denominator: float | None = None) -> Tensor:
    """The one reduction of every loss here: "none", "sum", or "mean" (``Tensor.mean``, or the
    sum divided by ``denominator`` when the items are weighted)."""
    if reduction == "none":
        return per_item
    if reduction == "mean" and denominator is None:
        return per_item.mean() if per_item.size else per_item.sum() * 0.0  # empty: 0, not NaN
    total = per_item.sum()
    if reduction == "sum":
        return total
    return total * (1.0 / denominator) if denominator else total * 0.0


def check_reduction(reduction: str, who: str = "") -> None:
    """Raise ValueError unless ``reduction`` is "mean", "sum" or "none" (the one check of it:
    losses here and in ``nn`` call this); ``who`` prefixes the message."""
    if reduction not in _REDUCTIONS:
        prefix = f"{who}: " if who else ""
        raise ValueError(f"{prefix}reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def mse_loss(pred: Any, target: Any, reduction: Reduction = "mean") -> Tensor:
    """Mean squared error ``(pred - target)**2``, reduced.

    Parameters
    ----------
    pred : Tensor, any shape
    target : Tensor or array of the same shape (no broadcasting: a (N, 1) vs (N,) mix-up is a
        classic silent bug, so it is an error here)
    reduction : "mean" | "sum" | "none"

    Returns
    -------
    A scalar Tensor, or one of ``pred``'s shape for ``"none"``. The gradient is
    ``2 (pred - target) / size`` for the mean.
    """
    check_reduction(reduction)
    pred = _float_tensor(pred, "mse_loss pred")
    target = target if isinstance(target, Tensor) else Tensor(np.asarray(target), dtype=pred.dtype)
    if target.shape != pred.shape:
        raise ValueError(
            f"mse_loss: pred has shape {pred.shape} but target has shape {target.shape}; "
            "they must match exactly (reshape one of them)"
        )
    diff = pred - target
    return _reduce(diff * diff, reduction)


# ---------------------------------------------------------------------------------------------
# cross-entropy: reading and checking the target once, for both paths


# ---------------------------------------------------------------------------------------------
# the composed (unfused) loss


def _cross_entropy_unfused(logits: Tensor, spec: Target, reduction: str) -> Tensor:
    """The loss as a chain of primitive nodes, each with its own VJP (read this to learn it).

    Nodes: Sub (max shift, a constant), Exp, Sum, Log, Sub (= log_softmax), then GetItem and
    Neg (class indices) or Mul, Sum, Neg (a target matrix), then the reduction (Sum, Mul).
    One row of logits, shape ``(C,)``, is the textbook's ``-sum(x * log_softmax(z))``: no
    reshape to ``(1, C)`` and back, and no sum or division for a mean over one row.
    """
    if not spec.batch_shape:
        return _cross_entropy_one_row(logits, spec, reduction)
    z = logits.reshape((spec.n, spec.classes))
    shifted = z - stable_shift(z._data, 1)  # the max is a constant: it cancels in the maths
    log_probs = shifted - shifted.exp().sum(axis=1, keepdims=True).log()
    if spec.plain:
        # plain labels: pick log p[n, y[n]] for each row n
        per_row = -log_probs[np.arange(spec.n), spec.y]
    else:
        # Ignored rows are left out (their loss is 0), and with class indices only the label
        # entries are read when there is no smoothing: a -inf logit elsewhere in a row then
        # never meets a zero weight (0 * -inf would make the loss NaN; the fused node and
        # PyTorch are finite there).
        kept = None if spec.ignored is None else np.flatnonzero(~spec.ignored)
        rows = log_probs if kept is None else log_probs[kept]
        if spec.kind == "index" and spec.b is None:
            y, a = (spec.y, spec.a) if kept is None else (spec.y[kept], spec.a[kept])
            per_row = -(rows[np.arange(len(y)), y] * a)
        else:
            if spec.kind == "index":
                tmat: Any = spec.dense(logits.dtype)  # a constant (N, C) target matrix
            else:
                tmat = spec.smoothed_probs(spec.probs.reshape((spec.n, spec.classes)))
            per_row = -(rows * (tmat if kept is None else tmat[kept])).sum(axis=1)
        if kept is not None:  # back to one entry per row, 0 for the ignored ones
            per_row = scatter_add(per_row, (kept,), (spec.n,))
    per_item = per_row.reshape(spec.batch_shape)
    if reduction == "mean" and not spec.denominator:
        return per_item.sum() * 0.0  # nothing to average: 0, not NaN (see cross_entropy)
    return _reduce(per_item, reduction, spec.denominator)


def _cross_entropy_one_row(z: Tensor, spec: Target, reduction: str) -> Tensor:
    """The composed loss for logits of shape ``(C,)``, as a teacher writes it on the board."""
    shifted = z - stable_shift(z.data, 0)  # the max is a constant: it cancels in the maths
    log_probs = shifted - shifted.exp().sum().log()
    if spec.plain:
        loss = -log_probs[int(spec.y[0])]
    else:
        tmat = spec.dense(z.dtype)[0] if spec.kind == "index" else spec.smoothed_probs(spec.probs)
        loss = -(log_probs * tmat).sum()
    if reduction != "mean" or spec.denominator == 1.0:
        return loss  # "none" and "sum" of one row, and the mean over one row, are the row's loss
    return loss * (1.0 / spec.denominator) if spec.denominator else loss * 0.0


# ---------------------------------------------------------------------------------------------
# public entry point


def cross_entropy(
    logits: Any,
    target: Any,
    *,
    fused: bool = True,
    reduction: Reduction = "mean",
    weight: Any = None,
    ignore_index: int | None = None,
    label_smoothing: float = 0.0,
) -> Tensor:
    """Softmax cross-entropy between ``logits`` and ``target``, with PyTorch's options.

    Parameters
    ----------
    logits : Tensor, shape (C,) or (..., C)
        Unnormalised scores, classes on the last axis; floating point.
    target : Tensor or array
        Either integer class indices of shape ``logits.shape[:-1]`` (a scalar for 1-D logits),
        or non-negative float rows of ``logits``' shape (probabilities, one-hot included). A
        row that does not sum to 1 is used as given: its loss is ``-sum_c t_c log p_c`` and
        the gradient ``sum(t) * softmax - t``. A probability target that requires grad gets
        a gradient (``-log p``, scaled as the loss).
    fused : bool
        True: one ``SoftmaxCrossEntropy`` node. False: a graph of primitive nodes. Same value
        and gradient (to rounding).
    reduction : "mean" | "sum" | "none"
        ``"none"`` gives one loss per row, shape ``logits.shape[:-1]``.
    weight : array of shape (C,), optional
        A non-negative weight per class (a constant). Row ``n``'s loss is multiplied by
        ``weight[y[n]]`` for class indices, or becomes ``-sum_c weight_c t_c log p_c`` for
        probabilities.
    ignore_index : int, optional
        Rows whose class index equals it count as zero and are left out of the mean (class
        indices only).
    label_smoothing : float in [0, 1]
        ``t = (1 - eps) t + eps / C`` before the loss.

    Returns
    -------
    Tensor: a scalar for "mean"/"sum", shape ``logits.shape[:-1]`` for "none".

    Notes
    -----
    "mean" divides by the sum of ``weight[y[n]]`` over non-ignored rows for class indices
    (their count without ``weight``), and by the number of rows for probabilities, as PyTorch
    does. When nothing is left to average (every target ignored, or an empty batch) "mean"
    returns 0 with a zero gradient, where PyTorch returns NaN.

    Raises
    ------
    TypeError for integer logits or a target of unsupported dtype; ValueError for a class
    index out of range, negative or non-finite probabilities, a target or weight of the wrong
    shape, an unknown reduction or a label_smoothing outside [0, 1].
    """
    if reduction not in _REDUCTIONS:
        check_reduction(reduction)
    if type(logits) is not Tensor or logits._data.dtype.kind != "f":
        logits = _float_tensor(logits, "cross_entropy logits")
    shape = logits._data.shape
    if not shape or shape[-1] == 0:
        raise ValueError(
            f"cross_entropy: logits must have shape (C,) or (..., C) with C >= 1 classes on the "
            f"last axis, got shape {shape}"
        )
    eps = float(label_smoothing)
    if not 0.0 <= eps <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got {eps}")
    if ignore_index is not None and (
        not isinstance(ignore_index, (int, np.integer)) or isinstance(ignore_index, bool)
    ):
        raise TypeError(
            f"cross_entropy: ignore_index must be an int (a class index, e.g. -100), got "
            f"{ignore_index!r}"
        )
    w = None if weight is None else check_weight(weight, shape[-1], logits._data.dtype)
    spec = read_target(logits, target, w, ignore_index, eps)
    if not fused:
        return _cross_entropy_unfused(logits, spec, reduction)
    if spec.kind == "prob":
        target_in = spec.probs
    else:  # the rule reads spec.y; a labels Tensor is passed only so graphs can show its name
        target_in = target if isinstance(target, Tensor) else spec.y
    return SoftmaxCrossEntropy.apply(logits, target_in, spec=spec, reduction=reduction)


# ---------------------------------------------------------------------------------------------
# selecting and joining


def where(cond: Any, a: Any, b: Any) -> Tensor:
    """``a`` where ``cond`` is True, ``b`` elsewhere (``np.where``, broadcasting).

    ``cond`` is a boolean array or Tensor, a constant with no gradient; ``a`` and ``b`` are
    Tensors or numbers. One ``Where`` node: ``da = where(cond, g, 0)``, ``db = where(cond, 0, g)``.
    """
    c = np.asarray(cond.data if isinstance(cond, Tensor) else cond)
    if c.dtype != bool:
        raise TypeError(f"where: cond must be boolean, got dtype {c.dtype} (shape {c.shape})")
    return Where.apply(a, b, cond=c)


def cat(tensors: Any, axis: int = 0) -> Tensor:
    """Join tensors along an existing ``axis`` (``np.concatenate``); one ``Concat`` node whose
    backward hands each input its slice of the upstream gradient."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("cat: needs a non-empty sequence of tensors")
    return Concat.apply(*[_tensor(t, "cat input") for t in tensors], axis=axis)


def stack(tensors: Any, axis: int = 0) -> Tensor:
    """Join same-shaped tensors along a new ``axis`` (``np.stack``): each gets a length-1
    axis (``Reshape``), then one ``Concat``."""
    tensors = [_tensor(t, "stack input") for t in tensors]
    if not tensors:
        raise ValueError("stack: needs a non-empty sequence of tensors")
    shape = tensors[0].shape
    for i, t in enumerate(tensors):
        if t.shape != shape:
            raise ValueError(f"stack: tensor {i} has shape {t.shape}, tensor 0 has {shape}")
    ndim = len(shape) + 1
    if not -ndim <= axis < ndim:
        raise ValueError(f"stack: axis {axis} is out of range for results with {ndim} axes")
    axis %= ndim
    new = shape[:axis] + (1,) + shape[axis:]
    return Concat.apply(*[t.reshape(new) for t in tensors], axis=axis)


# ---------------------------------------------------------------------------------------------
# language-model layers: embedding, layer norm, GELU, attention


def embedding(indices: Any, weight: Tensor) -> Tensor:
    """Look up rows of ``weight``: ``weight[indices]``.

    Parameters
    ----------
    indices : integer array or Tensor, any shape
        Row ids in ``[0, num_embeddings)``.
    weight : Tensor, shape (num_embeddings, dim)

    Returns
    -------
    Tensor of shape ``indices.shape + (dim,)``. One ``Embedding`` node; its VJP adds each row
    of ``g`` into row ``indices[i]`` of a zero table (repeated ids accumulate).
    """
    idx = np.asarray(indices.data if isinstance(indices, Tensor) else indices)
    return Embedding.apply(_float_tensor(weight, "embedding weight"), indices=idx)


def layer_norm(
    x: Any,
    normalized_shape: int | tuple[int, ...],
    weight: Any = None,
    bias: Any = None,
    eps: float = 1e-5,
) -> Tensor:
    """Normalise ``x`` over its last axes to zero mean and unit variance, then ``* w + b``.

    Parameters
    ----------
    x : Tensor, shape (..., *normalized_shape)
    normalized_shape : int or tuple of ints
        The trailing shape to normalise over (``C`` for ``(B, T, C)`` activations).
    weight, bias : Tensor of shape ``normalized_shape``, optional
    eps : float
        Added to the (biased) variance: ``y = (x - mean) / sqrt(var + eps) * w + b``.

    Returns
    -------
    Tensor of ``x``'s shape: one ``LayerNorm`` node (backward
    ``dx = r (gh - mean(gh) - xh mean(gh xh))``, ``gh = g w``, ``r = 1/sqrt(var + eps)``).
    """
    x = _float_tensor(x, "layer_norm input")
    norm = (
        (int(normalized_shape),)
        if isinstance(normalized_shape, (int, np.integer))
        else tuple(int(n) for n in normalized_shape)
    )
    k = len(norm)
    if k == 0 or x.shape[x.ndim - k :] != norm or x.ndim < k:
        raise ValueError(
            f"layer_norm: input of shape {x.shape} does not end with normalized_shape {norm}"
        )
    for label, p in (("weight", weight), ("bias", bias)):
        if p is not None and tuple(np.shape(p.data if isinstance(p, Tensor) else p)) != norm:
            raise ValueError(
                f"layer_norm: {label} must have shape {norm}, got "
                f"{np.shape(p.data if isinstance(p, Tensor) else p)}"
            )
    if weight is None and bias is None:
        return LayerNorm.apply(x, k=k, eps=eps)
    if weight is None:
        weight = np.ones(norm, dtype=x.dtype)
    if bias is None:
        return LayerNorm.apply(x, weight, k=k, eps=eps)
    return LayerNorm.apply(x, weight, bias, k=k, eps=eps)


def gelu(x: Any, approximate: Literal["none", "tanh"] = "none") -> Tensor:
    """Gaussian error linear unit ``x * Phi(x)``, ``Phi`` the standard normal CDF.

    ``approximate="none"`` uses ``Phi(x) = (1 + erf(x / sqrt 2)) / 2`` with an accurate ``erf``
    (W. J. Cody's rational approximations: about 1e-16 in float64); ``"tanh"`` uses
    ``(1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) / 2`` (GPT-2's, cheaper). One ``GELU`` node.
    """
    return GELU.apply(_float_tensor(x, "gelu input"), approximate=approximate)


def scaled_dot_product_attention(
    q: Any, k: Any, v: Any, attn_mask: Any = None, is_causal: bool = False
) -> Tensor:
    """Attention ``softmax(q @ k^T / sqrt(E) [masked]) @ v``, as ``torch.nn.functional``'s.

    Parameters
    ----------
    q : Tensor, shape (..., L, E)
    k : Tensor, shape (..., S, E)
    v : Tensor, shape (..., S, Ev)
        Leading (batch, head) axes broadcast.
    attn_mask : array or Tensor broadcastable to (..., L, S), optional
        Boolean: True where a query may attend (False entries get ``-inf`` before the softmax).
        Floating point: added to the scores.
    is_causal : bool
        Query ``i`` attends to keys ``j <= i`` only (the lower triangle, ``L x S``). Not
        together with ``attn_mask``.

    Returns
    -------
    Tensor of shape (..., L, Ev).

    Notes
    -----
    Built from primitives so ``explain`` shows every step: ``MatMul`` (scores), ``Mul`` (the
    ``1/sqrt(E)`` scale, applied to ``q``), ``Where`` (the mask), the softmax's ``Sub``, ``Exp``,
    ``Sum``, ``Div``, and ``MatMul`` with ``v``. A query row whose mask is all False gets
    zeros (as PyTorch), with a zero gradient.
    """
    q, k, v = (_float_tensor(t, f"attention {n}") for t, n in ((q, "q"), (k, "k"), (v, "v")))
    if q.ndim < 2 or k.ndim < 2 or v.ndim < 2:
        raise ValueError(
            f"scaled_dot_product_attention: q, k, v need shape (..., L, E); got {q.shape}, "
            f"{k.shape}, {v.shape}"
        )
    (ql, e), (s_len, ke), vs = q.shape[-2:], k.shape[-2:], v.shape[-2]
    if ke != e or vs != s_len:
        raise ValueError(
            f"scaled_dot_product_attention: q {q.shape}, k {k.shape} and v {v.shape} do not "
            "fit: q and k must share the last axis E, k and v the key axis S"
        )
    if is_causal and attn_mask is not None:
        raise ValueError("scaled_dot_product_attention: pass attn_mask or is_causal, not both")
    scores = (q * (1.0 / math.sqrt(e))) @ k.swapaxes(-1, -2)  # (..., L, S)
    keep = dead = None
    if is_causal:
        keep = _causal_mask(ql, s_len)
    elif attn_mask is not None:
        mask = np.asarray(attn_mask.data if isinstance(attn_mask, Tensor) else attn_mask)
        if mask.dtype == bool:
            keep = mask
        else:
            scores = scores + mask.astype(scores.dtype)
    if keep is not None:
        dead = ~keep.any(axis=-1, keepdims=True)  # rows with nothing to attend to
        if dead.any():
            keep = keep | dead  # a finite (uniform) softmax there, zeroed below
        else:
            dead = None
        name = "causal" if is_causal else "mask"
        scores = Where.apply(scores, -np.inf, cond=keep, cond_name=name)
    weights = softmax_of(scores, -1)
    if dead is not None:
        weights = Where.apply(0.0, weights, cond=dead, cond_name="empty_rows")
    return weights @ v


def _causal_mask(rows: int, cols: int) -> np.ndarray:
    """``[j <= i]``: the lower triangle of an (L, S) boolean matrix (PyTorch's ``is_causal``)."""
    return np.tri(rows, cols, dtype=bool)


# ---------------------------------------------------------------------------------------------
# vision: convolution, pooling, batch norm (NCHW, PyTorch's semantics)


def conv2d(x: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0) -> Tensor:
    """2-D convolution (a cross-correlation, as in PyTorch): one ``ops.Conv2d`` node.

    Parameters
    ----------
    x : Tensor, shape (N, C, H, W)
    weight : Tensor or array, shape (O, C, kh, kw)
    bias : Tensor or array, shape (O,), optional
    stride, padding : int or (int, int)
        Step between windows and zeros added on each side (per axis when a pair).

    Returns
    -------
    Tensor, shape (N, O, Ho, Wo), ``Ho = (H + 2 ph - kh) // sh + 1`` (likewise ``Wo``)::

        z[n, o, i, j] = b[o] + sum_{c, u, v} W[o, c, u, v] x_pad[n, c, i sh + u, j sw + v]

    The VJPs are convolutions too: ``dx = conv2d(pad(g, k - 1), flip(W)^T)`` (the full
    correlation with the flipped kernel) and ``dW = conv2d(x^T, g^T)^T`` (see ``ops.conv``).
    """
    x = _float_tensor(x, "conv2d input")
    stride, padding = pair(stride, "conv2d: stride"), pair(padding, "conv2d: padding", 0)
    inputs = (x, weight) if bias is None else (x, weight, bias)
    return Conv2d.apply(*inputs, stride=stride, padding=padding)


def _pool(op: type, x: Any, kernel_size: Any, stride: Any, padding: Any) -> Tensor:
    what = op.fname
    x = _float_tensor(x, f"{what} input")
    kernel = pair(kernel_size, f"{what}: kernel_size")
    stride = kernel if stride is None else pair(stride, f"{what}: stride")
    return op.apply(x, kernel=kernel, stride=stride, padding=pair(padding, f"{what}: padding", 0))


def max_pool2d(x: Any, kernel_size: Any, stride: Any = None, padding: Any = 0) -> Tensor:
    """The maximum of each window of ``x (N, C, H, W)``; padding counts as ``-inf``.

    ``kernel_size``, ``stride`` (default: the kernel size) and ``padding`` (at most half the
    kernel) are an int or a pair. Output ``(N, C, Ho, Wo)``, sizes rounded down. The gradient
    goes to each window's largest entry (the first on ties).
    """
    return _pool(MaxPool2d, x, kernel_size, stride, padding)


def avg_pool2d(x: Any, kernel_size: Any, stride: Any = None, padding: Any = 0) -> Tensor:
    """The mean of each window of ``x (N, C, H, W)``; padded zeros count in the mean.

    Arguments as :func:`max_pool2d`. The gradient spreads ``g / (kh kw)`` over each window (a
    transposed convolution with a constant kernel).
    """
    return _pool(AvgPool2d, x, kernel_size, stride, padding)


def batch_norm(
    x: Any,
    running_mean: Any = None,
    running_var: Any = None,
    weight: Any = None,
    bias: Any = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
    fused: bool = True,
) -> Tensor:
    """Batch normalisation over every axis but the channels (axis 1).

    Parameters
    ----------
    x : Tensor, shape (N, C), (N, C, L) or (N, C, H, W)
    running_mean, running_var : Tensor or array of shape (C,), optional
        Used instead of the batch statistics when ``training`` is False. When ``training`` is
        True they are updated in place, as in PyTorch: ``r = (1 - momentum) r + momentum s``
        with the batch mean, and the *unbiased* batch variance for ``running_var``.
    weight, bias : Tensor or array of shape (C,), optional
        The affine map applied after normalising (``gamma``, ``beta``).
    training : bool
        Normalise with the batch's statistics (True) or the running ones (False).
    fused : bool
        With batch statistics: True (default) records one ``ops.BatchNorm`` node with the
        compact backward ``dx = r (dxh - mean(dxh) - xh mean(dxh xh))``; False composes the
        value of primitive nodes (Sum, Sub, Mul, Pow, ...), each with its own rule. Same values
        and gradients, both differentiable again.

    Returns
    -------
    Tensor of ``x``'s shape::

        y = (x - mean) / sqrt(var + eps) * weight + bias     (var the biased batch variance)

    In eval mode (running statistics) it is an affine map with constant scale and shift.
    """
    x = _float_tensor(x, "batch_norm input")
    if x.ndim < 2:
        raise ValueError(f"batch_norm expects an input of shape (N, C, ...), got {x.shape}")
    channels = x.shape[1]
    for label, v in (("running_mean", running_mean), ("running_var", running_var),
                     ("weight", weight), ("bias", bias)):  # fmt: skip
        if v is not None and tuple(np.shape(v.data if isinstance(v, Tensor) else v)) != (channels,):
            raise ValueError(
                f"batch_norm: {label} of shape {np.shape(getattr(v, 'data', v))} does not match "
                f"the {channels} channels of the input of shape {x.shape}: expected ({channels},)"
            )
    axes = (0, *range(2, x.ndim))
    shape = (1, channels) + (1,) * (x.ndim - 2)
    use_batch = training or running_mean is None or running_var is None
    if use_batch:
        count = x.size // channels
        if training and count <= 1:
            raise ValueError(
                f"batch_norm: expected more than 1 value per channel when training, got an input "
                f"of shape {x.shape}"
            )
        if fused:
            if weight is None and bias is not None:
                weight = np.ones(channels, x.dtype)
            y = BatchNorm.apply(x, *[a for a in (weight, bias) if a is not None], eps=eps)
            node = y._ctx  # the node's statistics, when it was recorded
            stats = (node.mean, node.var) if node is not None else None
        else:
            mean = x.mean(axis=axes, keepdims=True)
            centered = x - mean
            var = (centered * centered).mean(axis=axes, keepdims=True)
            y = centered * (var + eps) ** -0.5
            stats = (mean.data.reshape(-1), var.data.reshape(-1))
        if training and (running_mean is not None or running_var is not None):
            if stats is None:
                stats = (x.data.mean(axis=axes), x.data.var(axis=axes))
            if running_mean is not None:
                _update_running(running_mean, stats[0], momentum)
            if running_var is not None:  # the unbiased variance, as PyTorch keeps
                _update_running(running_var, stats[1] * (count / (count - 1)), momentum)
        if fused:
            return y
    else:
        rm, rv = (
            v.data if isinstance(v, Tensor) else np.asarray(v) for v in (running_mean, running_var)
        )
        inv = (1.0 / np.sqrt(rv + eps)).astype(x.dtype).reshape(shape)
        y = (x - rm.astype(x.dtype).reshape(shape)) * inv
    if weight is not None:
        y = y * weight.reshape(shape)
    if bias is not None:
        y = y + bias.reshape(shape)
    return y


def _update_running(stat: Any, batch: np.ndarray, momentum: float) -> None:
    """``stat = (1 - momentum) stat + momentum batch``, in place (a Tensor's data or an array)."""
    old = stat.data if isinstance(stat, Tensor) else stat
    new = ((1.0 - momentum) * old + momentum * batch).astype(old.dtype)
    if isinstance(stat, Tensor):
        stat.data = new
    else:
        stat[...] = new
