"""Write the teaching notebooks in ``notebooks/`` from the cell lists below, then execute them.

The notebooks are the product; this script is only how they are authored, so that the text and
code can be reviewed as one Python file. Running the notebooks never needs it.

Usage::

    python tools/build_notebooks.py            # write and execute all four (about a minute)
    python tools/build_notebooks.py 01 03      # only the notebooks whose names start so
    python tools/build_notebooks.py --no-run   # write them without outputs

Execution uses nbclient with the ``python3`` kernel and ``notebooks/`` as working directory,
exactly as ``tests/test_notebooks.py`` does; the executed copies (with outputs) are saved so
they read well on a code host.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"

SETUP = """\
%matplotlib inline
import numpy as np
import matplotlib.pyplot as plt

np.set_printoptions(precision=4, suppress=True)
plt.rcParams["figure.dpi"] = 100"""


def md(text: str) -> nbformat.NotebookNode:
    return new_markdown_cell(text.strip("\n"))


def code(text: str) -> nbformat.NotebookNode:
    return new_code_cell(text.strip("\n"))


# ---------------------------------------------------------------------------------------------
# 01: the gradient of softmax cross-entropy

NB01 = [
    md(r"""
# 1. The gradient of softmax cross-entropy

Softmax followed by cross-entropy is the last step of almost every classifier, and its gradient
is one of the most often mis-derived formulas in deep learning. This notebook derives it, checks
every step numerically with `tinygrad_ce`, and shows the one idea that makes the derivation
easy: **the chain rule is a contraction (a vector-Jacobian product), not an elementwise
product.**

What we will see, in order:

1. the softmax Jacobian $\operatorname{diag}(s) - s s^\top$, computed by `jacobian()` and by hand;
2. why "$\frac{\partial L}{\partial \beta} \odot \frac{\partial \beta}{\partial y}$" is a shape
   error, and what the chain rule really computes;
3. the gradient of $L(y) = \mathrm{CE}(\mathrm{softmax}(A^\top y), x)$ with respect to $y$,
   which is $A\,(\mathrm{softmax}(A^\top y) - x)$: checked with `gradcheck`, drawn with
   `draw_graph`, narrated by `explain`;
4. the one-hot special case $\mathrm{softmax}(\theta) - y$;
5. the common mistake $s(1-s)$, shown to be wrong.

**Notation.** Logits $z \in \mathbb{R}^C$, probabilities
$s = \mathrm{softmax}(z)$ with $s_i = e^{z_i} / \sum_j e^{z_j}$, a target distribution $x$
($x_c \ge 0$, $\sum_c x_c = 1$) and the cross-entropy

$$\mathrm{CE}(s, x) = -\sum_{c=1}^{C} x_c \log s_c .$$
"""),
    code(
        SETUP
        + """

from tinygrad_ce import F, Tensor, draw_graph, explain, grad, gradcheck, jacobian

rng = np.random.default_rng(0)"""
    ),
    md(r"""
## 1. The softmax Jacobian

Differentiate $s_i = e^{z_i} / \sum_k e^{z_k}$ with the quotient rule. The numerator depends on
$z_j$ only when $i = j$; the denominator always does:

$$
\frac{\partial s_i}{\partial z_j}
= \frac{\delta_{ij} e^{z_i}}{\sum_k e^{z_k}} - \frac{e^{z_i} e^{z_j}}{\left(\sum_k e^{z_k}\right)^2}
= s_i\,(\delta_{ij} - s_j).
$$

As a matrix, $J = \dfrac{\partial s}{\partial z} = \operatorname{diag}(s) - s\,s^\top$: every
output depends on every input, so $J$ is a full $C \times C$ matrix, not a diagonal one.

`jacobian(fn, z)` builds $J$ without knowing this formula: it runs the backward pass $C$ times,
seeded with the unit vectors $e_i$, and each run returns one row $e_i^\top J$.
"""),
    code("""
z = Tensor([2.0, 1.0, 0.1, -1.0], dtype=np.float64)  # float64: differences show at 1e-16
s = F.softmax(z).data

J_auto = jacobian(F.softmax, z)  # row i = backward pass seeded with e_i
J_hand = np.diag(s) - np.outer(s, s)  # the formula

print("s =", s)
print("J from jacobian():")
print(J_auto)
print(f"max |J_auto - J_hand| = {np.abs(J_auto - J_hand).max():.1e}")"""),
    md(r"""
The two agree to rounding error (below $10^{-16}$). `F.softmax` is built from primitive ops
(`exp`, `sum`, `/`), so this also checks that those ops' backward rules compose to
$\operatorname{diag}(s) - ss^\top$.

Two properties are worth noticing, because we will use them:

* $J$ is **symmetric**.
* Every row **sums to zero**: $\sum_j s_i(\delta_{ij} - s_j) = s_i - s_i \sum_j s_j = 0$. So
  $J\mathbf{1} = 0$: adding the same constant to every logit does not change the softmax.
"""),
    code("""
print(f"largest |row sum|: {np.abs(J_auto.sum(axis=1)).max():.1e}")
print("symmetric       :", np.allclose(J_auto, J_auto.T))
print("softmax(z + 5)  :", F.softmax(z + 5.0).data, " (the same as s)")"""),
    md(r"""
## 2. The chain rule is a contraction

Now the setting of the title. Take $y \in \mathbb{R}^n$, a matrix $A \in \mathbb{R}^{n \times C}$
and a target distribution $x \in \mathbb{R}^C$:

$$\beta = \mathrm{softmax}(A^\top y), \qquad
L(y) = \mathrm{CE}(\beta, x) = -\sum_c x_c \log \beta_c .$$

The two pieces of the chain are easy:

* $\dfrac{\partial L}{\partial \beta} = -\,x / \beta$, a vector of shape $(C,)$;
* $\dfrac{\partial \beta}{\partial y} = J_{\mathrm{softmax}}(A^\top y)\,A^\top$, a matrix of
  shape $(C, n)$: row $c$ says how $\beta_c$ moves when each $y_k$ moves.

