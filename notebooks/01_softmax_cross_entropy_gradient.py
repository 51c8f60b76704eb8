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
# It starts from a question a student asked. For the loss
# $\mathrm{CE}(\mathrm{softmax}(A^\top y), x)$ with logits $\beta = A^\top y$, they wrote
#
# $$\frac{\partial \mathrm{CE}}{\partial y} = (\mathrm{softmax}(\beta) - x) \odot
# \frac{\partial \beta}{\partial y}$$
#
# and got stuck, because $\partial \beta / \partial y = A^\top$ is a matrix. What we will see,
# in order:
#
# 1. the softmax Jacobian $\operatorname{diag}(s) - s s^\top$, computed by `jacobian()` and by hand;
# 2. the gradient with respect to the logits, $\partial \mathrm{CE} / \partial \beta =
#    \mathrm{softmax}(\beta) - x$;
# 3. why $(\mathrm{softmax}(\beta) - x) \odot A^\top$ is a shape error, and that the chain rule
#    is "elementwise product, then sum over the shared index"; $\odot$ alone is right only for
#    elementwise ops;
# 4. the answer, $\nabla_y L = A\,(\mathrm{softmax}(A^\top y) - x)$: checked with `gradcheck`,
#    drawn with `draw_graph`, narrated by `explain`;
# 5. the one-hot special case $\mathrm{softmax}(\beta) - e_k$;
# 6. the common mistake $s(1-s)$, shown to be wrong.
#
# **Notation**, the question's: $y \in \mathbb{R}^n$, $A \in \mathbb{R}^{n \times C}$, logits
# $\beta = A^\top y \in \mathbb{R}^C$, probabilities $s = \mathrm{softmax}(\beta)$ with
# $s_i = e^{\beta_i} / \sum_j e^{\beta_j}$, a target distribution $x$ ($x_c \ge 0$,
# $\sum_c x_c = 1$), the cross-entropy
#
# $$\mathrm{CE}(s, x) = -\sum_{c=1}^{C} x_c \log s_c ,$$
#
# and the loss $L(y) = \mathrm{CE}(\mathrm{softmax}(A^\top y), x)$. Section 1 studies the softmax
# on its own, of a generic input $z$.

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
# ## 2. The gradient with respect to the logits: $\mathrm{softmax}(\beta) - x$
#
# Now the question's setting. Take $y \in \mathbb{R}^n$, a matrix $A \in \mathbb{R}^{n \times C}$
# and a target distribution $x \in \mathbb{R}^C$. The logits are $\beta = A^\top y$ and the loss
# is
#
# $$L(y) = \mathrm{CE}(\mathrm{softmax}(\beta), x) = -\sum_c x_c \log \mathrm{softmax}(\beta)_c,
# \qquad \beta = A^\top y .$$
#
# First the gradient with respect to $\beta$. Write $s = \mathrm{softmax}(\beta)$. By section 1,
# $\dfrac{\partial \log s_c}{\partial \beta_j} = \dfrac{1}{s_c}\,\dfrac{\partial s_c}{\partial
# \beta_j} = \delta_{cj} - s_j$, so
#
# $$
# \frac{\partial \mathrm{CE}}{\partial \beta_j} = -\sum_c x_c\,(\delta_{cj} - s_j)
# = -x_j + s_j \sum_c x_c = s_j - x_j ,
# $$
#
# using $\sum_c x_c = 1$. The $1/s$ from the logarithm cancels the $s$ from the softmax: that is
# why the gradient is so simple (and so stable):
#
# $$\frac{\partial \mathrm{CE}}{\partial \beta} = \mathrm{softmax}(\beta) - x,
# \quad \text{a vector of shape } (C,).$$
#
# Notice that even this step summed over an index, $c$. Keep that in mind.

# %%
n, C = 3, 5
A = rng.standard_normal((n, C))
y0 = rng.standard_normal(n)
x = np.array([0.1, 0.6, 0.2, 0.1, 0.0])  # a target distribution over C = 5 classes

beta = A.T @ y0  # the logits, shape (C,)
dCE_dbeta = F.softmax(Tensor(beta)).data - x  # the formula, shape (C,)

