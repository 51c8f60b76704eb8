"""Convolution and pooling (NCHW): im2col views, one BLAS matmul, and VJPs that are convolutions.

Layouts and semantics are PyTorch's: ``x`` is ``(N, C, H, W)``, a kernel ``W`` is
``(O, C, kh, kw)``, ``conv2d`` is a cross-correlation (the kernel is not flipped), output sizes
round down: ``Ho = (H + 2 ph - kh) // sh + 1``.

The rules, for stride 1 and no padding (``flip`` turns each kernel by 180 degrees, ``^T`` on a
kernel swaps its in and out channels, on an activation its batch and channel axes)::

    z  = conv2d(x, W) + b
    dx = conv2d(pad(g, k - 1), flip(W)^T)     the "full" correlation of g with the flipped kernel
    dW = conv2d(x^T, g^T)^T                   x correlated with g, summed over the batch
    db = sum(g, axis=(0, 2, 3))

A stride ``s`` puts ``s - 1`` zeros between the entries of ``g`` first (``dilate``) and a
padding ``p`` pads ``g`` by ``k - 1 - p`` instead. ``dx`` is the transposed convolution
(``conv_transpose2d(g, W)``) and ``dW`` is linear in ``x`` and in ``g``, so their own VJPs are
convolutions again: the three ops ``Conv2d``, ``Conv2dInputGrad`` and ``Conv2dWeightGrad`` are
closed under differentiation, which is what makes ``grad(..., create_graph=True)`` work.

On arrays the rules run as matrix products on the im2col matrix (saved by the forward), with a
loop over the ``kh * kw`` kernel offsets to add the columns back (``col2im``), never over pixels.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .. import symbolic as E
from ..autograd import Function, is_tensor
from .shape import scatter_add

Pair = tuple[int, int]


# ---------------------------------------------------------------------------------------------
# argument checks


def pair(value: Any, what: str, minimum: int = 1) -> Pair:
    """``3 -> (3, 3)``, ``(3, 2) -> (3, 2)``; raises naming ``what`` for anything else."""
    items = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    ok = len(items) == 2 and all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= minimum for v in items
    )
    if not ok:
        raise ValueError(f"{what} must be an integer >= {minimum} or a pair of them, got {value!r}")
    return int(items[0]), int(items[1])


def out_size(n: int, k: int, s: int, p: int) -> int:
    """The output length along one axis: ``(n + 2p - k) // s + 1`` (rounded down)."""
    return (n + 2 * p - k) // s + 1


def check_window(op: str, x_shape: tuple, kernel: Pair, padding: Pair, what: str = "") -> None:
    """Raise when the kernel does not fit in the padded input (naming both shapes)."""
    if len(x_shape) != 4:
        raise ValueError(f"{op} expects an input of shape (N, C, H, W), got {tuple(x_shape)}")
    padded = (x_shape[2] + 2 * padding[0], x_shape[3] + 2 * padding[1])
    if kernel[0] > padded[0] or kernel[1] > padded[1]:
        raise ValueError(
            f"{op}: kernel {kernel[0]}x{kernel[1]}{what} is larger than the padded input "
            f"{padded[0]}x{padded[1]} (input {tuple(x_shape)}, padding {padding}); "
            "use a smaller kernel or more padding"
        )


def check_conv(x_shape: tuple, w_shape: tuple, b_shape: tuple | None, padding: Pair) -> None:
    if len(w_shape) != 4:
        raise ValueError(f"conv2d expects a weight of shape (O, C, kh, kw), got {w_shape}")
    check_window("conv2d", x_shape, w_shape[2:], padding, f" (weight of shape {tuple(w_shape)})")
    if x_shape[1] != w_shape[1]:
        raise ValueError(
            f"conv2d: input of shape {tuple(x_shape)} has {x_shape[1]} channels but the weight "
            f"of shape {tuple(w_shape)} expects {w_shape[1]} (weight is (out, in, kh, kw))"
        )
    if b_shape is not None and tuple(b_shape) != (w_shape[0],):
        raise ValueError(
            f"conv2d: bias of shape {tuple(b_shape)} does not match the weight of shape "
            f"{tuple(w_shape)}: expected ({w_shape[0]},)"
        )


# ---------------------------------------------------------------------------------------------
# array kernels (im2col, col2im)


def _pad(x: np.ndarray, padding: Pair, value: float = 0.0) -> np.ndarray:
    ph, pw = padding
    if not ph and not pw:
        return x
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=value)