A tempting way to "multiply them together" is elementwise,
$\frac{\partial L}{\partial \beta} \odot \frac{\partial \beta}{\partial y}$.
Let us try it with $n = 3$, $C = 5$.
"""),
    code("""
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
    print("elementwise:", err)"""),
    md(r"""
A shape error, and a helpful one. Worse things happen when the shapes happen to match: with a
square $A$ ($n = C$), numpy multiplies the vector into every row and returns a $C \times C$
matrix without complaint. It is not a gradient of anything; a gradient of a scalar with respect
to $y$ must have $y$'s shape.
"""),
    code("""
A_square = rng.standard_normal((C, C))
y_square = rng.standard_normal(C)
b = F.softmax(Tensor(A_square.T @ y_square)).data
J_square = jacobian(lambda y: F.softmax(A_square.T @ y), y_square)
wrong = (-x / b) * J_square
print("elementwise product has shape", wrong.shape, "but y has shape", y_square.shape)"""),
    md(r"""
What the chain rule actually says is a **sum over the index they share**, $c$:

$$
\frac{\partial L}{\partial y_k} = \sum_{c=1}^{C} \frac{\partial L}{\partial \beta_c}\,
\frac{\partial \beta_c}{\partial y_k}
\qquad\Longleftrightarrow\qquad
\nabla_y L = \left(\frac{\partial \beta}{\partial y}\right)^{\!\top} g,
\quad g = \frac{\partial L}{\partial \beta}.
$$

In code that is `g @ J`: a **vector-Jacobian product** (VJP). It contracts the upstream
gradient $g$ with the Jacobian and lands in the input's shape. Backpropagation is nothing but
a chain of VJPs, one per op, and it never builds a Jacobian: each op knows how to compute
`g @ J` directly.
"""),
    code("""
via_contraction = dL_dbeta @ dbeta_dy  # (C,) @ (C, n) -> (n,)

y = Tensor(y0, requires_grad=True)
loss = F.cross_entropy(A.T @ y, x)  # = CE(softmax(A^T y), x)
(via_backward,) = grad(loss, y)

print("g @ J          :", via_contraction)
print("backward pass  :", via_backward.data)"""),
    md(r"""
## 3. The closed form: $\nabla_y L = A\,(\mathrm{softmax}(A^\top y) - x)$

The VJP through softmax simplifies beautifully. With $J$ symmetric and $g = -x/\beta$:

$$
J^\top g = \left(\operatorname{diag}(\beta) - \beta\beta^\top\right)\left(-\frac{x}{\beta}\right)
= -x + \beta \sum_c x_c = \beta - x ,
$$

using $\sum_c x_c = 1$. The $1/\beta$ from the logarithm cancels the $\beta$ from the softmax:
that is why the combined gradient is so simple (and so stable). Then the logits
$z = A^\top y$ are linear in $y$, with $\partial z / \partial y = A^\top$, whose VJP is
multiplication by $A$:

$$\boxed{\;\nabla_y \,\mathrm{CE}(\mathrm{softmax}(A^\top y), x)
= A\,\bigl(\mathrm{softmax}(A^\top y) - x\bigr)\;}$$
"""),
    code("""
closed_form = A @ (F.softmax(Tensor(A.T @ y0)).data - x)
print("A (softmax(A^T y) - x):", closed_form)
print("backward pass         :", via_backward.data)
print(f"max difference        : {np.abs(closed_form - via_backward.data).max():.1e}")"""),
    md(r"""
`gradcheck` compares the backward pass with **central finite differences**,
$\frac{L(y + \varepsilon e_k) - L(y - \varepsilon e_k)}{2\varepsilon}$, for every entry of $y$, in
float64. It returns `True` or raises an error naming the worst entry. `cross_entropy` has two
implementations: `fused=True` (the default) is a single node whose backward is
$\beta - x$; `fused=False` composes primitive ops (shift, `exp`, `sum`, `log`, ...), each with
its own rule. Both must pass.
"""),
    code("""
for fused in (True, False):
    ok = gradcheck(lambda y: F.cross_entropy(A.T @ y, x, fused=fused), y0)
    print(f"gradcheck, fused={fused}: {ok}")"""),
    md(r"""
### Seeing it: the graph and the backward pass

`draw_graph` draws the recorded graph: green boxes are leaves that need a gradient, blue-grey
ones are data, orange ellipses are ops, and the pink double ellipse is the fused
`SoftmaxCrossEntropy` node. With `rules=True` every op also shows its VJP rule (taken from the
first line of its docstring). Here $A$ also requires a gradient, so we see both leaves.
"""),
    code("""
A_t = Tensor(A, requires_grad=True, name="A")
y_t = Tensor(y0, requires_grad=True, name="y")
x_t = Tensor(x, name="x")
loss = F.cross_entropy(A_t.T @ y_t, x_t)
draw_graph(loss, names={x_t: "x"}, rules=True)"""),
    md(r"""
`explain` narrates the backward pass: one line per VJP, in the order `backward()` runs them,
with the shape of each gradient and, underneath, the gradient as a formula in the names of the
tensors. The last step reproduces the boxed result, and the footer says how large the
Jacobians would have been had the backward pass built them. (The same loss with
`fused=False` is a chain of about a dozen primitive ops; notebook 2 draws it.)
"""),
    code("""
text = explain(loss, names={x_t: "x"})"""),
    md(r"""
## 4. The one-hot special case: $\mathrm{softmax}(\theta) - y$

In classification the target is usually a single class $k$, i.e. the one-hot vector
$y = e_k$, and the logits $\theta$ are the network's output (so "$A$" is the identity). The
formula becomes

$$\nabla_\theta\, \mathrm{CE}(\mathrm{softmax}(\theta), e_k) = \mathrm{softmax}(\theta) - e_k .$$

