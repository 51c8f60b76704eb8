"""Test helpers: an independent finite-difference VJP check, test values, the binary operators.

``check_vjp`` does not use ``tinygrad_ce.gradcheck``: it runs the op's forward in float64 under
``no_grad`` with one entry nudged at a time, and compares against ``backward`` driven by a
random (non-trivial) upstream gradient, so a VJP rule that ignores ``g`` fails.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from tinygrad_ce import Tensor, grad, no_grad

# the five arithmetic operators, as functions of two Tensors (or arrays)
ARITHMETIC: dict[str, Callable] = {
    "add": (lambda a, b: a + b),
    "sub": (lambda a, b: a - b),
    "mul": (lambda a, b: a * b),
    "div": (lambda a, b: a / b),
    "pow": (lambda a, b: a**b),
}


# the paths the ``awkward_paths`` fixture (conftest.py) creates, sorted
AWKWARD = ["a_dir.png", "a_dir.svg", "a_file"]


def numeric_vjp(
    fn: Callable[..., Tensor],
    arrays: Sequence[np.ndarray],
    upstream: np.ndarray,
    eps: float = 1e-6,
) -> list[np.ndarray]:
    """Central differences of ``sum(fn(*arrays) * upstream)`` w.r.t. every array (float64)."""
    arrays = [np.array(a, dtype=np.float64) for a in arrays]
    grads = []
    with no_grad():

        def value() -> float:
            return float(np.sum(fn(*[Tensor(a) for a in arrays]).data * upstream))

        for a in arrays:
            g = np.zeros_like(a)
            flat_a, flat_g = a.reshape(-1), g.reshape(-1)
            for j in range(flat_a.size):
                orig = flat_a[j]
                flat_a[j] = orig + eps
                up = value()
                flat_a[j] = orig - eps
                down = value()
                flat_a[j] = orig
                flat_g[j] = (up - down) / (2 * eps)
            grads.append(g)
    return grads


def check_vjp(
    fn: Callable[..., Tensor],
    arrays: Sequence[np.ndarray],
    seed: int = 0,
    atol: float = 1e-6,
    rtol: float = 1e-5,
    upstream: np.ndarray | None = None,
) -> list[np.ndarray]:
    """Assert that ``backward`` of ``fn`` matches finite differences for every input.

    Inputs become float64 leaves requiring grad. The upstream gradient is a random normal array
    of the output's shape (or ``upstream``), never all ones. Returns the analytic gradients.
    """
    arrays = [np.array(a, dtype=np.float64) for a in arrays]
    leaves = [Tensor(a, requires_grad=True) for a in arrays]
    out = fn(*leaves)
    if upstream is None:
        upstream = 0.5 + np.random.default_rng(seed).standard_normal(out.shape)
    upstream = np.asarray(upstream, dtype=np.float64)
    out.backward(upstream)
    numeric = numeric_vjp(fn, arrays, upstream)
    analytic = []
    for i, (leaf, num) in enumerate(zip(leaves, numeric, strict=True)):
        got = np.zeros_like(num) if leaf.grad is None else leaf.grad
        assert isinstance(got, np.ndarray), f"input {i}: .grad is a {type(got).__name__}"
        assert got.shape == leaf.shape, f"input {i}: grad shape {got.shape} != {leaf.shape}"
        assert got.dtype == leaf.dtype, f"input {i}: grad dtype {got.dtype} != {leaf.dtype}"
        np.testing.assert_allclose(
            got, num, atol=atol, rtol=rtol, err_msg=f"gradient of input {i} (shape {leaf.shape})"
        )
        analytic.append(got)
    return analytic


def check_second_order(
    fn: Callable[..., Tensor],
    arrays: Sequence[np.ndarray],
    seed: int = 7,
    eps: float = 1e-5,
    rtol: float = 1e-5,
    atol: float = 1e-7,
) -> None:
    """Assert that second derivatives of ``fn`` match finite differences of its gradient.

    With random ``u`` (the output's shape) and ``v`` (one per input), ``h = <grad(<fn, u>), v>``
    is differentiated analytically (its gradient is a Hessian-vector product, computed through
    the rules run on Tensors with ``create_graph=True``) and by central differences.
    """
    arrays = [np.array(a, dtype=np.float64) for a in arrays]
    rng = np.random.default_rng(seed)
    u = rng.standard_normal(fn(*[Tensor(a) for a in arrays]).shape)
    v = [rng.standard_normal(a.shape) for a in arrays]

    def h(*ts: Tensor) -> Tensor:
        gs = grad(fn(*ts), ts, grad_outputs=u, create_graph=True)
        return sum((g * Tensor(vi)).sum() for g, vi in zip(gs, v, strict=True))

    leaves = [Tensor(a, requires_grad=True) for a in arrays]
    analytic = grad(h(*leaves), leaves)
    for i, a in enumerate(arrays):
        fd = np.zeros_like(a)
        for j in np.ndindex(a.shape):
            values = []
            for step in (eps, -eps):
                moved = [b.copy() for b in arrays]
                moved[i][j] += step
                values.append(h(*[Tensor(b, requires_grad=True) for b in moved]).item())
            fd[j] = (values[0] - values[1]) / (2 * eps)
        np.testing.assert_allclose(
            analytic[i].data, fd, rtol=rtol, atol=atol, err_msg=f"second derivative, input {i}"
        )


def rand(shape: tuple[int, ...], seed: int = 0, low: float = -2.0, high: float = 2.0):
    """Uniform float64 values of ``shape`` (a fixed seed, so failures reproduce)."""
    return np.random.default_rng(seed).uniform(low, high, size=shape)


def positive(shape: tuple[int, ...], seed: int = 0):
    """Values in [0.5, 2] (safe for log, division, fractional powers)."""
    return rand(shape, seed, 0.5, 2.0)
