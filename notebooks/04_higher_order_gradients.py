# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 4. Beyond first derivatives
#
# `grad(outputs, inputs)` returns gradients as plain values. With `create_graph=True` the
# backward pass is itself **recorded**: every VJP rule runs on Tensors, so the gradient is a
# Tensor with a graph behind it, and can be differentiated again. That gives
#
# * second (and third ...) derivatives;
# * **Hessian-vector products** $Hv$ at the cost of two backward passes, without forming $H$;
# * the full Hessian, when it is small enough to want one;
# * Newton's method.
#
# This notebook works through each, and finds that the Hessian of softmax cross-entropy is an
# old friend.

# %%
# %matplotlib inline
import numpy as np
import matplotlib.pyplot as plt

np.set_printoptions(precision=4, suppress=True)
plt.rcParams["figure.dpi"] = 100

from tinygrad_ce import F, Tensor, data, grad, jacobian

rng = np.random.default_rng(0)

# %% [markdown]
# ## Derivatives of derivatives
#
# For $f(x) = x^3$: $f'(x) = 3x^2$, $f''(x) = 6x$, $f'''(x) = 6$. Each `grad` call with
# `create_graph=True` returns a Tensor that remembers how it was computed.

# %%
x = Tensor(2.0, requires_grad=True, dtype=np.float64)
f = x**3
(d1,) = grad(f, x, create_graph=True)
(d2,) = grad(d1, x, create_graph=True)
(d3,) = grad(d2, x)
print(f"f    = {f.item():.1f}")
print(f"f'   = {d1.item():.1f}   (3 x^2 = 12)")
print(f"f''  = {d2.item():.1f}   (6 x = 12)")
print(f"f''' = {d3.item():.1f}    (6)")

# %% [markdown]
# ## Hessian-vector products
#
# For a scalar loss $L(w)$ with $w \in \mathbb{R}^P$, the Hessian $H = \nabla^2 L$ is $P \times P$:
# a million parameters would mean $10^{12}$ entries. But many algorithms only need $Hv$ for
# some vector $v$, and
#
# $$H v = \nabla_w \bigl(\nabla_w L(w) \cdot v\bigr),$$
#
# because $v$ does not depend on $w$. So: one backward pass with `create_graph=True` gives
# $\nabla L$ as a graph; its dot product with $v$ is a scalar; one more backward pass gives
# $Hv$. The cost is a small multiple of one gradient, whatever $P$ is.
#
# The test problem: multinomial logistic regression with a little L2 regularisation,
#
# $$L(W) = \frac{1}{N}\sum_{n} \mathrm{CE}\bigl(\mathrm{softmax}(W^\top \tilde x_n), y_n\bigr)
# + \frac{\lambda}{2}\lVert W\rVert^2,$$
#
# on 150 points in the plane with 3 classes, where $\tilde x_n = (x_n, 1)$ carries a bias. $W$ is
# $3 \times 3$; we flatten it to a vector $w$ of $P = 9$ entries.

# %%
Xb, yb = data.blobs(n=150, centers=3, std=1.5, seed=0)
Xt = np.hstack([Xb, np.ones((len(Xb), 1))]).astype(np.float64)  # (N, 3): features + bias
D, C, lam = Xt.shape[1], 3, 1e-2


def loss_fn(w):
    W = w.reshape((D, C))
    return F.cross_entropy(Xt @ W, yb) + 0.5 * lam * (w * w).sum()


def hvp(w, v):
    w = Tensor(w, requires_grad=True)
    (g,) = grad(loss_fn(w), w, create_graph=True)  # the gradient, as a graph
    (Hv,) = grad((g * v).sum(), w)  # differentiate g . v once more
    return Hv.data


w0 = rng.standard_normal(D * C) * 0.1
v = rng.standard_normal(D * C)
print("Hv by double backward:", hvp(w0, v))


# %% [markdown]
# Two independent checks. First, the full Hessian: `jacobian` of the gradient function (the
# gradient as a function of $w$, recorded with `create_graph=True`) gives all of $H$, and $Hv$
# must equal `H @ v`. Second, finite differences of gradients along $v$:
# $Hv \approx \dfrac{\nabla L(w + \varepsilon v) - \nabla L(w - \varepsilon v)}{2\varepsilon}$.

# %%
def gradient(w):
    (g,) = grad(loss_fn(w), w, create_graph=True)
    return g


def grad_at(w):
    w = Tensor(w, requires_grad=True)
    return grad(loss_fn(w), w)[0].data


H = jacobian(gradient, w0)  # (9, 9), one row per backward pass through the gradient
eps = 1e-5
fd = (grad_at(w0 + eps * v) - grad_at(w0 - eps * v)) / (2 * eps)

print(f"H is {H.shape}, symmetric: {np.allclose(H, H.T)}")
print(f"max |Hv - H @ v|        = {np.abs(hvp(w0, v) - H @ v).max():.1e}")
print(f"max |Hv - finite diff.| = {np.abs(hvp(w0, v) - fd).max():.1e}")

# %% [markdown]
# ## The Hessian of softmax cross-entropy
#
# For logits $z$ and a target distribution $x$, notebook 1 found
# $\nabla_z \mathrm{CE} = \mathrm{softmax}(z) - x$. Differentiating once more, $x$ is a constant
# and drops out, and what is left is the softmax Jacobian:
#
# $$\nabla_z^2\, \mathrm{CE}(\mathrm{softmax}(z), x) = \operatorname{diag}(s) - s s^\top,
# \qquad s = \mathrm{softmax}(z).$$
#
# It does not depend on the target at all. Both implementations must give it: with
# `create_graph=True` the fused node's backward rebuilds the softmax from differentiable ops.