Read it as a rule for learning: every wrong class is pushed down by its own probability, and
the right class is pushed up by $1 - s_k$, its missing probability. The entries sum to zero.
`F.cross_entropy` takes the class index directly.
"""),
    code("""
theta = Tensor([1.5, -0.3, 0.8, 0.0], requires_grad=True, dtype=np.float64)
k = 2  # the true class
(g_theta,) = grad(F.cross_entropy(theta, k), theta)

onehot = np.eye(4)[k]
print("softmax(theta)      :", F.softmax(theta).data)
print("softmax(theta) - e_k:", F.softmax(theta).data - onehot)
print("backward pass       :", g_theta.data)
print(f"sum of the gradient : {g_theta.data.sum():.1e}")"""),
    md(r"""
For a batch of $N$ rows with the default `reduction="mean"`, each row's gradient is divided by
$N$: $\nabla_{\Theta} = (\mathrm{softmax}(\Theta) - \mathrm{onehot}(k)) / N$, row by row.
"""),
    code("""
Theta = Tensor(rng.standard_normal((3, 4)), requires_grad=True)
labels = np.array([0, 3, 1])
(g_Theta,) = grad(F.cross_entropy(Theta, labels), Theta)
expected = (F.softmax(Theta).data - np.eye(4)[labels]) / 3
print(g_Theta.data)
diff = np.abs(g_Theta.data - expected).max()
print(f"max difference from (softmax - onehot) / N: {diff:.1e}")"""),
    md(r"""
## 5. The common mistake: $s(1 - s)$

The sigmoid $\sigma$ has derivative $\sigma(1 - \sigma)$, and it is tempting to carry this over
to the softmax: "the derivative of $s$ is $s(1-s)$", applied elementwise. But
$s_i(1 - s_i)$ is only the **diagonal** of $J = \operatorname{diag}(s) - ss^\top$; it drops
every off-diagonal term $-s_i s_j$, the coupling that comes from the shared denominator.

For the one-hot loss the upstream gradient is $g = -e_k / s$, and the two rules give:

* correct, $J^\top g = s - e_k$: every class gets a gradient;
* wrong, $g \odot s(1-s)$: $-(1 - s_k)$ at the true class and **zero everywhere else**, so
  the wrong classes are never pushed down directly.
"""),
    code("""
s = F.softmax(theta).data
g = np.zeros(4)
g[k] = -1 / s[k]  # dCE/ds = -e_k / s for the one-hot target

correct = np.diag(s) - np.outer(s, s)  # the Jacobian (symmetric)
print("correct  J^T g       :", g @ correct)
print("mistake  g * s(1 - s):", g * s * (1 - s))"""),
    md(r"""
`gradcheck` catches the mistake at once. Below, two softmax ops are written as `Function`
subclasses, the way every primitive in `tinygrad_ce` is: `forward` on arrays, `backward`
returning the VJP, the maths in the first line of the docstring. One uses the right VJP,
$s \odot (g - \langle g, s\rangle)$ (that is $J^\top g$ written without forming $J$); the other
uses $g \odot s(1-s)$.
"""),
    code('''
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
    print("wrong rule:", err)'''),
    md(r"""
`gradcheck` contracts the output with a random vector before differentiating, so it tests the
VJP with a non-trivial upstream gradient; the diagonal-only rule fails, and the message names
the entry that is furthest off.

## Summary

* The softmax Jacobian is $\operatorname{diag}(s) - ss^\top$: full, symmetric, rows summing to 0.
* The chain rule **contracts** over the shared index: $\nabla_y L = J^\top g$, computed as a
  VJP (`g @ J`). An elementwise product of a gradient with a Jacobian is a shape error, or a
  silently wrong matrix.
* Through softmax followed by cross-entropy the $1/\beta$ and the $\beta$ cancel:
  $\nabla_z = \mathrm{softmax}(z) - x$, and with $z = A^\top y$,
  $\nabla_y = A(\mathrm{softmax}(A^\top y) - x)$.
* For a one-hot target this is $\mathrm{softmax}(\theta) - e_k$.
* $s(1-s)$ is only the diagonal of the Jacobian; `gradcheck` rejects it.

Next: [02, fused versus unfused](02_fused_vs_unfused.ipynb).
"""),
]


# ---------------------------------------------------------------------------------------------
# 02: fused versus unfused

NB02 = [
    md(r"""
# 2. Fused versus unfused cross-entropy

`F.cross_entropy(logits, target)` can be computed in two ways, which give the same value and
the same gradient:

* **unfused** (`fused=False`): composed from primitive ops: subtract the row maximum, `exp`,
  `sum`, `log`, subtract, pick the target entries, average. Each op records a node and has its
  own small VJP rule. This is what you get by writing the formula with tensor operations.
* **fused** (`fused=True`, the default): one `SoftmaxCrossEntropy` node. Its forward computes
  $\log\sum_c e^{z_c}$ once, stably, and its backward is the closed form of notebook 1,

$$\frac{\partial L}{\partial z} = \frac{1}{N}\bigl(\mathrm{softmax}(z) - \mathrm{onehot}(y)\bigr).$$

This notebook puts them side by side: the graphs, a comparison table, time and memory as the
batch and the number of classes grow, and what happens to large logits.
"""),
    code(
        SETUP
        + """

from tinygrad_ce import F, Tensor, compare_cross_entropy, draw_graph
from tinygrad_ce import compare

rng = np.random.default_rng(0)"""
    ),
    md(r"""
## The same numbers

A batch of $N = 4$ rows and $C = 3$ classes, with integer labels:
"""),
    code("""
logits0 = rng.standard_normal((4, 3))
labels = Tensor(np.array([0, 2, 1, 2]), name="labels")  # class indices, no gradient

results = {}
for fused in (True, False):
    z = Tensor(logits0, requires_grad=True, name="logits")
    loss = F.cross_entropy(z, labels, fused=fused)
    loss.backward()
    results[fused] = (loss, z)
    print(f"fused={fused!s:<5}  loss = {loss.item():.6f}")