beta_t = Tensor(beta, requires_grad=True)
(by_backward,) = grad(F.cross_entropy(beta_t, x), beta_t)
print("softmax(beta) - x:", dCE_dbeta)
print("backward pass    :", by_backward.data)

# %% [markdown]
# ## 3. The chain rule is a contraction
#
# The last link is $\beta = A^\top y$. Its Jacobian is exactly $A^\top$:
# $\partial \beta_c / \partial y_k = A_{kc}$, a matrix of shape $(C, n)$ whose row $c$ says how
# $\beta_c$ moves when each $y_k$ moves. The tempting step, the one in the question, is to
# multiply the two pieces elementwise:
#
# $$\frac{\partial \mathrm{CE}}{\partial y} \overset{?}{=}
# (\mathrm{softmax}(\beta) - x) \odot \frac{\partial \beta}{\partial y}
# = (\mathrm{softmax}(\beta) - x) \odot A^\top .$$
#
# Let us ask numpy, with $n = 3$ and $C = 5$.

# %%
dbeta_dy = jacobian(lambda y: A.T @ y, y0)  # shape (C, n)
print("dCE/dbeta:", dCE_dbeta.shape)
print("dbeta/dy :", dbeta_dy.shape, "and equal to A^T:", np.allclose(dbeta_dy, A.T))

try:
    dCE_dbeta * A.T  # the elementwise product, (softmax(beta) - x) ⊙ A^T
except ValueError as err:
    print("(softmax(beta) - x) * A.T:", err)

# %% [markdown]
# A shape error, and a helpful one: numpy lines up the last axes, $C$ against $n$, and they
# differ. Worse things happen when the shapes happen to match: with a square $A$ ($n = C$),
# numpy multiplies the vector into every row of $A^\top$ and returns a $C \times C$ matrix
# without complaint. It is not a gradient of anything; a gradient of a scalar with respect to
# $y$ must have $y$'s shape.

# %%
A_square = rng.standard_normal((C, C))
y_square = rng.standard_normal(C)
g_square = F.softmax(Tensor(A_square.T @ y_square)).data - x
wrong = g_square * A_square.T  # (C,) * (C, C): broadcasts, no error
print("(softmax(beta) - x) * A.T has shape", wrong.shape, "but y has shape", y_square.shape)

# %% [markdown]
# What the chain rule actually says is: multiply elementwise, **then sum over the index the two
# factors share**, $c$:
#
# $$
# \frac{\partial L}{\partial y_k} = \sum_{c=1}^{C} \frac{\partial L}{\partial \beta_c}\,
# \frac{\partial \beta_c}{\partial y_k}
# = \sum_{c=1}^{C} \bigl(\mathrm{softmax}(\beta)_c - x_c\bigr)\, A_{kc}
# \qquad\Longleftrightarrow\qquad
# \nabla_y L = \left(\frac{\partial \beta}{\partial y}\right)^{\!\top} g = A\,g,
# \quad g = \frac{\partial L}{\partial \beta}.
# $$
#
# "Elementwise product, then sum over the shared index" **is** the chain rule; the formula in
# the question stopped after the first half. In numpy the two halves are
# `(g[:, None] * A.T).sum(axis=0)`, which is `g @ A.T`, which is `A @ g`: a
# **vector-Jacobian product** (VJP). It contracts the upstream gradient $g$ with the Jacobian
# and lands in the input's shape. Backpropagation is nothing but a chain of VJPs, one per op,
# and it never builds a Jacobian: each op knows how to compute `g @ J` directly (for the matrix
# product, it is `A @ g`).

# %%
g = dCE_dbeta  # dL/dbeta, shape (C,)
product_then_sum = (g[:, None] * A.T).sum(axis=0)  # ⊙ with the index c lined up, then sum over c
via_contraction = g @ dbeta_dy  # (C,) @ (C, n) -> (n,)

y = Tensor(y0, requires_grad=True)
loss = F.cross_entropy(A.T @ y, x)  # = CE(softmax(A^T y), x)
(via_backward,) = grad(loss, y)

print("sum over c of g_c A_kc:", product_then_sum)
print("g @ dbeta/dy          :", via_contraction)
print("backward pass         :", via_backward.data)