# %%
z0 = np.array([2.0, 1.0, 0.1, -1.0])
s = F.softmax(Tensor(z0)).data
expected = np.diag(s) - np.outer(s, s)


def ce_gradient(z, target, fused):
    (g,) = grad(F.cross_entropy(z, target, fused=fused), z, create_graph=True)
    return g


for fused in (True, False):
    for target in (0, 3):
        H_ce = jacobian(lambda z: ce_gradient(z, target, fused), z0)
        print(f"fused={fused!s:<5} target {target}: "
              f"max |H - (diag(s) - s s^T)| = {np.abs(H_ce - expected).max():.1e}")
print(H_ce)

# %% [markdown]
# Its eigenvalues describe the loss surface:
#
# * all are $\ge 0$ ($v^\top H v = \sum_i s_i v_i^2 - (\sum_i s_i v_i)^2$ is a variance, never
#   negative), so cross-entropy is **convex in the logits**;
# * one is exactly 0, with eigenvector $\mathbf{1}$: moving all logits together changes nothing.
#   The loss is flat along that direction, which is why the Newton step below needs the small
#   $\lambda$ to make $H$ invertible.

# %%
eigenvalues, eigenvectors = np.linalg.eigh(expected)
print("eigenvalues     :", eigenvalues.round(6) + 0.0)  # + 0.0 turns -0.0 into 0.0
print("eigenvector of 0:", eigenvectors[:, 0] / eigenvectors[0, 0], "(all ones)")


# %% [markdown]
# ## A Newton step
#
# Gradient descent moves along $-\nabla L$ with a hand-tuned step size. Newton's method uses the
# curvature: it minimises the local quadratic model
# $L(w + p) \approx L(w) + \nabla L^\top p + \tfrac12 p^\top H p$, whose minimiser is
#
# $$p = -H^{-1} \nabla L .$$
#
# Near the minimum it converges *quadratically* (the number of correct digits roughly doubles
# each step). With $P = 9$ parameters we can afford the full $H$ and solve $Hp = -\nabla L$
# directly. For comparison, gradient descent with a reasonable step size.

# %%
def value(w):
    return loss_fn(Tensor(w)).item()


newton_w, gd_w = w0.copy(), w0.copy()
newton_losses, gd_losses = [value(w0)], [value(w0)]
for _ in range(8):
    H = jacobian(gradient, newton_w)
    newton_w = newton_w - np.linalg.solve(H, grad_at(newton_w))
    newton_losses.append(value(newton_w))
for _ in range(200):
    gd_w = gd_w - 0.5 * grad_at(gd_w)
    gd_losses.append(value(gd_w))

best = min(newton_losses)
for k, loss in enumerate(newton_losses):
    print(f"Newton step {k}: loss {loss:.12f}   above the minimum by {loss - best:.1e}")
print(f"gradient descent after 200 steps: above the minimum by {gd_losses[-1] - best:.1e}")


# %%
def gap(losses):
    return np.maximum(np.array(losses) - best, 1e-16)


fig, ax = plt.subplots(figsize=(6.5, 3.8), layout="constrained")
ax.semilogy(gap(newton_losses), "o-", color="tab:red", label="Newton (exact Hessian)")
ax.semilogy(gap(gd_losses), "-", color="tab:blue", label="gradient descent, step 0.5")
ax.set_xlabel("iteration")
ax.set_ylabel("loss - minimum")
ax.grid(alpha=0.3)
ax.legend();


# %% [markdown]
# Newton reaches the minimum to machine precision in a handful of steps; once it is close, each
# step roughly squares the error. Gradient descent makes steady, linear progress.
#
# ### Newton without the Hessian
#
# For many parameters, forming $H$ is out of the question, but Hessian-vector products are cheap.
# The **conjugate gradient** method solves $Hp = -\nabla L$ using nothing but products $Hv$ (it
# needs $H$ symmetric positive definite, which the regularised loss is). A few lines:

# %%
def conjugate_gradient(matvec, b, iterations=50, tol=1e-12):
    x = np.zeros_like(b)
    r = b.copy()  # the residual b - A x
    p = r.copy()
    for _ in range(iterations):
        Ap = matvec(p)
        alpha = (r @ r) / (p @ Ap)
        x += alpha * p
        r_new = r - alpha * Ap
        if np.linalg.norm(r_new) < tol:
            break
        p = r_new + (r_new @ r_new) / (r @ r) * p
        r = r_new
    return x


g = grad_at(w0)
step_cg = conjugate_gradient(lambda u: hvp(w0, u), -g)
step_direct = np.linalg.solve(jacobian(gradient, w0), -g)
print("Newton step by CG with HVPs:", step_cg)
print("Newton step by solve(H, -g):", step_direct)
print(f"max difference: {np.abs(step_cg - step_direct).max():.1e}")

# %% [markdown]
# The same step, without ever forming $H$: at most $P$ Hessian-vector products (in exact
# arithmetic), each costing about two backward passes. This is the idea behind Newton-CG and
# "Hessian-free" optimisation.
#
# ## Summary
#
# * `grad(..., create_graph=True)` records the backward pass, so gradients can be
#   differentiated again.
# * $Hv = \nabla(\nabla L \cdot v)$: two backward passes, no $P \times P$ matrix.
# * The Hessian of softmax cross-entropy in the logits is $\operatorname{diag}(s) - ss^\top$,
#   the softmax Jacobian: positive semi-definite, flat along $\mathbf{1}$, independent of the
#   target.
# * Newton's method uses curvature to converge in a handful of steps on a small problem; with
#   conjugate gradients it needs only Hessian-vector products.
#
# A script version: `python examples/hessian_vector_product.py`.