print("gradient (fused):")
print(results[True][1].grad)
diff = np.abs(results[True][1].grad - results[False][1].grad).max()
print(f"max |fused - unfused| gradient difference: {diff:.1e}")"""),
    md(r"""
## The two graphs

The same loss, recorded both ways. First the fused one: the logits go into a single node,
and its VJP rule is the closed form.
"""),
    code("""
loss_fused, z_fused = results[True]
draw_graph(loss_fused, names={z_fused: "logits", labels: "labels"}, rules=True,
           title="fused: one node")"""),
    md(r"""
Now both side by side, at the same scale. To get them into one picture we record both losses
from the *same* logits and add them; the final `Add` is only there to join the two graphs.
The fused loss is the short branch on the left. The unfused one is the long chain on the
right: every orange ellipse is a node that keeps what its backward needs (the `Exp` keeps its
output, the `Log` its input, the `GetItem` its index), and every white box is an intermediate
array of up to $N \times C$ entries that stays alive until the backward pass has used it. The
max shift enters as a constant (grey): mathematically it cancels, so no gradient flows
through it.
"""),
    code("""
z = Tensor(logits0, requires_grad=True)
fused_loss = F.cross_entropy(z, labels, fused=True)
unfused_loss = F.cross_entropy(z, labels, fused=False)
draw_graph(
    fused_loss + unfused_loss,  # one root, so that one picture holds both graphs
    names={z: "logits", labels: "labels", fused_loss: "fused loss", unfused_loss: "unfused loss"},
    rankdir="TB",
    title="the same loss twice: fused (left) and unfused (right)",
)"""),
    md(r"""
## The comparison tool

`compare_cross_entropy` runs both (and a hand-written numpy reference) on the same random
logits and reports agreement, median times, graph size, bytes kept for the backward pass and
the peak memory of one forward + backward. The same report is printed by
`tinygrad-ce compare` on the command line. (Times depend on the machine; the ratios are the
point.)
"""),
    code("""
result = compare_cross_entropy(batch=256, classes=100, repeats=15, sweep=False)
print(result.table())"""),
    md(r"""
The fused node is both faster and smaller: one node instead of about a dozen, one $N \times C$
buffer kept (the exponentials, which the backward turns into the gradient in place) instead of
several.

## Time and memory against batch size and class count

We measure each method at a few sizes with the same tools `compare_cross_entropy` uses:
`engine_runner` (one loss on a fixed leaf), `time_runners` (median of interleaved rounds) and
`peak_bytes` (peak allocation of one forward + backward, measured with `tracemalloc`).
"""),
    code("""
def measure(batch, classes, repeats=7):
    z = rng.standard_normal((batch, classes))
    y = rng.integers(0, classes, batch)
    runners = {
        "fused": compare.engine_runner(z, y, fused=True),
        "unfused": compare.engine_runner(z, y, fused=False),
        "numpy": compare.numpy_runner(z, y),
    }
    number = compare.calibrate_number(runners["unfused"], target_seconds=1e-3)
    times = compare.time_runners(runners, repeats=repeats, number=number)
    row = {}
    for name, run in runners.items():
        peak = compare.peak_bytes(lambda run=run: run.backward(run.forward()))
        row[name] = (times[name]["total"], peak)
    return row


batches = [16, 64, 256, 1024, 4096]
by_batch = {b: measure(b, 100) for b in batches}  # about 5 seconds in all
class_counts = [10, 100, 1000, 10000]
by_classes = {c: measure(64, c) for c in class_counts}

print(f"{'N x C':>12} {'fused':>9} {'unfused':>9} {'numpy':>9}   peak fused / unfused")
for label, table in (("N", by_batch), ("C", by_classes)):
    for size, row in table.items():
        shape = f"{size} x 100" if label == "N" else f"64 x {size}"
        t = {m: row[m][0] * 1e6 for m in row}
        ratio = row["fused"][1] / row["unfused"][1]
        print(f"{shape:>12} {t['fused']:>7.0f}us {t['unfused']:>7.0f}us {t['numpy']:>7.0f}us"
              f"   {ratio:.2f}")"""),
    code("""
methods = {"fused": "tab:red", "unfused": "tab:blue", "numpy": "tab:gray"}
fig, axes = plt.subplots(2, 2, figsize=(10, 7), layout="constrained")
for col, (table, xlabel) in enumerate(
    [(by_batch, "batch size N (C = 100)"), (by_classes, "classes C (N = 64)")]
):
    sizes = list(table)
    for m, color in methods.items():
        style = "--" if m == "numpy" else "-"
        times = [table[s][m][0] * 1e6 for s in sizes]
        peaks = [table[s][m][1] / 2**20 for s in sizes]
        axes[0, col].plot(sizes, times, style, marker="o", color=color, label=m)
        axes[1, col].plot(sizes, peaks, style, marker="o", color=color, label=m)
    for row, ylabel in enumerate(["forward + backward (µs)", "peak memory (MiB)"]):
        ax = axes[row, col]
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        ax.legend()
fig.suptitle("softmax cross-entropy: fused vs unfused vs a numpy reference (float64)");"""),
    md(r"""
How to read it:

* For small inputs everything costs a few tens of microseconds: that is Python overhead per
  node, and the unfused graph has about ten times more nodes.
* Once the arrays are large (right end of each panel), time and memory grow with
  $N \cdot C$ for all three. The fused loss keeps pace with the hand-written numpy reference
  (it can even beat it, since it computes the exponentials in place and reuses that buffer for
  the gradient), while the unfused one pays for every intermediate array it creates and keeps:
  several times the memory, and several times the time once those arrays no longer fit in the
  CPU caches.
* The exact times depend on the machine (and on what else it is doing); the shape of the
  curves and the memory figures do not.

## Stability: large logits

