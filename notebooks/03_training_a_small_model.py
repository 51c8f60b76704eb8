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
# # 3. Training a small model
#
# Everything so far was one loss on one vector. Here the same pieces train real (small) models:
#
# * a multilayer perceptron (MLP) on the **spiral** data, 3 classes in the plane, where we can
#   draw the decision boundary;
# * the same kind of model on the bundled **digits** (1,797 images of 8 × 8 pixels, 10 classes).
#
# Along the way, two checks worth doing before trusting any training run: the **initial loss
# should be about $\log C$**, and the **gradients of the model should match finite
# differences**.
#
# The building blocks: `nn` (`Linear`, `ReLU`, `Sequential`, `CrossEntropyLoss`), `optim`
# (`Adam`), `data` (data sets, splitting, standardizing, batching), `train.fit` (the training
# loop) and `plots` (figures).

# %%
# %matplotlib inline
import numpy as np
import matplotlib.pyplot as plt

np.set_printoptions(precision=4, suppress=True)
plt.rcParams["figure.dpi"] = 100

from tinygrad_ce import F, Tensor, data, nn, no_grad, optim
from tinygrad_ce.plots import plot_dataset, plot_decision_boundary, plot_digits, plot_history
from tinygrad_ce.train import evaluate, fit, predict

# %% [markdown]
# ## The spiral
#
# Three interleaved arms, 100 points each. No straight line separates them, so a linear model
# cannot do well; a small MLP can. We keep a quarter of the points aside to measure accuracy on
# data the model did not train on.

# %%
X, y = data.spiral(n_per_class=100, classes=3, noise=0.2, seed=0)
X_train, X_test, y_train, y_test = data.train_test_split(
    X, y, test_size=0.25, seed=0, stratify=True
)
print(f"X: {X.shape} {X.dtype}, labels: {np.bincount(y)} per class")
print(f"train {len(X_train)} points, test {len(X_test)} points")
plot_dataset(X, y, title="spiral: 3 classes");


# %% [markdown]
# ## The model
#
# $$\text{logits} = W_3\,\mathrm{relu}(W_2\,\mathrm{relu}(W_1 x + b_1) + b_2) + b_3,
# \qquad x \in \mathbb{R}^2,\ \text{logits} \in \mathbb{R}^3 .$$
#
# `nn.Linear` stores $W$ as (out, in) and initialises it like PyTorch (uniform in
# $\pm 1/\sqrt{\text{in}}$).

# %%
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
print(f"{model.num_parameters():,} parameters")

# %% [markdown]
# ## Sanity check 1: the initial loss is about $\log C$
#
# At initialisation the weights are small, so the logits are close to 0 and the softmax is close
# to uniform, $s_c \approx 1/C$ for every class. The cross-entropy of a uniform prediction is
# $-\log(1/C) = \log C$, whatever the label. For $C = 3$ that is $\log 3 \approx 1.0986$.
#
# A first loss far from $\log C$ means something is off before training even starts: an
# initialisation that is too large (confidently wrong predictions cost much more than $\log C$),
# labels out of range, or a loss applied to probabilities instead of logits.

# %%
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
print(f"with weights 10x too large: initial loss {bad:.1f}")

# %% [markdown]
# ## Sanity check 2: the model's gradient matches finite differences
#
# `backward()` gives the gradient of the loss with respect to every parameter. We check the two
# largest entries of each parameter's gradient against central differences,
# $\dfrac{L(\theta + \varepsilon) - L(\theta - \varepsilon)}{2\varepsilon}$, computed by nudging
# that one entry. We use a float64 copy of the model (float32 has too few digits for finite
# differences) and a small batch.

# %%
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
print(f"worst relative error: {worst:.1e}")

