"""Hessian-vector products by double backward, checked three ways, and used to find curvature.

What it teaches: ``grad(..., create_graph=True)`` records the backward pass, so a gradient can
be differentiated again. For a scalar loss ``L(w)`` and a fixed vector ``v``,

    H v = grad( grad(L, w) . v , w )

costs two backward passes and never forms the P x P Hessian. The script checks one HVP
against the full Hessian (``jacobian`` of the gradient) and against finite differences of
gradients, shows that the Hessian of softmax cross-entropy in the logits is
``diag(s) - s s^T`` for fused and unfused losses alike, then finds the largest eigenvalue
of the Hessian of a small MLP's loss by power iteration, using nothing but HVPs.

Run::

    python examples/hessian_vector_product.py

Takes about a second and writes no files.
"""

from __future__ import annotations

import sys

import numpy as np
from _common import read_args

from tinygrad_ce import F, Tensor, grad, jacobian, nn


def hvp(loss_of, w: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``H v`` where H is the Hessian of the scalar ``loss_of(w)`` at ``w``; shapes of ``w``."""
    w = Tensor(w, requires_grad=True)
    (g,) = grad(loss_of(w), w, create_graph=True)  # the gradient, recorded as a graph
    (Hv,) = grad((g * v).sum(), w)  # one more backward pass through it
    return Hv.data


def gradient(loss_of, w: np.ndarray) -> np.ndarray:
    wt = Tensor(w, requires_grad=True)
    return grad(loss_of(wt), wt)[0].data


def main(argv: list[str]) -> int:
    read_args(argv, __doc__, max_args=1)  # an output directory is accepted; nothing is written
    rng = np.random.default_rng(0)

    # --- 1. an HVP for logistic regression, checked against H @ v and finite differences
    X = rng.standard_normal((40, 3))
    y = rng.integers(0, 4, 40)

    def logreg_loss(w: Tensor) -> Tensor:
        return F.cross_entropy(X @ w.reshape((3, 4)), y) + 1e-2 * (w * w).sum()

    w0, v = rng.standard_normal(12) * 0.3, rng.standard_normal(12)
    Hv = hvp(logreg_loss, w0, v)
    H = jacobian(lambda w: grad(logreg_loss(w), w, create_graph=True)[0], w0)
    eps = 1e-5
    fd = (gradient(logreg_loss, w0 + eps * v) - gradient(logreg_loss, w0 - eps * v)) / (2 * eps)
    print("logistic regression, 12 parameters")
    print(f"  max |Hv - H @ v|               = {np.abs(Hv - H @ v).max():.1e}")
    print(f"  max |Hv - finite differences|  = {np.abs(Hv - fd).max():.1e}")

    # --- 2. the Hessian of softmax cross-entropy in the logits is diag(s) - s s^T
    z0 = rng.standard_normal(5)
    s = F.softmax(Tensor(z0)).data
    expected = np.diag(s) - np.outer(s, s)
    print("\nHessian of CE(softmax(z), 2) in z, against diag(s) - s s^T")
    for fused in (True, False):

        def ce_grad(z: Tensor, fused: bool = fused) -> Tensor:
            return grad(F.cross_entropy(z, 2, fused=fused), z, create_graph=True)[0]

        H_ce = jacobian(ce_grad, z0)
        print(f"  fused={fused!s:<5}: max difference {np.abs(H_ce - expected).max():.1e}")

    # --- 3. the sharpest direction of an MLP's loss, by power iteration on HVPs
    nn.manual_seed(0)
    mlp = nn.Sequential(
        nn.Linear(2, 16, dtype=np.float64), nn.Tanh(), nn.Linear(16, 3, dtype=np.float64)
    )
    params = list(mlp.parameters())
    shapes = [p.shape for p in params]
    sizes = [int(np.prod(sh)) for sh in shapes]
    Xm, ym = rng.standard_normal((64, 2)), rng.integers(0, 3, 64)

    def mlp_loss(w: Tensor) -> Tensor:
        """The MLP's loss as a function of all its parameters flattened into one vector."""
        pieces, start = [], 0
        for shape, size in zip(shapes, sizes, strict=True):
            pieces.append(w[start : start + size].reshape(shape))
            start += size
        W1, b1, W2, b2 = pieces
        hidden = (Tensor(Xm) @ W1.T + b1).tanh()
        return F.cross_entropy(hidden @ W2.T + b2, ym)

    w_mlp = np.concatenate([p.data.ravel() for p in params])
    u = rng.standard_normal(w_mlp.size)
    u /= np.linalg.norm(u)
    for _ in range(100):
        Hu = hvp(mlp_loss, w_mlp, u)
        top = float(u @ Hu)  # Rayleigh quotient: the eigenvalue estimate
        u = Hu / np.linalg.norm(Hu)
    H_mlp = jacobian(lambda w: grad(mlp_loss(w), w, create_graph=True)[0], w_mlp)
    exact = np.linalg.eigvalsh(H_mlp).max()
    print(f"\nMLP 2-16-3 ({w_mlp.size} parameters), largest Hessian eigenvalue")
    print(f"  power iteration with HVPs only : {top:.6f}")
    print(f"  eigvalsh of the full Hessian   : {exact:.6f}")
    ok = np.allclose(Hv, H @ v) and abs(top - exact) < 1e-4 * abs(exact)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
