"""Checking gradients: finite differences, explicit Jacobians built from VJPs, ``gradcheck``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .autograd import grad
from .tensor import Tensor


class GradcheckError(AssertionError):
    """Raised by :func:`gradcheck` when an analytic gradient disagrees with finite differences."""


def _as_tensor(x: Any, dtype: Any = None) -> Tensor:
    data = x.data if isinstance(x, Tensor) else np.asarray(x)
    if dtype is not None and data.dtype.kind == "f":
        data = data.astype(dtype)
    return Tensor(data, requires_grad=data.dtype.kind == "f")


def jacobian(fn: Callable[[Tensor], Tensor], x: Tensor | np.ndarray) -> np.ndarray:
    """The full Jacobian of ``fn`` at ``x``, assembled row by row from VJPs.

    Parameters
    ----------
    fn : callable
        Takes one Tensor and returns one Tensor.
    x : Tensor or ndarray
        The point; a copy requiring grad is made, so ``x`` itself is not touched.

    Returns
    -------
    ndarray of shape ``out.shape + x.shape``: ``J[i..., j...] = d out[i...] / d x[j...]``.
    Row ``i`` is the VJP of the one-hot vector ``e_i``, i.e. ``e_i @ J``: the backward pass
    never builds J, this function does so only to show it.
    """
    xt = _as_tensor(x)
    out = fn(xt)
    jac = np.zeros(out.shape + xt.shape, dtype=np.result_type(out.dtype, xt.dtype))
    if not out.requires_grad:  # fn does not depend on x
        return jac
    flat = jac.reshape(out.size, xt.size)
    seed = np.zeros(out.size, dtype=out.dtype)
    for i in range(out.size):
        seed[:] = 0
        seed[i] = 1
        (g,) = grad(out, xt, grad_outputs=seed.reshape(out.shape), retain_graph=True)
        flat[i] = g.data.reshape(-1)
    return jac


def numerical_grad(
    fn: Callable[..., Tensor], inputs: Sequence[np.ndarray], index: int, eps: float = 1e-6
) -> np.ndarray:
    """Central differences of the scalar ``fn(*inputs)`` w.r.t. ``inputs[index]`` (float64).

    Floating inputs are passed as Tensors that require grad, as :func:`gradcheck` passes them,
    and graphs are recorded, so ``fn`` may itself call :func:`grad` (to check a second
    derivative, ``fn`` returns a first derivative built with ``create_graph=True``).
    """
    x = inputs[index]
    out = np.zeros_like(x, dtype=np.float64)
    flat_x = x.reshape(-1)
    flat_out = out.reshape(-1)

    def evaluate() -> float:
        return float(fn(*[_as_tensor(a) for a in inputs]).data.sum())

    for j in range(flat_x.size):
        orig = flat_x[j]
        flat_x[j] = orig + eps
        up = evaluate()
        flat_x[j] = orig - eps
        down = evaluate()
        flat_x[j] = orig
        flat_out[j] = (up - down) / (2 * eps)
    return out


def gradcheck(
    fn: Callable[..., Tensor],
    inputs: Any,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    seed: int = 0,
) -> bool:
    """Compare backward-pass gradients of ``fn`` with central finite differences, in float64.

    Parameters
    ----------
    fn : callable
        Called as ``fn(*inputs)``; returns a Tensor of any shape.
    inputs : Tensor, ndarray or a sequence of them
        Floating inputs are upcast to float64 copies that require grad; integer inputs (such as
        class labels) are passed through unchanged.
    eps, atol, rtol : float
        Step of the central differences and the tolerance ``|a - n| <= atol + rtol * |n|``.
    seed : int
        A non-scalar output is contracted with a fixed random vector ``v`` (drawn from this
        seed), so the check covers the VJP with a non-trivial upstream gradient: a rule that
        ignored ``g`` would fail.

    Returns
    -------
    True when every entry of every floating input agrees. Otherwise raises
    :class:`GradcheckError` naming the input, the worst index and both values.
    """
    inputs = [inputs] if isinstance(inputs, (Tensor, np.ndarray)) else list(inputs)
    tensors = [_as_tensor(x, np.float64) for x in inputs]
    out = fn(*tensors)
    if not isinstance(out, Tensor):
        raise TypeError(f"fn must return a Tensor, got {type(out).__name__}")
    rng = np.random.default_rng(seed)
    v = np.ones(()) if out.size == 1 else rng.standard_normal(out.shape)
    differentiable = [i for i, t in enumerate(tensors) if t.requires_grad]
    if not differentiable:
        kinds = ", ".join(str(t.dtype) for t in tensors) or "none"
        raise TypeError(
            f"gradcheck: no floating-point input to check (input dtypes: {kinds}); pass at "
            "least one float array, e.g. x.astype(np.float64)"
        )
    if out.requires_grad:
        analytic = grad(
            out, [tensors[i] for i in differentiable], grad_outputs=v.reshape(out.shape)
        )
    else:
        analytic = [Tensor(np.zeros(tensors[i].shape)) for i in differentiable]

    arrays = [t.data.copy() for t in tensors]

    def projected(*ts: Tensor) -> Tensor:
        return (fn(*ts) * v).sum()

    for i, a in zip(differentiable, analytic, strict=True):
        numeric = numerical_grad(projected, arrays, i, eps)
        a = np.asarray(a.data, dtype=np.float64)
        err = np.abs(a - numeric) - (atol + rtol * np.abs(numeric))
        finite = np.isfinite(a) & np.isfinite(numeric)  # a NaN anywhere is a failure too
        if err.size and (not np.all(finite) or np.max(err) > 0):
            bad = np.where(finite, err, np.inf)
            j = np.unravel_index(int(np.argmax(bad)), a.shape)
            raise GradcheckError(
                f"gradcheck failed for input {i} (shape {a.shape}) at index {tuple(map(int, j))}: "
                f"backward gives {float(a[j])!r}, finite differences give {float(numeric[j])!r} "
                f"(|difference| {abs(a[j] - numeric[j]):.3g} > atol {atol} + rtol {rtol} * "
                f"|numeric|)"
            )
    return True