# %% [markdown]
# **When is $\odot$ alone right?** When the op is elementwise: $\beta_c = f(y_c)$, so $n = C$
# and $\beta_c$ does not depend on $y_k$ for $k \ne c$. Then the Jacobian is diagonal,
# $\operatorname{diag}(f'(y))$, the sum over $c$ has a single nonzero term, and
# $\sum_c g_c\, \partial \beta_c / \partial y_k = g_k f'(y_k)$: the contraction *becomes*
# $g \odot f'(y)$. That is where the $\odot$ habit comes from (the backward rules of `exp`,
# `tanh`, `sigmoid`, ... all have this form). For an op that mixes entries, such as the matrix
# product $A^\top y$, or the softmax with its full Jacobian from section 1, the sum over the
# shared index has more than one term, and $\odot$ alone is wrong.

# %%
u0 = np.array([0.5, -1.0, 2.0, 0.0, -0.3])
g_u = np.array([1.0, 2.0, -1.0, 0.5, 3.0])  # some upstream gradient
J_tanh = jacobian(lambda u: u.tanh(), u0)  # an elementwise op
print("Jacobian of tanh is diagonal:", np.allclose(J_tanh, np.diag(np.diag(J_tanh))))
print("g @ J           :", g_u @ J_tanh)
print("g * (1 - tanh^2):", g_u * (1 - np.tanh(u0) ** 2))

# %% [markdown]
# ## 4. The closed form: $\nabla_y L = A\,(\mathrm{softmax}(A^\top y) - x)$
#
# Putting the two links together, the gradient through softmax (section 2) and the contraction
# with the Jacobian $A^\top$ (section 3):
#
# $$\boxed{\;\nabla_y \,\mathrm{CE}(\mathrm{softmax}(A^\top y), x)
# = A\,\bigl(\mathrm{softmax}(A^\top y) - x\bigr)\;}$$
#
# One softmax and one matrix-vector product; no Jacobian is ever formed.

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
# $\mathrm{softmax}(\beta) - x$; `fused=False` composes primitive ops (shift, `exp`, `sum`,
# `log`, ...), each with its own rule. Both must pass.

# %%
for fused in (True, False):
    ok = gradcheck(lambda y: F.cross_entropy(A.T @ y, x, fused=fused), y0)
    print(f"gradcheck, fused={fused}: {ok}")

# %% [markdown]
# ### Seeing it: the graph and the backward pass
#
# `draw_graph` draws the recorded graph: green boxes are leaves that need a gradient, blue-grey
# ones are data, orange ellipses are ops, and the pink double ellipse is the fused
# `SoftmaxCrossEntropy` node. With `rules=True` every op also shows its VJP rule (what the op's
# class declares in its `vjp` attribute). Here $A$ also requires a gradient, so we see both leaves.

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
# ## 5. The one-hot special case: $\mathrm{softmax}(\beta) - e_k$
#
# In classification the target is usually a single class $k$, i.e. the one-hot vector
# $x = e_k$, and the logits $\beta$ are the network's output (so "$A$" is the identity). The
# formula of section 2 becomes
#
# $$\nabla_\beta\, \mathrm{CE}(\mathrm{softmax}(\beta), e_k) = \mathrm{softmax}(\beta) - e_k .$$
#
# Read it as a rule for learning: every wrong class is pushed down by its own probability, and
# the right class is pushed up by $1 - s_k$, its missing probability. The entries sum to zero.
# `F.cross_entropy` takes the class index directly.

# %%
beta = Tensor([1.5, -0.3, 0.8, 0.0], requires_grad=True, dtype=np.float64)  # new logits
k = 2  # the true class: the target is x = e_k
(g_beta,) = grad(F.cross_entropy(beta, k), beta)

onehot = np.eye(4)[k]
print("softmax(beta)      :", F.softmax(beta).data)
print("softmax(beta) - e_k:", F.softmax(beta).data - onehot)
print("backward pass      :", g_beta.data)
print(f"sum of the gradient: {g_beta.data.sum():.1e}")