def windows(xp: np.ndarray, kernel: Pair, stride: Pair) -> np.ndarray:
    """The sliding windows of a padded ``(N, C, Hp, Wp)`` array: a ``(N, C, Ho, Wo, kh, kw)``
    view (no copy)."""
    view = sliding_window_view(xp, kernel, axis=(2, 3))
    return view[:, :, :: stride[0], :: stride[1]]


def im2col(x: np.ndarray, kernel: Pair, stride: Pair, padding: Pair) -> np.ndarray:
    """Every window of ``x`` as a row: ``(N * Ho * Wo, C * kh * kw)``, contiguous (one copy)."""
    win = windows(_pad(x, padding), kernel, stride)
    n, c, ho, wo, kh, kw = win.shape
    return win.transpose(0, 2, 3, 1, 4, 5).reshape(n * ho * wo, c * kh * kw)


def col2im(
    cols: np.ndarray, x_shape: tuple, kernel: Pair, stride: Pair, padding: Pair
) -> np.ndarray:
    """The adjoint of :func:`im2col`: add each row's entries back where they came from.

    ``cols`` is ``(N, Ho, Wo, C, kh, kw)``; returns ``(N, C, H, W)``. One slice-add per kernel
    offset (``kh * kw`` of them), each covering every window at once; the sums are made in an
    ``(N, H, W, C)`` buffer, whose layout matches the columns' (twice as fast as NCHW).
    """
    n, c, h, w = x_shape
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    _, ho, wo = cols.shape[:3]
    out = np.zeros((n, h + 2 * ph, w + 2 * pw, c), dtype=cols.dtype)
    for i in range(kh):
        for j in range(kw):
            out[:, i : i + sh * (ho - 1) + 1 : sh, j : j + sw * (wo - 1) + 1 : sw] += cols[
                ..., i, j
            ]
    if ph or pw:
        out = out[:, ph : ph + h, pw : pw + w]
    return out.transpose(0, 3, 1, 2)


def _rows(g: np.ndarray) -> np.ndarray:
    """``(N, O, Ho, Wo) -> (N * Ho * Wo, O)``: the upstream gradient as one row per window."""
    return g.transpose(0, 2, 3, 1).reshape(-1, g.shape[1])