The textbook formula $-\log\dfrac{e^{z_y}}{\sum_c e^{z_c}}$, computed literally, overflows as
soon as a logit passes $\log(\text{largest float})$: about 88.7 in float32 and 709.8 in
float64. Both of our implementations subtract the row maximum first, so the largest
exponential is $e^0 = 1$.
"""),
    code("""
big = Tensor([[1000.0, 0.0, -1000.0]], requires_grad=True)
label = np.array([1])

with np.errstate(all="ignore"):
    naive = compare.naive_cross_entropy(big, label)
    naive.backward()
print(f"naive  loss = {naive.item()}   gradient = {big.grad}")

for fused in (True, False):
    big.grad = None
    loss = F.cross_entropy(big, label, fused=fused)
    loss.backward()
    print(f"fused={fused!s:<5} loss = {loss.item():.1f}   gradient = {big.grad}")"""),
    md(r"""
The naive formula computes $e^{1000} = \infty$ and then $\infty / \infty = $ NaN. The stable
versions give the exact loss, $1000$ (class 1 has probability $e^{-1000}$), and the gradient
$\mathrm{softmax}(z) - e_1 = (1, -1, 0)$.

The stability sweep of `compare_cross_entropy` does this systematically: logits
$= \text{scale} \times \mathcal{N}(0, 1)$ for scales $1$ to $10^4$, in float32 and float64,
each result compared with a float64 reference. "ok" means the loss and the gradient are both
finite and accurate; otherwise the cell says what happened to each, as "loss/gradient":
"nan/nan" means both came out as NaN.
"""),
    code("""
sweep = compare_cross_entropy(batch=32, classes=10, scales=(1, 10, 100, 1e3, 1e4), repeats=1)
rows = sweep.stability  # one dict per (dtype, scale, method)
print(sweep.stability_table())"""),
    code("""
fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True, layout="constrained")
floor, ceiling = 1e-17, 1e2
markers = {"fused": "o", "unfused": "s", "naive": "x"}
colors = {"fused": "tab:red", "unfused": "tab:blue", "naive": "black"}
styles = {"fused": "-", "unfused": "--", "naive": "-"}  # fused and unfused overlap exactly
sizes = {"fused": 9, "unfused": 5, "naive": 7}
for ax, dtype in zip(axes, ("float32", "float64")):
    for method in compare.SWEEP_METHODS:
        pts = [r for r in rows if r["dtype"] == dtype and r["method"] == method]
        err = [max(r["loss_rel_err"], r["grad_rel_err"], floor) for r in pts]
        err = [e if np.isfinite(e) else ceiling for e in err]
        ax.plot([r["scale"] for r in pts], err, styles[method], marker=markers[method],
                color=colors[method], markersize=sizes[method], label=method)
    ax.axhline(ceiling, color="gray", lw=0.6, ls=":")
    ax.text(1.2, ceiling * 2, "inf / nan", color="gray", fontsize=9)
    ax.set(xscale="log", yscale="log", title=dtype, xlabel="logit scale", ylim=(floor / 10, 1e4))
    ax.grid(alpha=0.3)
axes[0].set_ylabel("relative error vs float64 reference")
axes[0].legend();"""),
    md(r"""
The naive formula breaks at scale 100 in float32 (some logit exceeds 88.7) and at 1000 in
float64. Fused and unfused stay finite and accurate at every scale: they share the max shift.
What the fused node adds is speed and memory, not stability; the one thing that matters for
stability is never exponentiating a large number.

## Summary

* Fused and unfused agree to rounding error in value and gradient.
* The fused graph has one node instead of about a dozen and keeps a third or less of the
  memory. It is about twice as fast on small inputs (Python overhead per node) and more on
  large ones (fewer full-size arrays to write and read).
* Stability comes from the max shift (log-sum-exp), which both use; the literal textbook
  formula overflows.

Next: [03, training a small model](03_training_a_small_model.ipynb).
"""),
]


# ---------------------------------------------------------------------------------------------
# 03: training a small model

NB03 = [
    md(r"""
# 3. Training a small model

Everything so far was one loss on one vector. Here the same pieces train real (small) models:

* a multilayer perceptron (MLP) on the **spiral** data, 3 classes in the plane, where we can
  draw the decision boundary;
* the same kind of model on the bundled **digits** (1,797 images of 8 × 8 pixels, 10 classes).

Along the way, two checks worth doing before trusting any training run: the **initial loss
should be about $\log C$**, and the **gradients of the model should match finite
differences**.

The building blocks: `nn` (`Linear`, `ReLU`, `Sequential`, `CrossEntropyLoss`), `optim`
(`Adam`), `data` (data sets, splitting, standardizing, batching), `train.fit` (the training
loop) and `plots` (figures).
"""),
    code(
        SETUP
        + """

from tinygrad_ce import F, Tensor, data, nn, no_grad, optim
from tinygrad_ce.plots import plot_dataset, plot_decision_boundary, plot_digits, plot_history
from tinygrad_ce.train import evaluate, fit, predict"""
    ),
    md(r"""
## The spiral

Three interleaved arms, 100 points each. No straight line separates them, so a linear model
cannot do well; a small MLP can. We keep a quarter of the points aside to measure accuracy on
data the model did not train on.
"""),
    code("""
X, y = data.spiral(n_per_class=100, classes=3, noise=0.2, seed=0)
X_train, X_test, y_train, y_test = data.train_test_split(
    X, y, test_size=0.25, seed=0, stratify=True
)
print(f"X: {X.shape} {X.dtype}, labels: {np.bincount(y)} per class")
print(f"train {len(X_train)} points, test {len(X_test)} points")
plot_dataset(X, y, title="spiral: 3 classes");"""),
    md(r"""
## The model

$$\text{logits} = W_3\,\mathrm{relu}(W_2\,\mathrm{relu}(W_1 x + b_1) + b_2) + b_3,
\qquad x \in \mathbb{R}^2,\ \text{logits} \in \mathbb{R}^3 .$$

