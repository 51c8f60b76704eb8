"""``Tensor``: an ndarray that remembers how it was computed, so gradients can flow back.

The class only holds data and turns Python operators into ops (see ``ops/``); the engine that
runs the backward pass lives in ``autograd.py``. Imports flow one way: this module uses the
engine and the ops, and hands the class down to the engine (``autograd.use_tensor_class``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import autograd, ops

_SUPPORTED_KINDS = "fiub"  # float, signed int, unsigned int, bool


def _as_array(data: Any, dtype: Any) -> np.ndarray:
    """Like ``torch.tensor``: ndarrays keep their dtype, Python floats become float32."""
    if isinstance(data, Tensor):
        data = data._data
    if isinstance(data, (np.ndarray, np.generic)):
        arr = np.array(data, dtype=dtype, copy=True)
    else:
        arr = np.array(data, dtype=dtype)
        if dtype is None and arr.dtype == np.float64:
            arr = arr.astype(np.float32)
    if arr.dtype.kind not in _SUPPORTED_KINDS:
        raise TypeError(f"Tensor data must be numbers (float, int or bool), got dtype {arr.dtype}")
    return arr


class Tensor:
    """An n-dimensional array that records the ops applied to it for reverse-mode autodiff.

    Parameters
    ----------
    data : array_like
        Values. A float ndarray keeps its dtype; Python floats (and lists of them) become
        float32 and Python ints int64, as with ``torch.tensor``. The data is copied.
    requires_grad : bool
        Whether gradients should be computed for this tensor (floating dtypes only).
    dtype : numpy dtype, optional
        Force a dtype.
    name : str, optional
        A label, used by ``draw_graph`` and ``explain``.

    Examples
    --------
    >>> x = Tensor([[1.0, 2.0]], requires_grad=True)
    >>> (x * x).sum().backward()
    >>> x.grad
    array([[2., 4.]], dtype=float32)
    """

    __slots__ = ("_data", "_grad", "requires_grad", "_ctx", "name", "_retains_grad", "__weakref__")
    # Make numpy hand ``ndarray + Tensor`` over to Tensor.__radd__ instead of broadcasting
    # the Tensor as an object.
    __array_ufunc__ = None

    def __init__(
        self,
        data: Any,
        requires_grad: bool = False,
        dtype: Any = None,
        name: str | None = None,
    ) -> None:
        arr = _as_array(data, dtype)
        if requires_grad and arr.dtype.kind != "f":
            raise TypeError(
                f"only floating-point tensors can require gradients, got dtype {arr.dtype}; "
                "pass float data or dtype=np.float32"
            )
        self._data = arr
        self._grad: np.ndarray | None = None
        self.requires_grad = bool(requires_grad)
        self._ctx = None
        self.name = name
        self._retains_grad = False

    @staticmethod
    def _make(data: np.ndarray, requires_grad: bool, ctx: Any) -> Tensor:
        """Fast internal constructor used by ops: no checks, no copy."""
        return _make_tensor(data, requires_grad, ctx)

    # --- attributes -------------------------------------------------------------------------

    @property
    def data(self) -> np.ndarray:
        """The values, an ndarray you may write into. Assigning replaces them (same shape).

        While a recorded op holds these values for its backward pass, the tensor first takes a
        copy (copy-on-write), so a change made through this array cannot silently alter that
        op's gradient: the backward pass sees it and raises. See "Guarantees" in
        docs/engine.md.
        """
        a = self._data
        if a.flags.writeable:
            return a
        del a
        return autograd.writable_data(self)

    @data.setter
    def data(self, value: Any) -> None:
        value = value._data if isinstance(value, Tensor) else np.asarray(value)
        if value.shape != self._data.shape:
            raise ValueError(
                f"cannot assign data of shape {value.shape} to a tensor of shape {self._data.shape}"
            )
        if value is not self._data:
            self._data = _check_assigned(self, value, "data")

    @property
    def grad(self) -> np.ndarray | None:
        """The accumulated gradient (an ndarray of this tensor's shape and dtype) or None."""
        return self._grad

    @grad.setter
    def grad(self, value: Any) -> None:
        if value is not None:
            value = value._data if isinstance(value, Tensor) else np.asarray(value)
            if value.shape != self._data.shape:
                raise ValueError(
                    f"cannot assign a gradient of shape {value.shape} to a tensor of shape "
                    f"{self._data.shape}"
                )
            value = _check_assigned(self, value, "grad")
        self._grad = value

    @property
    def shape(self) -> tuple[int, ...]:
        return self._data.shape

    @property
    def ndim(self) -> int:
        return self._data.ndim

    @property
    def size(self) -> int:
        return self._data.size

    @property
    def dtype(self) -> np.dtype:
        return self._data.dtype

    @property
    def T(self) -> Tensor:
        """All axes reversed, as numpy's ``.T``."""
        return self.transpose()

    @property
    def is_leaf(self) -> bool:
        """True for tensors created by the user rather than by an op."""
        return self._ctx is None

    @property
    def grad_fn(self) -> Any:
        """The op (a ``Function``) that produced this tensor, or None for a leaf."""
        return self._ctx

    def __repr__(self) -> str:
        body = np.array2string(self._data, separator=", ", prefix="Tensor(")
        extra = []
        if self._data.dtype != np.float32:
            extra.append(f"dtype={self._data.dtype}")
        if self._ctx is not None:
            extra.append(f"grad_fn={self._ctx.name}")
        elif self.requires_grad:
            extra.append("requires_grad=True")
        if self.name:
            extra.append(f"name={self.name!r}")
        return f"Tensor({body}{''.join(', ' + e for e in extra)})"

    def __len__(self) -> int:
        return len(self._data)

    def __bool__(self) -> bool:
        return bool(self._data)

    def __float__(self) -> float:
        return float(self._data)

    def __int__(self) -> int:
        return int(self._data)

    # --- conversion -------------------------------------------------------------------------

    def numpy(self) -> np.ndarray:
        """The values as an ndarray (shares memory with the tensor, as ``.data``)."""
        return self.data

    def item(self) -> float | int | bool:
        """The single value of a one-element tensor as a Python number."""
        if self._data.size != 1:
            raise ValueError(
                f"item() needs a tensor with one element, this one has shape {self.shape}"
            )
        return self._data.item()

    def tolist(self) -> Any:
        return self._data.tolist()

    def detach(self) -> Tensor:
        """The same values, cut from the graph (no gradient flows through it)."""
        return _make_tensor(self._data, False, None)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set ``requires_grad`` in place (leaves only) and return self."""
        if requires_grad and self._data.dtype.kind != "f":
            raise TypeError(
                f"only floating-point tensors can require gradients, got dtype {self.dtype}"
            )
        if self._ctx is not None and not requires_grad:
            raise RuntimeError("requires_grad can only be turned off on leaves; use detach()")
        self.requires_grad = requires_grad
        return self

    def retain_grad(self) -> None:
        """Keep ``.grad`` on this non-leaf tensor during ``backward()``."""
        self._retains_grad = True

    def zero_grad(self) -> None:
        """Forget the accumulated gradient (``.grad = None``)."""
        self._grad = None

    def astype(self, dtype: Any) -> Tensor:
        """A copy converted to ``dtype``; gradients are cast back. A cast to a non-float dtype
        (``astype(int)``) is not differentiable: its result requires no grad, as in PyTorch."""
        dtype = np.dtype(dtype)
        if dtype == self._data.dtype:
            return self
        if dtype.kind != "f":
            return _make_tensor(_as_array(self._data, dtype), False, None)
        return ops.Cast.apply(self, dtype=dtype)

    def float(self) -> Tensor:
        return self.astype(np.float32)

    def double(self) -> Tensor:
        return self.astype(np.float64)

    # --- autodiff ---------------------------------------------------------------------------

    def backward(self, grad: Any = None, retain_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad``.

        ``grad`` is the upstream gradient, of this tensor's shape; it may be omitted when this
        tensor holds one element. Leaf gradients accumulate across calls (set ``.grad = None``
        or call an optimizer's ``zero_grad()`` between steps).

        As in PyTorch, the values the graph saved for backward are freed afterwards (a loss
        kept in a list does not keep its step's activations alive); the graph's structure
        stays for ``explain`` and ``draw_graph``. Pass ``retain_graph=True`` to keep them, so
        that ``backward`` may be called again through this graph.
        """
        if not self.requires_grad:
            raise RuntimeError(
                f"backward() on a tensor (shape {self.shape}) that does not require grad: no "
                "input of the computation has requires_grad=True, or it ran under no_grad()"
            )
        autograd.backprop(
            [self], [autograd._seed(self, grad, False)], retain_graph=bool(retain_graph)
        )

    # --- operators --------------------------------------------------------------------------

    def __add__(self, other: Any) -> Tensor:
        return ops.Add.apply(self, other)

    def __radd__(self, other: Any) -> Tensor:
        return ops.Add.apply(other, self)

    def __sub__(self, other: Any) -> Tensor:
        return ops.Sub.apply(self, other)

    def __rsub__(self, other: Any) -> Tensor:
        return ops.Sub.apply(other, self)

    def __mul__(self, other: Any) -> Tensor:
        return ops.Mul.apply(self, other)

    def __rmul__(self, other: Any) -> Tensor:
        return ops.Mul.apply(other, self)

    def __truediv__(self, other: Any) -> Tensor:
        return ops.Div.apply(self, other)

    def __rtruediv__(self, other: Any) -> Tensor:
        return ops.Div.apply(other, self)

    def __pow__(self, other: Any) -> Tensor:
        return ops.Pow.apply(self, other)

    def __rpow__(self, other: Any) -> Tensor:
        return ops.Pow.apply(other, self)

    def __matmul__(self, other: Any) -> Tensor:
        return ops.MatMul.apply(self, other)

    def __rmatmul__(self, other: Any) -> Tensor:
        return ops.MatMul.apply(other, self)

    def __neg__(self) -> Tensor:
        return ops.Neg.apply(self)

    def __pos__(self) -> Tensor:
        return self

    def __getitem__(self, index: Any) -> Tensor:
        return ops.GetItem.apply(self, index=ops.normalize_index(index))

    # Comparisons give boolean tensors outside the graph (they have no gradient).
    # ``==`` keeps Python's identity meaning so tensors can be dict keys.
    def __lt__(self, other: Any) -> Tensor:
        return _make_tensor(self._data < _value(other), False, None)

    def __le__(self, other: Any) -> Tensor:
        return _make_tensor(self._data <= _value(other), False, None)

    def __gt__(self, other: Any) -> Tensor:
        return _make_tensor(self._data > _value(other), False, None)

    def __ge__(self, other: Any) -> Tensor:
        return _make_tensor(self._data >= _value(other), False, None)

    __hash__ = object.__hash__

    # --- methods ----------------------------------------------------------------------------

    def exp(self) -> Tensor:
        return ops.Exp.apply(self)

    def log(self) -> Tensor:
        return ops.Log.apply(self)

    def sqrt(self) -> Tensor:
        return ops.Pow.apply(self, 0.5)

    def abs(self) -> Tensor:
        return ops.Abs.apply(self)

    def relu(self) -> Tensor:
        return ops.ReLU.apply(self)

    def tanh(self) -> Tensor:
        return ops.Tanh.apply(self)

    def sigmoid(self) -> Tensor:
        return ops.Sigmoid.apply(self)

    def sum(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        """Sum over ``axis`` (None: all axes)."""
        return ops.Sum.apply(self, axis=axis, keepdims=keepdims)

    def mean(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        """Mean over ``axis`` (None: all axes). float16 is summed in float32 (as PyTorch), so
        the mean of many float16 values does not overflow."""
        if self._data.dtype == np.float16:
            return self.astype(np.float32).mean(axis, keepdims).astype(np.float16)
        out = ops.Sum.apply(self, axis=axis, keepdims=keepdims)
        count = self._data.size // max(out._data.size, 1) if self._data.size else 0
        return out * (1.0 / count) if count else out * float("nan")

    def max(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        """Maximum over ``axis``; the gradient is shared equally among tied maxima."""
        return ops.Max.apply(self, axis=axis, keepdims=keepdims)

    def min(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        """Minimum over ``axis``; the gradient is shared equally among tied minima."""
        return -ops.Max.apply(-self, axis=axis, keepdims=keepdims)

    def var(
        self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False, ddof: int = 0
    ) -> Tensor:
        """Variance over ``axis``: ``sum((x - mean)**2) / (n - ddof)``, ``n`` the count reduced.

        ``ddof=0`` (the default, numpy's) is the biased variance layer norm uses; ``ddof=1``
        the unbiased one (``torch.var``'s default). Composed of ``Sum``, ``Sub`` and ``Mul``.
        """
        centred = self - self.mean(axis=axis, keepdims=True)
        total = (centred * centred).sum(axis=axis, keepdims=keepdims)
        count = self._data.size // max(total._data.size, 1) if self._data.size else 0
        if count - ddof <= 0:
            return total * float("nan")
        return total * (1.0 / (count - ddof))

    def std(
        self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False, ddof: int = 0
    ) -> Tensor:
        """Standard deviation, ``sqrt(var(axis, keepdims, ddof))`` (see :meth:`var`)."""
        return self.var(axis=axis, keepdims=keepdims, ddof=ddof).sqrt()

    def maximum(self, other: Any) -> Tensor:
        """Elementwise ``max(self, other)`` (broadcasting); ties split the gradient in half."""
        return ops.Maximum.apply(self, other)

    def minimum(self, other: Any) -> Tensor:
        """Elementwise ``min(self, other)`` (broadcasting); ties split the gradient in half."""
        return ops.Minimum.apply(self, other)

    def clip(self, lo: Any = None, hi: Any = None) -> Tensor:
        """Values limited to ``[lo, hi]`` (either may be None). The gradient passes where
        ``lo <= x <= hi`` and is 0 outside, as ``torch.clamp``; built from ``Where`` nodes."""
        if lo is None and hi is None:
            raise ValueError("clip: give lo, hi or both")
        if lo is not None and hi is not None and np.any(np.asarray(_value(lo)) > _value(hi)):
            raise ValueError(f"clip: lo ({lo}) must not exceed hi ({hi})")
        out = self
        if hi is not None:
            hi = _value(hi)
            name = f"x > {hi}" if np.ndim(hi) == 0 else "x > hi"  # how explain writes it
            out = ops.Where.apply(hi, out, cond=self._data > hi, cond_name=name)
        if lo is not None:
            lo = _value(lo)
            name = f"x < {lo}" if np.ndim(lo) == 0 else "x < lo"
            out = ops.Where.apply(lo, out, cond=self._data < lo, cond_name=name)
        return out

    def masked_fill(self, mask: Any, value: float) -> Tensor:
        """``value`` where ``mask`` is True, this tensor elsewhere (``mask`` a boolean array or
        Tensor broadcastable to this shape, a constant). Filled entries get no gradient."""
        m = np.asarray(_value(mask))
        if m.dtype != bool:
            raise TypeError(f"masked_fill: mask must be boolean, got dtype {m.dtype}")
        return ops.Where.apply(value, self, cond=m, cond_name="mask")

    def reshape(self, *shape: Any) -> Tensor:
        """Same data, new shape: ``reshape(2, 3)`` or ``reshape((2, 3))``; one ``-1`` allowed."""
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return ops.Reshape.apply(self, shape=shape)

    def flatten(self) -> Tensor:
        return self.reshape(-1)

    def transpose(self, *axes: Any) -> Tensor:
        """Permute axes as ``np.transpose``; with no argument reverse them."""
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        out = ops.Transpose.apply(self, axes=axes or None)
        if self.name and out._ctx is None and (not axes or tuple(axes) == (1, 0)):
            # a constant's transpose is a leaf: it keeps the name, transposed
            out.name = self.name[:-2] if self.name.endswith("^T") else f"{self.name}^T"
        return out

    def swapaxes(self, axis1: int, axis2: int) -> Tensor:
        """Exchange two axes."""
        perm = list(range(self.ndim))
        perm[axis1], perm[axis2] = perm[axis2], perm[axis1]
        return ops.Transpose.apply(self, axes=tuple(perm))

    def broadcast_to(self, shape: tuple[int, ...]) -> Tensor:
        """Repeat along axes of length 1 (and new leading axes) to reach ``shape``."""
        return ops.BroadcastTo.apply(self, shape=tuple(shape))

    def softmax(self, axis: int = -1) -> Tensor:
        """``exp(x) / exp(x).sum(axis)``, computed stably. See ``functional.softmax``."""
        from . import functional

        return functional.softmax(self, axis=axis)

    def log_softmax(self, axis: int = -1) -> Tensor:
        """``x - logsumexp(x, axis)``, computed stably. See ``functional.log_softmax``."""
        from . import functional

        return functional.log_softmax(self, axis=axis)

    # --- constructors -----------------------------------------------------------------------

    @classmethod
    def zeros(cls, *shape: Any, requires_grad: bool = False, dtype: Any = np.float32) -> Tensor:
        shape = _shape_arg(shape)
        return cls(np.zeros(shape, dtype=dtype), requires_grad=requires_grad)

    @classmethod
    def ones(cls, *shape: Any, requires_grad: bool = False, dtype: Any = np.float32) -> Tensor:
        shape = _shape_arg(shape)
        return cls(np.ones(shape, dtype=dtype), requires_grad=requires_grad)

    @classmethod
    def randn(
        cls,
        *shape: Any,
        requires_grad: bool = False,
        dtype: Any = np.float32,
        rng: np.random.Generator | int | None = None,
    ) -> Tensor:
        """Standard normal values; ``rng`` a Generator or a seed."""
        shape = _shape_arg(shape)
        gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        return cls(gen.standard_normal(shape).astype(dtype), requires_grad=requires_grad)


def _check_assigned(t: Tensor, value: np.ndarray, what: str) -> np.ndarray:
    """``value`` as new ``.data`` or ``.grad`` of ``t``: numbers only, and floating point where a
    gradient is involved (another float dtype is allowed, as in PyTorch)."""
    kind = value.dtype.kind
    if kind not in _SUPPORTED_KINDS:
        raise TypeError(
            f"cannot assign {what} of dtype {value.dtype} to a tensor of dtype {t.dtype}: "
            "pass numbers (a float array)"
        )
    if kind != "f" and (what == "grad" or t.requires_grad):
        why = "a gradient" if what == "grad" else "a tensor that requires grad"
        target = t.dtype if t.dtype.kind == "f" else "float32"
        raise TypeError(
            f"cannot assign {what} of dtype {value.dtype} to {why} (dtype {t.dtype}): pass a "
            f"floating-point array, e.g. value.astype(np.{target})"
        )
    return value


def _shape_arg(shape: tuple) -> tuple:
    """``zeros(2, 3)`` and ``zeros((2, 3))`` alike: the shape as one tuple."""
    return tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape


def _make_tensor(data: np.ndarray, requires_grad: bool, ctx: Any) -> Tensor:
    """Build a Tensor around ``data`` without checks or copies (the ops' constructor)."""
    t = _new(Tensor)
    t._data = data
    t._grad = None
    t.requires_grad = requires_grad
    t._ctx = ctx
    t.name = None
    t._retains_grad = False
    return t


_new = object.__new__


def _value(x: Any) -> Any:
    return x._data if isinstance(x, Tensor) else x


autograd.use_tensor_class(Tensor, _make_tensor)