# %% [markdown]
# Every layer agrees to many digits: the backward pass through `Linear`, `ReLU` and the fused
# cross-entropy is right. (An error around $10^{-2}$ or larger would point at a wrong VJP rule;
# `gradcheck` runs the same test on every entry of small inputs.)
#
# ## Training
#
# `fit` runs the loop: for each mini-batch, `zero_grad()`, forward, loss, `backward()`,
# `step()`; after each epoch it evaluates on the validation data and steps the learning-rate
# schedule. Adam, batches of 32, 100 epochs, the learning rate decaying from 0.01 to 0 along a
# half cosine: about a second.

# %%
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
plot_history(history);

# %% [markdown]
# The loss starts near $\log 3$ (sanity check 1) and falls by more than an order of magnitude.
# The occasional spikes are typical of Adam at a high learning rate on a small data set (a step
# overshoots, the next ones recover); they fade as the schedule lowers the rate. The validation
# loss may sit below the training loss: the training loss is averaged over each epoch while the
# weights are still moving, and the 75 test points are few.
#
# The decision boundary shows what the network learned: the plane is coloured by the predicted
# class, the points by their true class.

# %%
plot_decision_boundary(lambda P: predict(model, P), X, y, title="MLP 2-64-64-3 on the spiral");

# %% [markdown]
# ## Digits
#
# 1,797 handwritten digits, 8 × 8 grey levels from 0 to 16, flattened to 64 features.

# %%
Xd, yd = data.load_digits()
print(f"images {Xd.shape}, pixel values {Xd.min():.0f}..{Xd.max():.0f}, "
      f"classes {np.unique(yd)}")
plot_digits(Xd[:16], yd[:16], ncols=8, title="the first 16 digits");

# %% [markdown]
# We split off 25% for testing (stratified: each digit keeps its share) and standardize each
# pixel with the mean and standard deviation of the *training* part only, so no information
# from the test set leaks into training.
#
# The model is a 64-64-10 MLP, and sanity check 1 now expects $\log 10 \approx 2.3026$.

# %%
Xd_train, Xd_test, yd_train, yd_test = data.train_test_split(
    Xd, yd, test_size=0.25, seed=0, stratify=True
)
scaler = data.Standardizer().fit(Xd_train)
Zd_train, Zd_test = scaler.transform(Xd_train), scaler.transform(Xd_test)

digits_model = make_mlp([64, 64, 10])
with no_grad():
    first = F.cross_entropy(digits_model(Tensor(Zd_train)), yd_train).item()
print(f"initial loss {first:.4f}   vs   log 10 = {np.log(10):.4f}")

# %%
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
plot_history(history);

# %% [markdown]
# The training loss keeps falling while the validation loss flattens out: beyond this point,
# more epochs would mostly memorise the training set.
#
# Which digits get confused? Each row of the confusion matrix is a true digit, each column a
# predicted one; the diagonal counts the correct answers.

# %%
pred = predict(digits_model, Zd_test)
confusion = np.zeros((10, 10), dtype=int)
np.add.at(confusion, (yd_test, pred), 1)
print("true | predicted: " + " ".join(f"{c:>3}" for c in range(10)))
for c in range(10):
    print(f"{c:>16}   " + " ".join(f"{n:>3}" if n else "  ." for n in confusion[c]))

# %% [markdown]
# And the mistakes themselves, shown as the images the model saw (before standardization),
# captioned "true → predicted". Several are hard even for a person at 8 × 8 pixels.

# %%
wrong = np.flatnonzero(pred != yd_test)
plot_digits(Xd_test[wrong], yd_test[wrong], pred[wrong], ncols=8, max_images=16,
            title="misclassified test digits");

# %% [markdown]
# ## Summary
#
# * Before training: the initial loss should be about $\log C$ (uniform predictions), and the
#   model's gradient should match finite differences in float64.
# * The training loop is the same for every model: `zero_grad`, forward, loss, `backward`,
#   `step`. `fit` writes it once and records the history.
# * A small MLP separates the spiral and classifies the 8 × 8 digits at about 97% test
#   accuracy, in a second or two of training.
#
# The same runs as scripts: `python examples/train_spiral.py`, `python examples/train_digits.py`.
# Next: [04, beyond first derivatives](04_higher_order_gradients.ipynb).
