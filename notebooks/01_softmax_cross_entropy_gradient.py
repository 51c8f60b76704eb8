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
# # 1. The gradient of softmax cross-entropy
#
# Softmax followed by cross-entropy is the last step of almost every classifier, and its gradient
# is one of the most often mis-derived formulas in deep learning. This notebook derives it, checks
# every step numerically with `tinygrad_ce`, and shows the one idea that makes the derivation
# easy: **the chain rule is a contraction (a vector-Jacobian product), not an elementwise
# product.**
#
# What we will see, in order:
#
# 1. the softmax Jacobian $\operatorname{diag}(s) - s s^\top$, computed by `jacobian()` and by hand;
# 2. why "$\frac{\partial L}{\partial \beta} \odot \frac{\partial \beta}{\partial y}$" is a shape
#    error, and what the chain rule really computes;
# 3. the gradient of $L(y) = \mathrm{CE}(\mathrm{softmax}(A^\top y), x)$ with respect to $y$,
#    which is $A\,(\mathrm{softmax}(A^\top y) - x)$: checked with `gradcheck`, drawn with
#    `draw_graph`, narrated by `explain`;
# 4. the one-hot special case $\mathrm{softmax}(\theta) - y$;
# 5. the common mistake $s(1-s)$, shown to be wrong.
#
# **Notation.** Logits $z \in \mathbb{R}^C$, probabilities
# $s = \mathrm{softmax}(z)$ with $s_i = e^{z_i} / \sum_j e^{z_j}$, a target distribution $x$
# ($x_c \ge 0$, $\sum_c x_c = 1$) and the cross-entropy
#
# $$\mathrm{CE}(s, x) = -\sum_{c=1}^{C} x_c \log s_c .$$

# %%
# %matplotlib inline
import numpy as np
import matplotlib.pyplot as plt

np.set_printoptions(precision=4, suppress=True)
plt.rcParams["figure.dpi"] = 100

from tinygrad_ce import F, Tensor, draw_graph, explain, grad, gradcheck, jacobian

rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. The softmax Jacobian
#
# Differentiate $s_i = e^{z_i} / \sum_k e^{z_k}$ with the quotient rule. The numerator depends on
# $z_j$ only when $i = j$; the denominator always does:
#
# $$
# \frac{\partial s_i}{\partial z_j}
# = \frac{\delta_{ij} e^{z_i}}{\sum_k e^{z_k}} - \frac{e^{z_i} e^{z_j}}{\left(\sum_k e^{z_k}\right)^2}
# = s_i\,(\delta_{ij} - s_j).
# $$
#
# As a matrix, $J = \dfrac{\partial s}{\partial z} = \operatorname{diag}(s) - s\,s^\top$: every
# output depends on every input, so $J$ is a full $C \times C$ matrix, not a diagonal one.
#
# `jacobian(fn, z)` builds $J$ without knowing this formula: it runs the backward pass $C$ times,
# seeded with the unit vectors $e_i$, and each run returns one row $e_i^\top J$.

# %%
z = Tensor([2.0, 1.0, 0.1, -1.0], dtype=np.float64)  # float64: differences show at 1e-16
s = F.softmax(z).data

J_auto = jacobian(F.softmax, z)  # row i = backward pass seeded with e_i
J_hand = np.diag(s) - np.outer(s, s)  # the formula

print("s =", s)
print("J from jacobian():")
print(J_auto)
print(f"max |J_auto - J_hand| = {np.abs(J_auto - J_hand).max():.1e}")

# %% [markdown]
# The two agree to rounding error (below $10^{-16}$). `F.softmax` is built from primitive ops
# (`exp`, `sum`, `/`), so this also checks that those ops' backward rules compose to
# $\operatorname{diag}(s) - ss^\top$.
#
# Two properties are worth noticing, because we will use them:
#
# * $J$ is **symmetric**.
# * Every row **sums to zero**: $\sum_j s_i(\delta_{ij} - s_j) = s_i - s_i \sum_j s_j = 0$. So
#   $J\mathbf{1} = 0$: adding the same constant to every logit does not change the softmax.