`nn.Linear` stores $W$ as (out, in) and initialises it like PyTorch (uniform in
$\pm 1/\sqrt{\text{in}}$).
"""),
    code("""
def make_mlp(sizes, seed=0, dtype=np.float32):
    nn.manual_seed(seed)
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(n_in, n_out, dtype=dtype))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


model = make_mlp([2, 64, 64, 3])
print(model)
print(f"{model.num_parameters():,} parameters")"""),
    md(r"""
## Sanity check 1: the initial loss is about $\log C$

At initialisation the weights are small, so the logits are close to 0 and the softmax is close
to uniform, $s_c \approx 1/C$ for every class. The cross-entropy of a uniform prediction is
$-\log(1/C) = \log C$, whatever the label. For $C = 3$ that is $\log 3 \approx 1.0986$.

A first loss far from $\log C$ means something is off before training even starts: an
initialisation that is too large (confidently wrong predictions cost much more than $\log C$),
labels out of range, or a loss applied to probabilities instead of logits.
"""),
    code("""
with no_grad():
    logits = model(Tensor(X_train))
    loss0 = F.cross_entropy(logits, y_train).item()
print(f"logits: mean {logits.data.mean():+.3f}, std {logits.data.std():.3f}")
print(f"initial loss {loss0:.4f}   vs   log 3 = {np.log(3):.4f}")

too_big = make_mlp([2, 64, 64, 3])
for p in too_big.parameters():
    p.data = p.data * 10  # a badly scaled initialisation
with no_grad():
    bad = F.cross_entropy(too_big(Tensor(X_train)), y_train).item()
print(f"with weights 10x too large: initial loss {bad:.1f}")"""),
    md(r"""
## Sanity check 2: the model's gradient matches finite differences

`backward()` gives the gradient of the loss with respect to every parameter. We check the two
largest entries of each parameter's gradient against central differences,
$\dfrac{L(\theta + \varepsilon) - L(\theta - \varepsilon)}{2\varepsilon}$, computed by nudging
that one entry. We use a float64 copy of the model (float32 has too few digits for finite
differences) and a small batch.
"""),
    code("""
model64 = make_mlp([2, 64, 64, 3], dtype=np.float64)
Xb, yb = X_train[:16].astype(np.float64), y_train[:16]


def batch_loss():
    return F.cross_entropy(model64(Tensor(Xb)), yb)


model64.zero_grad()
batch_loss().backward()

eps = 1e-6
print(f"{'parameter':<12}{'entry':>10}{'backward':>14}{'finite diff':>14}{'rel. error':>12}")
worst = 0.0
for name, p in model64.named_parameters():
    for flat in np.argsort(-np.abs(p.grad).ravel())[:2]:  # its two largest entries
        idx = tuple(int(i) for i in np.unravel_index(flat, p.shape))
        old = p.data[idx]
        with no_grad():
            p.data[idx] = old + eps
            up = batch_loss().item()
            p.data[idx] = old - eps
            down = batch_loss().item()
        p.data[idx] = old
        numeric = (up - down) / (2 * eps)
        rel = abs(p.grad[idx] - numeric) / max(abs(numeric), 1e-8)
        worst = max(worst, rel)
        print(f"{name:<12}{str(idx):>10}{p.grad[idx]:>14.6f}{numeric:>14.6f}{rel:>12.1e}")
print(f"worst relative error: {worst:.1e}")"""),
    md(r"""
Every layer agrees to many digits: the backward pass through `Linear`, `ReLU` and the fused
cross-entropy is right. (An error around $10^{-2}$ or larger would point at a wrong VJP rule;
`gradcheck` runs the same test on every entry of small inputs.)

## Training

`fit` runs the loop: for each mini-batch, `zero_grad()`, forward, loss, `backward()`,
`step()`; after each epoch it evaluates on the validation data and steps the learning-rate
schedule. Adam, batches of 32, 100 epochs, the learning rate decaying from 0.01 to 0 along a
half cosine: about a second.
"""),
    code("""
loader = data.DataLoader(X_train, y_train, batch_size=32, shuffle=True, seed=0)
opt = optim.Adam(model.parameters(), lr=0.01)
schedule = optim.CosineAnnealingLR(opt, T_max=100)
history = fit(
    model, nn.CrossEntropyLoss(), opt, loader, val_data=(X_test, y_test), epochs=100,
    scheduler=schedule, progress=False,
)
print(f"epoch   1: train loss {history['train_loss'][0]:.4f}")
print(f"epoch 100: train loss {history['train_loss'][-1]:.4f}, "
      f"test accuracy {history['val_acc'][-1]:.1%}")
plot_history(history);"""),
    md(r"""
The loss starts near $\log 3$ (sanity check 1) and falls by more than an order of magnitude.
The occasional spikes are typical of Adam at a high learning rate on a small data set (a step
overshoots, the next ones recover); they fade as the schedule lowers the rate. The validation
loss may sit below the training loss: the training loss is averaged over each epoch while the
weights are still moving, and the 75 test points are few.

The decision boundary shows what the network learned: the plane is coloured by the predicted
class, the points by their true class.
"""),
    code("""
plot_decision_boundary(lambda P: predict(model, P), X, y, title="MLP 2-64-64-3 on the spiral");"""),
    md(r"""
## Digits

1,797 handwritten digits, 8 × 8 grey levels from 0 to 16, flattened to 64 features.
"""),
    code("""
Xd, yd = data.load_digits()
print(f"images {Xd.shape}, pixel values {Xd.min():.0f}..{Xd.max():.0f}, "
      f"classes {np.unique(yd)}")
plot_digits(Xd[:16], yd[:16], ncols=8, title="the first 16 digits");"""),
    md(r"""
We split off 25% for testing (stratified: each digit keeps its share) and standardize each
pixel with the mean and standard deviation of the *training* part only, so no information
from the test set leaks into training.

The model is a 64-64-10 MLP, and sanity check 1 now expects $\log 10 \approx 2.3026$.
"""),
    code("""