def conv2d_array(
    x: np.ndarray, w: np.ndarray, stride: Pair, padding: Pair, b: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The forward on arrays: ``(z, im2col matrix)``."""
    o, _, kh, kw = w.shape
    n, _, h, wd = x.shape
    ho, wo = out_size(h, kh, stride[0], padding[0]), out_size(wd, kw, stride[1], padding[1])
    cols = im2col(x, (kh, kw), stride, padding)
    z = cols @ w.reshape(o, -1).T  # (N Ho Wo, O): the one matmul
    if b is not None:
        z += b
    return z.reshape(n, ho, wo, o).transpose(0, 3, 1, 2), cols


def input_grad_array(
    g: np.ndarray,
    w: np.ndarray,
    x_shape: tuple,
    stride: Pair,
    padding: Pair,
    rows: np.ndarray | None = None,
) -> np.ndarray:
    """``conv_transpose2d(g, W)``: the gradient of ``conv2d(x, W)`` with respect to ``x``.

    ``rows`` is ``g`` as ``(N Ho Wo, O)`` when the caller has it already."""
    o, c, kh, kw = w.shape
    n, _, ho, wo = g.shape
    rows = _rows(g) if rows is None else rows
    cols = (rows @ w.reshape(o, -1)).reshape(n, ho, wo, c, kh, kw)
    return col2im(cols, x_shape, (kh, kw), stride, padding)


def weight_grad_array(
    x: np.ndarray,
    g: np.ndarray,
    w_shape: tuple,
    stride: Pair,
    padding: Pair,
    cols: np.ndarray | None = None,
    rows: np.ndarray | None = None,
) -> np.ndarray:
    """``x`` correlated with ``g`` over the batch: the gradient of ``conv2d(x, W)`` wrt ``W``.

    ``cols`` is the forward's im2col matrix of ``x`` and ``rows`` ``g`` as ``(N Ho Wo, O)``,
    when the caller has them already."""
    cols = im2col(x, w_shape[2:], stride, padding) if cols is None else cols
    rows = _rows(g) if rows is None else rows
    return (rows.T @ cols).reshape(w_shape)


# ---------------------------------------------------------------------------------------------
# the three differentiable convolutions (each one's VJPs are the other two)


def conv2d(x: Any, w: Any, stride: Pair, padding: Pair) -> Any:
    """``conv2d(x, W)`` (no bias) of arrays, or the recorded op when either is a Tensor."""
    if is_tensor(x) or is_tensor(w):
        return Conv2d.apply(x, w, stride=stride, padding=padding)
    return conv2d_array(x, w, stride, padding)[0]


def conv2d_input_grad(g: Any, w: Any, x_shape: tuple, stride: Pair, padding: Pair) -> Any:
    """``conv_transpose2d(g, W)`` back to ``x_shape``, on arrays or as a recorded op."""
    if is_tensor(g) or is_tensor(w):
        return Conv2dInputGrad.apply(g, w, x_shape=x_shape, stride=stride, padding=padding)
    return input_grad_array(g, w, x_shape, stride, padding)


def conv2d_weight_grad(x: Any, g: Any, w_shape: tuple, stride: Pair, padding: Pair) -> Any:
    """``x`` correlated with ``g`` (the kernel's gradient), on arrays or as a recorded op."""
    if is_tensor(x) or is_tensor(g):
        return Conv2dWeightGrad.apply(x, g, w_shape=w_shape, stride=stride, padding=padding)
    return weight_grad_array(x, g, w_shape, stride, padding)


def _geometry(kernel: Pair, stride: Pair, padding: Pair) -> str:
    text = f"{kernel[0]}x{kernel[1]}"
    if stride != (1, 1):
        text += f", stride {_pair_text(stride)}"
    if padding != (0, 0):
        text += f", padding {_pair_text(padding)}"
    return text


def _pair_text(p: Pair) -> str:
    return str(p[0]) if p[0] == p[1] else f"{p[0]}x{p[1]}"


def _dilated(g: E.Expr, stride: Pair) -> E.Expr:
    return g if stride == (1, 1) else E.call("dilate", g, E.atom(_pair_text(stride)))


def _full_pad(kernel: Pair, padding: Pair) -> str:
    return _pair_text((kernel[0] - 1 - padding[0], kernel[1] - 1 - padding[1]))


class _Conv(Function):
    """Shared by the three convolutions: the geometry (stride, padding) and how it is shown."""

    stride: Pair
    padding: Pair
    kernel: Pair

    def _input_rule(self, g: E.Expr, w: E.Expr) -> E.Expr:
        """``conv2d(pad(dilate(g, s), k - 1 - p), flip(W)^T)``, with this node's numbers."""
        padded = E.call(
            "pad", _dilated(g, self.stride), E.atom(_full_pad(self.kernel, self.padding))
        )
        return E.call("conv2d", padded, E.T(E.call("flip", w)))

    def _weight_rule(self, x: E.Expr, g: E.Expr) -> E.Expr:
        """``conv2d(pad(x, p)^T, dilate(g, s)^T)^T``: x correlated with g over the batch."""
        xp = x if self.padding == (0, 0) else E.call("pad", x, E.atom(_pair_text(self.padding)))
        return E.T(E.call("conv2d", E.T(xp), E.T(_dilated(g, self.stride))))

    def detail(self) -> str:
        s, p = _pair_text(self.stride), _pair_text(self.padding)
        return f"kernel {self.kernel[0]}x{self.kernel[1]}, stride {s}, padding {p}"

    def _conv_expr(self, x: E.Expr, w: E.Expr) -> E.Expr:
        geometry = _geometry(self.kernel, self.stride, self.padding)
        return E.atom(f"conv2d({x.render()}, {w.render()}; {geometry})")


class Conv2d(_Conv):
    """2-D cross-correlation of ``x (N, C, H, W)`` with ``W (O, C, kh, kw)``, plus ``b (O,)``.

    ``flip(W)`` turns each kernel by 180 degrees and ``^T`` swaps a kernel's in/out channels (an
    activation's batch/channel axes); ``pad`` by ``k - 1`` (minus the padding), and with a
    stride ``s`` the gradient is first dilated by ``s`` (zeros between its entries).
    Output ``(N, O, Ho, Wo)`` with ``Ho = (H + 2 ph - kh) // sh + 1``.
    """

    args, formula = ("x", "W", "b"), "conv2d(x, W) + b"
    vjp = (
        "dx = conv2d(pad(g), flip(W)^T)",
        "dW = conv2d(x^T, g^T)^T",
        "db = sum(g, axis=(0, 2, 3))",
    )

    def rules(self):
        return self.vjp[: len(getattr(self, "inputs", self.vjp))]  # no bias: no db rule

    def detail(self) -> str:
        shape = "x".join(map(str, self.w_shape))
        s, p = _pair_text(self.stride), _pair_text(self.padding)
        return f"W {shape}, stride {s}, padding {p}"

    def forward(self, x, w, b=None, stride=(1, 1), padding=(0, 0)):
        check_conv(x.shape, w.shape, None if b is None else np.shape(b), padding)
        self.stride, self.padding, self.kernel = stride, padding, w.shape[2:]
        self.w_shape = w.shape
        z, self.cols = conv2d_array(x, w, stride, padding, b)
        return z

    def backward(self, g, out, x, w, b=None):
        needs, stride, padding = self.needs, self.stride, self.padding
        if is_tensor(g):  # a graph of the backward: the rules as recorded convolutions
            dx = conv2d_input_grad(g, w, x.shape, stride, padding) if needs[0] else None
            dw = conv2d_weight_grad(x, g, w.shape, stride, padding) if needs[1] else None
        else:  # arrays: share the gradient's rows and the saved im2col matrix
            rows = _rows(g)
            dx = input_grad_array(g, w, x.shape, stride, padding, rows) if needs[0] else None
            dw = (
                weight_grad_array(x, g, w.shape, stride, padding, self.cols, rows)
                if needs[1]
                else None
            )
        if len(needs) == 2:
            return dx, dw
        return dx, dw, (g.sum(axis=(0, 2, 3)) if needs[2] else None)

    def formula_expr(self, args, namer=None):
        z = self._conv_expr(args[0], args[1])
        return E.add(z, args[2]) if len(args) > 2 else z

    def vjp_exprs(self, g, args, out, namer=None):
        x, w = args[0], args[1]
        grads = [
            self._input_rule(g, w),
            self._weight_rule(x, g),
            E.atom(f"sum({g.render()}, axis=(0, 2, 3))"),
        ]
        return grads[: len(args)]


class Conv2dInputGrad(_Conv):
    """The transposed convolution ``conv_transpose2d(y, W)``: ``Conv2d``'s rule for ``dx``.

    Linear in ``y`` and in ``W``; its VJPs are the forward convolution (for ``y``) and the
    kernel-gradient correlation (for ``W``).
    """

    args, formula, output = ("y", "W"), "conv_transpose2d(y, W)", "u"
    vjp = ("dy = conv2d(g, W)", "dW = conv2d(g^T, y^T)^T")

    def forward(self, y, w, x_shape, stride, padding):
        self.stride, self.padding, self.kernel = stride, padding, w.shape[2:]
        self.x_shape = tuple(x_shape)
        return input_grad_array(y, w, self.x_shape, stride, padding)

    def backward(self, g, out, y, w):
        needs, stride, padding = self.needs, self.stride, self.padding
        dy = conv2d(g, w, stride, padding) if needs[0] else None
        dw = conv2d_weight_grad(g, y, w.shape, stride, padding) if needs[1] else None
        return dy, dw

    def formula_expr(self, args, namer=None):
        return self._input_rule(args[0], args[1])

    def vjp_exprs(self, g, args, out, namer=None):
        return [self._conv_expr(g, args[1]), self._weight_rule(g, args[0])]


class Conv2dWeightGrad(_Conv):
    """``x`` correlated with ``y`` over the batch: ``Conv2d``'s rule for ``dW``.

    Linear in ``x`` and in ``y``; its VJPs are a transposed convolution (for ``x``) and the
    forward convolution (for ``y``).
    """

    args, formula, output = ("x", "y"), "conv2d(x^T, y^T)^T", "u"
    vjp = ("dx = conv_transpose2d(y, g)", "dy = conv2d(x, g)")

    def forward(self, x, y, w_shape, stride, padding):
        self.stride, self.padding, self.kernel = stride, padding, tuple(w_shape[2:])
        self.w_shape = tuple(w_shape)
        return weight_grad_array(x, y, self.w_shape, stride, padding)

    def backward(self, g, out, x, y):
        needs, stride, padding = self.needs, self.stride, self.padding
        dx = conv2d_input_grad(y, g, x.shape, stride, padding) if needs[0] else None
        dy = conv2d(x, g, stride, padding) if needs[1] else None
        return dx, dy

    def formula_expr(self, args, namer=None):
        return self._weight_rule(args[0], args[1])

    def vjp_exprs(self, g, args, out, namer=None):
        return [self._input_rule(args[1], g), self._conv_expr(args[0], g)]


# ---------------------------------------------------------------------------------------------
# pooling


class _Pool(Function):
    args = ("x",)
    fname = ""  # the functional name, for messages and formulas
    kernel: Pair
    stride: Pair
    padding: Pair

    def _setup(self, x: np.ndarray, kernel: Pair, stride: Pair, padding: Pair) -> None:
        op = self.fname
        check_window(op, x.shape, kernel, padding)
        if padding[0] > kernel[0] // 2 or padding[1] > kernel[1] // 2:
            raise ValueError(
                f"{op}: padding {padding} must be at most half the kernel {kernel} "
                "(a window would hold padding only)"
            )
        self.kernel, self.stride, self.padding = kernel, stride, padding
        self.in_shape = x.shape

    def detail(self) -> str:
        s, p = _pair_text(self.stride), _pair_text(self.padding)
        return f"window {self.kernel[0]}x{self.kernel[1]}, stride {s}, padding {p}"

    def formula_expr(self, args, namer=None):
        geometry = _geometry(self.kernel, self.stride, self.padding)
        return E.atom(f"{self.fname}({args[0].render()}; {geometry})")


class MaxPool2d(_Pool):
    """The largest entry of each ``kh x kw`` window (padding counts as -inf).

    The gradient of each output goes to the entry that was the largest (the first one on ties,
    as in PyTorch): a scatter with fixed indices, so it is linear in ``g``.
    """

    formula, vjp = "max_pool2d(x)", ("dx = g scattered to each window's argmax",)
    fname = "max_pool2d"

    def forward(self, x, kernel, stride, padding):
        self._setup(x, kernel, stride, padding)
        xp = _pad(x, padding, -np.inf)
        win = windows(xp, kernel, stride)
        n, c, ho, wo, kh, kw = win.shape
        flat = win.reshape(n, c, ho, wo, kh * kw)  # one copy
        arg = flat.argmax(axis=-1)
        out = flat.max(axis=-1)
        # where each maximum sits in the padded input, as one flat index
        rows = np.arange(ho)[:, None] * stride[0] + arg // kw
        cols = np.arange(wo)[None, :] * stride[1] + arg % kw
        base = (np.arange(n * c) * (xp.shape[2] * xp.shape[3])).reshape(n, c, 1, 1)
        self.index = (base + rows * xp.shape[3] + cols).reshape(-1)
        self.padded_shape = xp.shape
        return out

    def backward(self, g, out, x):
        size = int(np.prod(self.padded_shape))
        flat = g.reshape((-1,))
        if is_tensor(g):
            dxp = scatter_add(flat, self.index, (size,))
        elif self.stride[0] >= self.kernel[0] and self.stride[1] >= self.kernel[1]:
            dxp = np.zeros(size, dtype=g.dtype)  # windows do not overlap: no index repeats
            dxp[self.index] = flat
        else:
            dxp = np.bincount(self.index, weights=flat, minlength=size).astype(g.dtype)
        dxp = dxp.reshape(self.padded_shape)
        (ph, pw), (h, w) = self.padding, self.in_shape[2:]
        if ph or pw:
            dxp = dxp[:, :, ph : ph + h, pw : pw + w]
        return (dxp,)

    def vjp_exprs(self, g, args, out, namer=None):
        return [E.call("scatter_to_argmax", g)]


class AvgPool2d(_Pool):
    """The mean of each ``kh x kw`` window; padded zeros count (``count_include_pad=True``).

    Average pooling is a convolution of each channel with the constant kernel
    ``ones(kh, kw) / (kh kw)``, so its VJP is that kernel's transposed convolution.
    """

    formula, vjp = "avg_pool2d(x)", ("dx = conv_transpose2d(g, ones(k) / k^2)",)
    fname = "avg_pool2d"

    def forward(self, x, kernel, stride, padding):
        self._setup(x, kernel, stride, padding)
        win = windows(_pad(x, padding), kernel, stride)
        return win.sum(axis=(4, 5)) * x.dtype.type(1.0 / (kernel[0] * kernel[1]))

    def backward(self, g, out, x):
        n, c, h, w = self.in_shape
        kh, kw = self.kernel
        box = np.full((1, 1, kh, kw), 1.0 / (kh * kw), dtype=x.dtype)
        per_channel = g.reshape((n * c, 1) + tuple(g.shape[2:]))
        dx = conv2d_input_grad(per_channel, box, (n * c, 1, h, w), self.stride, self.padding)
        return (dx.reshape(self.in_shape),)

    def vjp_exprs(self, g, args, out, namer=None):
        k = f"{self.kernel[0]}x{self.kernel[1]}"
        return [
            E.call("conv_transpose2d", g, E.atom(f"ones({k}) / {self.kernel[0] * self.kernel[1]}"))
        ]