# %% [markdown]
# For a batch of $N$ rows of logits $\beta_1, \dots, \beta_N$ with labels $k_1, \dots, k_N$ and
# the default `reduction="mean"`, each row's gradient is divided by $N$:
# $\nabla_{\beta_i} = (\mathrm{softmax}(\beta_i) - e_{k_i}) / N$.

# %%
betas = Tensor(rng.standard_normal((3, 4)), requires_grad=True)  # N = 3 rows of logits
labels = np.array([0, 3, 1])
(g_betas,) = grad(F.cross_entropy(betas, labels), betas)
expected = (F.softmax(betas).data - np.eye(4)[labels]) / 3
print(g_betas.data)
diff = np.abs(g_betas.data - expected).max()
print(f"max difference from (softmax - onehot) / N: {diff:.1e}")

# %% [markdown]
# ## 6. The common mistake: $s(1 - s)$
#
# The sigmoid $\sigma$ has derivative $\sigma(1 - \sigma)$, and it is tempting to carry this over
# to the softmax: "the derivative of $s$ is $s(1-s)$", applied elementwise. But
# $s_i(1 - s_i)$ is only the **diagonal** of $J = \operatorname{diag}(s) - ss^\top$; it drops
# every off-diagonal term $-s_i s_j$, the coupling that comes from the shared denominator.
# It is the $\odot$ habit of section 3 again: $g \odot s(1-s)$ would be right only if the
# softmax were an elementwise op, with a diagonal Jacobian.
#
# With $s = \mathrm{softmax}(\beta)$, for the one-hot loss the upstream gradient is $g = -e_k / s$, and the two rules give:
#
# * correct, $J^\top g = s - e_k$: every class gets a gradient;
# * wrong, $g \odot s(1-s)$: $-(1 - s_k)$ at the true class and **zero everywhere else**, so
#   the wrong classes are never pushed down directly.

# %%
s = F.softmax(beta).data
g = np.zeros(4)
g[k] = -1 / s[k]  # dCE/ds = -e_k / s for the one-hot target

correct = np.diag(s) - np.outer(s, s)  # the Jacobian (symmetric)
print("correct  J^T g       :", g @ correct)
print("mistake  g * s(1 - s):", g * s * (1 - s))

# %% [markdown]
# `gradcheck` catches the mistake at once. Below, two softmax ops are written as `Function`
# subclasses, the way every primitive in `tinygrad_ce` is: `forward` on arrays, `backward`
# returning the VJP, the maths declared beside them (`args`, `formula`, `vjp`). One uses the
# right VJP,
# $s \odot (g - \langle g, s\rangle)$ (that is $J^\top g$ written without forming $J$); the other
# uses $g \odot s(1-s)$.

# %%
from tinygrad_ce import Function, GradcheckError


class Softmax(Function):
    """softmax along the last axis"""

    args, output, formula, vjp = ("x",), "s", "softmax(x)", ("dx = s * (g - sum(g * s))",)

    def forward(self, x):
        e = np.exp(x - x.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)

    def backward(self, g, s, x):
        return (s * (g - (g * s).sum(axis=-1, keepdims=True)),)


class WrongSoftmax(Softmax):
    """WRONG: only the diagonal of the Jacobian"""

    vjp = ("dx = g * s * (1 - s)",)

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
# * Through softmax followed by cross-entropy the $1/s$ and the $s$ cancel:
#   $\partial \mathrm{CE} / \partial \beta = \mathrm{softmax}(\beta) - x$.
# * The chain rule is "elementwise product, then sum over the shared index": a contraction,
#   $\nabla_y L = (\partial \beta / \partial y)^\top g$, computed as a VJP (`g @ J`). With
#   $\beta = A^\top y$ that is $\nabla_y L = A(\mathrm{softmax}(A^\top y) - x)$. The product
#   $(\mathrm{softmax}(\beta) - x) \odot A^\top$ is a shape error, or a silently wrong matrix.
# * $\odot$ alone is right only for elementwise ops, whose Jacobians are diagonal.
# * For a one-hot target $x = e_k$ the gradient is $\mathrm{softmax}(\beta) - e_k$.
# * $s(1-s)$ is only the diagonal of the Jacobian; `gradcheck` rejects it.
#
# Next: [02, fused versus unfused](02_fused_vs_unfused.ipynb).