# %%
print(f"largest |row sum|: {np.abs(J_auto.sum(axis=1)).max():.1e}")
print("symmetric       :", np.allclose(J_auto, J_auto.T))
print("softmax(z + 5)  :", F.softmax(z + 5.0).data, " (the same as s)")

# %% [markdown]
# ## 2. The chain rule is a contraction
#
# Now the setting of the title. Take $y \in \mathbb{R}^n$, a matrix $A \in \mathbb{R}^{n \times C}$
# and a target distribution $x \in \mathbb{R}^C$:
#
# $$\beta = \mathrm{softmax}(A^\top y), \qquad
# L(y) = \mathrm{CE}(\beta, x) = -\sum_c x_c \log \beta_c .$$
#
# The two pieces of the chain are easy:
#
# * $\dfrac{\partial L}{\partial \beta} = -\,x / \beta$, a vector of shape $(C,)$;
# * $\dfrac{\partial \beta}{\partial y} = J_{\mathrm{softmax}}(A^\top y)\,A^\top$, a matrix of
#   shape $(C, n)$: row $c$ says how $\beta_c$ moves when each $y_k$ moves.
#
# A tempting way to "multiply them together" is elementwise,
# $\frac{\partial L}{\partial \beta} \odot \frac{\partial \beta}{\partial y}$.
# Let us try it with $n = 3$, $C = 5$.

# %%
n, C = 3, 5
A = rng.standard_normal((n, C))
y0 = rng.standard_normal(n)
x = np.array([0.1, 0.6, 0.2, 0.1, 0.0])  # a target distribution over C = 5 classes

beta = F.softmax(Tensor(A.T @ y0)).data
dL_dbeta = -x / beta  # shape (C,)
dbeta_dy = jacobian(lambda y: F.softmax(A.T @ y), y0)  # shape (C, n)
print("dL/dbeta   :", dL_dbeta.shape)
print("dbeta/dy   :", dbeta_dy.shape)

try:
    dL_dbeta * dbeta_dy
except ValueError as err:
    print("elementwise:", err)

# %% [markdown]
# A shape error, and a helpful one. Worse things happen when the shapes happen to match: with a
# square $A$ ($n = C$), numpy multiplies the vector into every row and returns a $C \times C$
# matrix without complaint. It is not a gradient of anything; a gradient of a scalar with respect
# to $y$ must have $y$'s shape.

# %%
A_square = rng.standard_normal((C, C))
y_square = rng.standard_normal(C)
b = F.softmax(Tensor(A_square.T @ y_square)).data
J_square = jacobian(lambda y: F.softmax(A_square.T @ y), y_square)
wrong = (-x / b) * J_square
print("elementwise product has shape", wrong.shape, "but y has shape", y_square.shape)

# %% [markdown]
# What the chain rule actually says is a **sum over the index they share**, $c$:
#
# $$
# \frac{\partial L}{\partial y_k} = \sum_{c=1}^{C} \frac{\partial L}{\partial \beta_c}\,
# \frac{\partial \beta_c}{\partial y_k}
# \qquad\Longleftrightarrow\qquad
# \nabla_y L = \left(\frac{\partial \beta}{\partial y}\right)^{\!\top} g,
# \quad g = \frac{\partial L}{\partial \beta}.
# $$
#
# In code that is `g @ J`: a **vector-Jacobian product** (VJP). It contracts the upstream
# gradient $g$ with the Jacobian and lands in the input's shape. Backpropagation is nothing but
# a chain of VJPs, one per op, and it never builds a Jacobian: each op knows how to compute
# `g @ J` directly.

# %%
via_contraction = dL_dbeta @ dbeta_dy  # (C,) @ (C, n) -> (n,)

y = Tensor(y0, requires_grad=True)
loss = F.cross_entropy(A.T @ y, x)  # = CE(softmax(A^T y), x)
(via_backward,) = grad(loss, y)

print("g @ J          :", via_contraction)
print("backward pass  :", via_backward.data)