Xd_train, Xd_test, yd_train, yd_test = data.train_test_split(
    Xd, yd, test_size=0.25, seed=0, stratify=True
)
scaler = data.Standardizer().fit(Xd_train)
Zd_train, Zd_test = scaler.transform(Xd_train), scaler.transform(Xd_test)

digits_model = make_mlp([64, 64, 10])
with no_grad():
    first = F.cross_entropy(digits_model(Tensor(Zd_train)), yd_train).item()
print(f"initial loss {first:.4f}   vs   log 10 = {np.log(10):.4f}")"""),
    code("""
loader = data.DataLoader(Zd_train, yd_train, batch_size=64, shuffle=True, seed=0)
opt = optim.Adam(digits_model.parameters(), lr=3e-3)
history = fit(
    digits_model, nn.CrossEntropyLoss(), opt, loader, val_data=(Zd_test, yd_test), epochs=30,
    progress=False,
)
test = evaluate(digits_model, Zd_test, yd_test, nn.CrossEntropyLoss())
n_wrong = round((1 - test.accuracy) * len(yd_test))
print(f"test loss {test.loss:.4f}, test accuracy {test.accuracy:.1%} "
      f"({n_wrong} of {len(yd_test)} wrong)")
plot_history(history);"""),
    md(r"""
The training loss keeps falling while the validation loss flattens out: beyond this point,
more epochs would mostly memorise the training set.

Which digits get confused? Each row of the confusion matrix is a true digit, each column a
predicted one; the diagonal counts the correct answers.
"""),
    code("""
pred = predict(digits_model, Zd_test)
confusion = np.zeros((10, 10), dtype=int)
np.add.at(confusion, (yd_test, pred), 1)
print("true | predicted: " + " ".join(f"{c:>3}" for c in range(10)))
for c in range(10):
    print(f"{c:>16}   " + " ".join(f"{n:>3}" if n else "  ." for n in confusion[c]))"""),
    md(r"""
And the mistakes themselves, shown as the images the model saw (before standardization),
captioned "true → predicted". Several are hard even for a person at 8 × 8 pixels.
"""),
    code("""
wrong = np.flatnonzero(pred != yd_test)
plot_digits(Xd_test[wrong], yd_test[wrong], pred[wrong], ncols=8, max_images=16,
            title="misclassified test digits");"""),
    md(r"""
## Summary

* Before training: the initial loss should be about $\log C$ (uniform predictions), and the
  model's gradient should match finite differences in float64.
* The training loop is the same for every model: `zero_grad`, forward, loss, `backward`,
  `step`. `fit` writes it once and records the history.
* A small MLP separates the spiral and classifies the 8 × 8 digits at about 97% test
  accuracy, in a second or two of training.

The same runs as scripts: `python examples/train_spiral.py`, `python examples/train_digits.py`.
Next: [04, beyond first derivatives](04_higher_order_gradients.ipynb).
"""),
]


# ---------------------------------------------------------------------------------------------
# 04: higher-order gradients

NB04 = [
    md(r"""
# 4. Beyond first derivatives

`grad(outputs, inputs)` returns gradients as plain values. With `create_graph=True` the
backward pass is itself **recorded**: every VJP rule runs on Tensors, so the gradient is a
Tensor with a graph behind it, and can be differentiated again. That gives

* second (and third ...) derivatives;
* **Hessian-vector products** $Hv$ at the cost of two backward passes, without forming $H$;
* the full Hessian, when it is small enough to want one;
* Newton's method.

This notebook works through each, and finds that the Hessian of softmax cross-entropy is an
old friend.
"""),
    code(
        SETUP
        + """

from tinygrad_ce import F, Tensor, data, grad, jacobian

rng = np.random.default_rng(0)"""
    ),
    md(r"""
## Derivatives of derivatives

For $f(x) = x^3$: $f'(x) = 3x^2$, $f''(x) = 6x$, $f'''(x) = 6$. Each `grad` call with
`create_graph=True` returns a Tensor that remembers how it was computed.
"""),
    code("""
x = Tensor(2.0, requires_grad=True, dtype=np.float64)
f = x**3
(d1,) = grad(f, x, create_graph=True)
(d2,) = grad(d1, x, create_graph=True)
(d3,) = grad(d2, x)
print(f"f    = {f.item():.1f}")
print(f"f'   = {d1.item():.1f}   (3 x^2 = 12)")
print(f"f''  = {d2.item():.1f}   (6 x = 12)")
print(f"f''' = {d3.item():.1f}    (6)")"""),
    md(r"""
## Hessian-vector products

For a scalar loss $L(w)$ with $w \in \mathbb{R}^P$, the Hessian $H = \nabla^2 L$ is $P \times P$:
a million parameters would mean $10^{12}$ entries. But many algorithms only need $Hv$ for
some vector $v$, and

$$H v = \nabla_w \bigl(\nabla_w L(w) \cdot v\bigr),$$

because $v$ does not depend on $w$. So: one backward pass with `create_graph=True` gives
$\nabla L$ as a graph; its dot product with $v$ is a scalar; one more backward pass gives
$Hv$. The cost is a small multiple of one gradient, whatever $P$ is.

The test problem: multinomial logistic regression with a little L2 regularisation,

$$L(W) = \frac{1}{N}\sum_{n} \mathrm{CE}\bigl(\mathrm{softmax}(W^\top \tilde x_n), y_n\bigr)
+ \frac{\lambda}{2}\lVert W\rVert^2,$$

on 150 points in the plane with 3 classes, where $\tilde x_n = (x_n, 1)$ carries a bias. $W$ is
$3 \times 3$; we flatten it to a vector $w$ of $P = 9$ entries.
"""),
    code("""
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
print("Hv by double backward:", hvp(w0, v))"""),
    md(r"""
