# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 5. Convolutions and their gradients
#
# A convolution layer slides a small kernel over an image. Its backward pass looks like new
# machinery, but it is not: **the VJP of a convolution is a convolution**, with the kernel
# turned by 180 degrees for the input, and with the input itself for the kernel. This notebook
# derives both rules on a tiny example, checks them with `gradcheck` and `jacobian`, and then
# trains a small CNN on the 8x8 digits and looks at what it learned.

# %%
# %matplotlib inline
import time

import matplotlib.pyplot as plt
import numpy as np

np.set_printoptions(precision=3, suppress=True)
plt.rcParams["figure.dpi"] = 100

from tinygrad_ce import F, Tensor, data, explain, gradcheck, jacobian, nn, optim, plots
from tinygrad_ce.train import fit, predict

rng = np.random.default_rng(0)

# %% [markdown]
# ## The forward: a cross-correlation
#
# As in PyTorch, `conv2d` does not flip the kernel. For one channel, an input $x$ of size
# $H \times W$ and a kernel $K$ of size $k \times k$ (stride 1, no padding):
#
# $$z_{ij} = \sum_{u,v} K_{uv}\, x_{i+u,\, j+v}, \qquad 0 \le i \le H-k,\; 0 \le j \le W-k.$$
#
# Layouts are NCHW: `x` is `(N, C, H, W)` and the weight `(out, in, kh, kw)`.

# %%
x = Tensor(np.arange(16.0).reshape(1, 1, 4, 4), requires_grad=True)
K = Tensor(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]), requires_grad=True)
z = F.conv2d(x, K)
print("x =\n", x.data[0, 0])
print("K =\n", K.data[0, 0])
print("z =\n", z.data[0, 0])
print("z[0, 0] by hand:", (K.data[0, 0] * x.data[0, 0, :2, :2]).sum())

# %% [markdown]
# ## The VJP for the input: a full correlation with the flipped kernel
#
# Let $g = \partial L / \partial z$ be the upstream gradient. Each $x_{pq}$ reaches every
# output whose window covers it, $z_{ij}$ with $i = p - u$, $j = q - v$, with weight
# $K_{uv}$. So
#
# $$\frac{\partial L}{\partial x_{pq}} = \sum_{u,v} g_{p-u,\, q-v}\, K_{uv}
#   = \sum_{a,b} \tilde g_{p+a,\, q+b}\, K_{k-1-a,\, k-1-b},$$
#
# where $\tilde g$ is $g$ padded by $k-1$ zeros on every side. The right-hand side is a
# cross-correlation again, of the padded $g$ with the kernel **turned by 180 degrees**: a "full"
# correlation. With several channels the kernel's in and out channels also swap places
# (`flip(W)^T`); a stride $s$ first spreads $g$ out with $s-1$ zeros between its entries.
#
# Check it against the engine's backward pass with a random upstream gradient:

# %%
g = rng.standard_normal(z.shape)
z.backward(g)

g_padded = np.pad(g, ((0, 0), (0, 0), (1, 1), (1, 1)))  # k - 1 = 1
K_flipped = K.data[:, :, ::-1, ::-1].swapaxes(0, 1)  # flip(W)^T
dx_by_conv = F.conv2d(g_padded, K_flipped).data
print("x.grad (backward pass) =\n", x.grad[0, 0])
print("conv2d(pad(g), flip(K)) =\n", dx_by_conv[0, 0])
print("max difference:", np.abs(x.grad - dx_by_conv).max())

# %% [markdown]
# ## The VJP for the kernel: the input correlated with $g$
#
# $K_{uv}$ multiplies $x_{i+u, j+v}$ in every output $z_{ij}$, so
#
# $$\frac{\partial L}{\partial K_{uv}} = \sum_{i,j} g_{ij}\, x_{i+u,\, j+v},$$
#
# which is `conv2d(x, g)`: the input correlated with the upstream gradient, used as a kernel.
# With a batch, the sum also runs over the images (swap the batch and channel axes:
# `dW = conv2d(x^T, g^T)^T`).

# %%
dK_by_conv = F.conv2d(x.data.swapaxes(0, 1), g.swapaxes(0, 1)).data.swapaxes(0, 1)
print("K.grad (backward pass) =\n", K.grad[0, 0])
print("conv2d(x, g) =\n", dK_by_conv[0, 0])

# %% [markdown]
# ## The Jacobian the backward pass never builds
#
# `jacobian` assembles $\partial z / \partial x$ row by row from VJPs, only to show it. For a
# 4x4 input and a 2x2 kernel it is a 9 x 16 matrix with the kernel's four numbers repeated
# along shifted diagonals (a doubly block Toeplitz matrix). Multiplying $g$ by its transpose
# gives the same `x.grad` as the full correlation above.

# %%
J = jacobian(lambda t: F.conv2d(t, K.data), x.data)
J2 = J.reshape(9, 16)
print(J2.astype(int))
print("J^T g == x.grad:", np.allclose(J2.T @ g.reshape(-1), x.grad.reshape(-1)))