# %% [markdown]
# ## 3. The closed form: $\nabla_y L = A\,(\mathrm{softmax}(A^\top y) - x)$
#
# The VJP through softmax simplifies beautifully. With $J$ symmetric and $g = -x/\beta$:
#
# $$
# J^\top g = \left(\operatorname{diag}(\beta) - \beta\beta^\top\right)\left(-\frac{x}{\beta}\right)
# = -x + \beta \sum_c x_c = \beta - x ,
# $$
#
# using $\sum_c x_c = 1$. The $1/\beta$ from the logarithm cancels the $\beta$ from the softmax:
# that is why the combined gradient is so simple (and so stable). Then the logits
# $z = A^\top y$ are linear in $y$, with $\partial z / \partial y = A^\top$, whose VJP is
# multiplication by $A$:
#
# $$\boxed{\;\nabla_y \,\mathrm{CE}(\mathrm{softmax}(A^\top y), x)
# = A\,\bigl(\mathrm{softmax}(A^\top y) - x\bigr)\;}$$

# %%
closed_form = A @ (F.softmax(Tensor(A.T @ y0)).data - x)
print("A (softmax(A^T y) - x):", closed_form)
print("backward pass         :", via_backward.data)
print(f"max difference        : {np.abs(closed_form - via_backward.data).max():.1e}")

# %% [markdown]
# `gradcheck` compares the backward pass with **central finite differences**,
# $\frac{L(y + \varepsilon e_k) - L(y - \varepsilon e_k)}{2\varepsilon}$, for every entry of $y$, in
# float64. It returns `True` or raises an error naming the worst entry. `cross_entropy` has two
# implementations: `fused=True` (the default) is a single node whose backward is
# $\beta - x$; `fused=False` composes primitive ops (shift, `exp`, `sum`, `log`, ...), each with
# its own rule. Both must pass.

# %%
for fused in (True, False):
    ok = gradcheck(lambda y: F.cross_entropy(A.T @ y, x, fused=fused), y0)
    print(f"gradcheck, fused={fused}: {ok}")

# %% [markdown]
# ### Seeing it: the graph and the backward pass
#
# `draw_graph` draws the recorded graph: green boxes are leaves that need a gradient, blue-grey
# ones are data, orange ellipses are ops, and the pink double ellipse is the fused
# `SoftmaxCrossEntropy` node. With `rules=True` every op also shows its VJP rule (taken from the
# first line of its docstring). Here $A$ also requires a gradient, so we see both leaves.

# %%
A_t = Tensor(A, requires_grad=True, name="A")
y_t = Tensor(y0, requires_grad=True, name="y")
x_t = Tensor(x, name="x")
loss = F.cross_entropy(A_t.T @ y_t, x_t)
draw_graph(loss, names={x_t: "x"}, rules=True)

# %% [markdown]
# `explain` narrates the backward pass: one line per VJP, in the order `backward()` runs them,
# with the shape of each gradient and, underneath, the gradient as a formula in the names of the
# tensors. The last step reproduces the boxed result, and the footer says how large the
# Jacobians would have been had the backward pass built them. (The same loss with
# `fused=False` is a chain of about a dozen primitive ops; notebook 2 draws it.)

# %%
text = explain(loss, names={x_t: "x"})

# %% [markdown]
# ## 4. The one-hot special case: $\mathrm{softmax}(\theta) - y$
#
# In classification the target is usually a single class $k$, i.e. the one-hot vector
# $y = e_k$, and the logits $\theta$ are the network's output (so "$A$" is the identity). The
# formula becomes
#
# $$\nabla_\theta\, \mathrm{CE}(\mathrm{softmax}(\theta), e_k) = \mathrm{softmax}(\theta) - e_k .$$
#
# Read it as a rule for learning: every wrong class is pushed down by its own probability, and
# the right class is pushed up by $1 - s_k$, its missing probability. The entries sum to zero.
# `F.cross_entropy` takes the class index directly.

# %%
theta = Tensor([1.5, -0.3, 0.8, 0.0], requires_grad=True, dtype=np.float64)
k = 2  # the true class
(g_theta,) = grad(F.cross_entropy(theta, k), theta)

onehot = np.eye(4)[k]
print("softmax(theta)      :", F.softmax(theta).data)
print("softmax(theta) - e_k:", F.softmax(theta).data - onehot)
print("backward pass       :", g_theta.data)
print(f"sum of the gradient : {g_theta.data.sum():.1e}")

# %% [markdown]
# For a batch of $N$ rows with the default `reduction="mean"`, each row's gradient is divided by
# $N$: $\nabla_{\Theta} = (\mathrm{softmax}(\Theta) - \mathrm{onehot}(k)) / N$, row by row.