Two independent checks. First, the full Hessian: `jacobian` of the gradient function (the
gradient as a function of $w$, recorded with `create_graph=True`) gives all of $H$, and $Hv$
must equal `H @ v`. Second, finite differences of gradients along $v$:
$Hv \approx \dfrac{\nabla L(w + \varepsilon v) - \nabla L(w - \varepsilon v)}{2\varepsilon}$.
"""),
    code("""
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
print(f"max |Hv - finite diff.| = {np.abs(hvp(w0, v) - fd).max():.1e}")"""),
    md(r"""
## The Hessian of softmax cross-entropy

For logits $z$ and a target distribution $x$, notebook 1 found
$\nabla_z \mathrm{CE} = \mathrm{softmax}(z) - x$. Differentiating once more, $x$ is a constant
and drops out, and what is left is the softmax Jacobian:

$$\nabla_z^2\, \mathrm{CE}(\mathrm{softmax}(z), x) = \operatorname{diag}(s) - s s^\top,
\qquad s = \mathrm{softmax}(z).$$

It does not depend on the target at all. Both implementations must give it: with
`create_graph=True` the fused node's backward rebuilds the softmax from differentiable ops.
"""),
    code("""
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
print(H_ce)"""),
    md(r"""
Its eigenvalues describe the loss surface:

* all are $\ge 0$ ($v^\top H v = \sum_i s_i v_i^2 - (\sum_i s_i v_i)^2$ is a variance, never
  negative), so cross-entropy is **convex in the logits**;
* one is exactly 0, with eigenvector $\mathbf{1}$: moving all logits together changes nothing.
  The loss is flat along that direction, which is why the Newton step below needs the small
  $\lambda$ to make $H$ invertible.
"""),
    code("""
eigenvalues, eigenvectors = np.linalg.eigh(expected)
print("eigenvalues     :", eigenvalues.round(6) + 0.0)  # + 0.0 turns -0.0 into 0.0
print("eigenvector of 0:", eigenvectors[:, 0] / eigenvectors[0, 0], "(all ones)")"""),
    md(r"""
## A Newton step

Gradient descent moves along $-\nabla L$ with a hand-tuned step size. Newton's method uses the
curvature: it minimises the local quadratic model
$L(w + p) \approx L(w) + \nabla L^\top p + \tfrac12 p^\top H p$, whose minimiser is

$$p = -H^{-1} \nabla L .$$

Near the minimum it converges *quadratically* (the number of correct digits roughly doubles
each step). With $P = 9$ parameters we can afford the full $H$ and solve $Hp = -\nabla L$
directly. For comparison, gradient descent with a reasonable step size.
"""),
    code("""
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
print(f"gradient descent after 200 steps: above the minimum by {gd_losses[-1] - best:.1e}")"""),
    code("""
def gap(losses):
    return np.maximum(np.array(losses) - best, 1e-16)


fig, ax = plt.subplots(figsize=(6.5, 3.8), layout="constrained")
ax.semilogy(gap(newton_losses), "o-", color="tab:red", label="Newton (exact Hessian)")
ax.semilogy(gap(gd_losses), "-", color="tab:blue", label="gradient descent, step 0.5")
ax.set_xlabel("iteration")
ax.set_ylabel("loss - minimum")
ax.grid(alpha=0.3)
ax.legend();"""),
    md(r"""
Newton reaches the minimum to machine precision in a handful of steps; once it is close, each
step roughly squares the error. Gradient descent makes steady, linear progress.

### Newton without the Hessian

For many parameters, forming $H$ is out of the question, but Hessian-vector products are cheap.
The **conjugate gradient** method solves $Hp = -\nabla L$ using nothing but products $Hv$ (it
needs $H$ symmetric positive definite, which the regularised loss is). A few lines:
"""),
    code("""
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
print(f"max difference: {np.abs(step_cg - step_direct).max():.1e}")"""),
    md(r"""
The same step, without ever forming $H$: at most $P$ Hessian-vector products (in exact
arithmetic), each costing about two backward passes. This is the idea behind Newton-CG and
"Hessian-free" optimisation.

## Summary

* `grad(..., create_graph=True)` records the backward pass, so gradients can be
  differentiated again.
* $Hv = \nabla(\nabla L \cdot v)$: two backward passes, no $P \times P$ matrix.
* The Hessian of softmax cross-entropy in the logits is $\operatorname{diag}(s) - ss^\top$,
  the softmax Jacobian: positive semi-definite, flat along $\mathbf{1}$, independent of the
  target.
* Newton's method uses curvature to converge in a handful of steps on a small problem; with
  conjugate gradients it needs only Hessian-vector products.

A script version: `python examples/hessian_vector_product.py`.
"""),
]


# ---------------------------------------------------------------------------------------------

NOTEBOOK_CELLS = {
    "01_softmax_cross_entropy_gradient.ipynb": NB01,
    "02_fused_vs_unfused.ipynb": NB02,
    "03_training_a_small_model.ipynb": NB03,
    "04_higher_order_gradients.ipynb": NB04,
}


def build(name: str, cells: list) -> nbformat.NotebookNode:
    nb = new_notebook(cells=cells)
    for i, cell in enumerate(nb.cells):  # stable ids: rebuilding changes no line needlessly
        cell.id = f"{name[:2]}-{i:02d}"
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def execute(nb: nbformat.NotebookNode) -> None:
    from nbclient import NotebookClient

    client = NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}
    )
    client.execute()
    for cell in nb.cells:  # keep the saved files free of timestamps (smaller diffs)
        cell.metadata.pop("execution", None)


def main(argv: list[str]) -> int:
    run = "--no-run" not in argv
    wanted = [a for a in argv if not a.startswith("--")]
    for name, cells in NOTEBOOK_CELLS.items():
        if wanted and not any(name.startswith(w) for w in wanted):
            continue
        nb = build(name, cells)
        if run:
            start = time.perf_counter()
            execute(nb)
            print(f"{name}: executed in {time.perf_counter() - start:.1f} s")
        nbformat.validate(nb)
        nbformat.write(nb, NOTEBOOKS / name)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