# %% [markdown]
# `gradcheck` compares every entry of every gradient with central finite differences in
# float64. Here with several channels, a bias, a non-square kernel, stride 2 and padding, and
# also through max and average pooling:

# %%
xs = rng.standard_normal((2, 3, 7, 6))
Ws = rng.standard_normal((4, 3, 3, 2))
bs = rng.standard_normal(4)
print(gradcheck(lambda x, W, b: F.conv2d(x, W, b, stride=2, padding=1), [xs, Ws, bs]))
print(gradcheck(lambda x: F.max_pool2d(F.conv2d(x, Ws, padding=1), 2), [xs]))
print(gradcheck(lambda x: F.avg_pool2d(x, 3, stride=2, padding=1), [xs]))

# %% [markdown]
# `explain` prints the backward pass step by step; the conv node's rules are convolutions, with
# this node's numbers filled in (padding $k - 1 - p$, the dilation by the stride):

# %%
xe = Tensor(xs, requires_grad=True, name="x")
We = Tensor(Ws, requires_grad=True, name="W")
loss = F.max_pool2d(F.conv2d(xe, We, stride=2, padding=1).relu(), 2).sum()
_ = explain(loss)

# %% [markdown]
# Because the two rules are convolutions too (recorded as `Conv2dInputGrad` and
# `Conv2dWeightGrad`, whose own rules are convolutions again), a gradient can be differentiated
# once more: a Hessian-vector product in the kernel, against finite differences of the gradient.

# %%
from tinygrad_ce import grad


def conv_loss(W):
    return (F.conv2d(Tensor(xs), W, stride=2, padding=1).tanh() ** 2).sum()


v = rng.standard_normal(Ws.shape)
W_t = Tensor(Ws, requires_grad=True)
(gW,) = grad(conv_loss(W_t), W_t, create_graph=True)
(Hv,) = grad((gW * v).sum(), W_t)
eps = 1e-5
plus, minus = (Tensor(Ws + s * eps * v, requires_grad=True) for s in (1, -1))
fd = (grad(conv_loss(plus), plus)[0].data - grad(conv_loss(minus), minus)[0].data) / (2 * eps)
print(f"max |Hv - finite differences| = {np.abs(Hv.data - fd).max():.1e}")
print(f"largest entry of Hv: {np.abs(Hv.data).max():.1f}")

# %% [markdown]
# ## A CNN on the digits
#
# `nn.CNN` builds a LeNet-style network: two blocks of `Conv2d(3x3, padding 1) -> BatchNorm2d
# -> ReLU -> MaxPool2d(2)`, then `Linear -> ReLU -> Linear`. The digits come as images
# `(N, 1, 8, 8)` with `load_digits(images=True)`; 20% are held out.

# %%
X, y = data.load_digits()
X_train, X_test, y_train, y_test = data.train_test_split(X, y, test_size=0.2, seed=0, stratify=True)
scaler = data.Standardizer().fit(X_train)
img_train = scaler.transform(X_train).reshape(-1, 1, 8, 8)
img_test = scaler.transform(X_test).reshape(-1, 1, 8, 8)

nn.manual_seed(0)
model = nn.CNN((1, 8, 8), 10, channels=(16, 32), hidden=64, batch_norm=True)
print(model)
print(f"{model.num_parameters():,} parameters")

# %%
epochs = 10
opt = optim.Adam(model.parameters(), lr=0.01)
loader = data.DataLoader(img_train, y_train, batch_size=32, shuffle=True, seed=0)
t0 = time.perf_counter()
history = fit(
    model,
    nn.CrossEntropyLoss(),
    opt,
    loader,
    val_data=(img_test, y_test),
    epochs=epochs,
    progress=False,
    scheduler=optim.CosineAnnealingLR(opt, T_max=epochs),
)
pred = predict(model, img_test)
print(f"{time.perf_counter() - t0:.1f} s; held-out accuracy {np.mean(pred == y_test):.1%}")

# %% [markdown]
# The first layer's 16 filters (red positive, blue negative): small edge and stroke detectors.

# %%
_ = plots.plot_filters(model[0].weight, title="first conv layer's filters")

# %% [markdown]
# What the two conv blocks make of one test digit (after batch norm and ReLU):

# %%
_ = plots.plot_feature_maps(model, img_test[0], title=f"feature maps of a {y_test[0]}")

# %% [markdown]
# And the held-out digits it gets wrong (true -> predicted):

# %%
wrong = np.flatnonzero(pred != y_test)
print(f"{len(wrong)} mistakes out of {len(y_test)}")
if len(wrong):
    _ = plots.plot_digits(X_test[wrong], y_test[wrong], pred[wrong], title="misclassified")

# %% [markdown]
# `tinygrad-ce train --model cnn --dataset digits` trains the same network for 30 epochs and
# reaches about 99% on these held-out digits (the MLP gets about 98%); `docs/vision.md` has
# the figures for the 28x28 MNIST sample and the speed against numpy and PyTorch.