# %%
Theta = Tensor(rng.standard_normal((3, 4)), requires_grad=True)
labels = np.array([0, 3, 1])
(g_Theta,) = grad(F.cross_entropy(Theta, labels), Theta)
expected = (F.softmax(Theta).data - np.eye(4)[labels]) / 3
print(g_Theta.data)
diff = np.abs(g_Theta.data - expected).max()
print(f"max difference from (softmax - onehot) / N: {diff:.1e}")

# %% [markdown]
# ## 5. The common mistake: $s(1 - s)$
#
# The sigmoid $\sigma$ has derivative $\sigma(1 - \sigma)$, and it is tempting to carry this over
# to the softmax: "the derivative of $s$ is $s(1-s)$", applied elementwise. But
# $s_i(1 - s_i)$ is only the **diagonal** of $J = \operatorname{diag}(s) - ss^\top$; it drops
# every off-diagonal term $-s_i s_j$, the coupling that comes from the shared denominator.
#
# For the one-hot loss the upstream gradient is $g = -e_k / s$, and the two rules give:
#
# * correct, $J^\top g = s - e_k$: every class gets a gradient;
# * wrong, $g \odot s(1-s)$: $-(1 - s_k)$ at the true class and **zero everywhere else**, so
#   the wrong classes are never pushed down directly.

# %%
s = F.softmax(theta).data
g = np.zeros(4)
g[k] = -1 / s[k]  # dCE/ds = -e_k / s for the one-hot target

correct = np.diag(s) - np.outer(s, s)  # the Jacobian (symmetric)
print("correct  J^T g       :", g @ correct)
print("mistake  g * s(1 - s):", g * s * (1 - s))

# %% [markdown]
# `gradcheck` catches the mistake at once. Below, two softmax ops are written as `Function`
# subclasses, the way every primitive in `tinygrad_ce` is: `forward` on arrays, `backward`
# returning the VJP, the maths in the first line of the docstring. One uses the right VJP,
# $s \odot (g - \langle g, s\rangle)$ (that is $J^\top g$ written without forming $J$); the other
# uses $g \odot s(1-s)$.

# %%
from tinygrad_ce import Function, GradcheckError


class Softmax(Function):
    """s = softmax(x);  dx = s * (g - sum(g * s))"""

    def forward(self, x):
        e = np.exp(x - x.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)

    def backward(self, g, s, x):
        return (s * (g - (g * s).sum(axis=-1, keepdims=True)),)


class WrongSoftmax(Softmax):
    """s = softmax(x);  dx = g * s * (1 - s)   (WRONG: only the diagonal of the Jacobian)"""

    def backward(self, g, s, x):
        return (g * s * (1 - s),)


z0 = np.array([2.0, 1.0, 0.1, -1.0])
print("right rule:", gradcheck(Softmax.apply, z0))
try:
    gradcheck(WrongSoftmax.apply, z0)
except GradcheckError as err:
    print("wrong rule:", err)

# %% [markdown]
# `gradcheck` contracts the output with a random vector before differentiating, so it tests the
# VJP with a non-trivial upstream gradient; the diagonal-only rule fails, and the message names
# the entry that is furthest off.
#
# ## Summary
#
# * The softmax Jacobian is $\operatorname{diag}(s) - ss^\top$: full, symmetric, rows summing to 0.
# * The chain rule **contracts** over the shared index: $\nabla_y L = J^\top g$, computed as a
#   VJP (`g @ J`). An elementwise product of a gradient with a Jacobian is a shape error, or a
#   silently wrong matrix.
# * Through softmax followed by cross-entropy the $1/\beta$ and the $\beta$ cancel:
#   $\nabla_z = \mathrm{softmax}(z) - x$, and with $z = A^\top y$,
#   $\nabla_y = A(\mathrm{softmax}(A^\top y) - x)$.
# * For a one-hot target this is $\mathrm{softmax}(\theta) - e_k$.
# * $s(1-s)$ is only the diagonal of the Jacobian; `gradcheck` rejects it.
#
# Next: [02, fused versus unfused](02_fused_vs_unfused.ipynb).
