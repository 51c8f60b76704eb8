"""Wrong arguments get a message saying what is wrong and what to pass, never a wrong result or
a deep traceback; a failed optimizer step changes nothing."""

from __future__ import annotations

import numpy as np
import pytest

from tinygrad_ce import F, Function, Tensor, grad, gradcheck, nn, optim
from tinygrad_ce.train import evaluate, fit, predict, predict_scores


def _model() -> nn.Module:
    return nn.Sequential(nn.Linear(2, 3, rng=0))


def _data(n: int = 6) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.standard_normal((n, 2)).astype(np.float32), rng.integers(0, 3, n)


@pytest.mark.parametrize("batch_size", [0, -1, 2.5, True])
def test_evaluate_and_predict_scores_reject_a_bad_batch_size(batch_size):
    X, y = _data()
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        evaluate(_model(), X, y, nn.CrossEntropyLoss(), batch_size=batch_size)
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        predict_scores(_model(), X, batch_size=batch_size)


def test_evaluate_accepts_a_numpy_integer_batch_size():
    X, y = _data()
    whole = evaluate(_model(), X, y, nn.CrossEntropyLoss())
    chunked = evaluate(_model(), X, y, nn.CrossEntropyLoss(), batch_size=np.int64(4))
    assert chunked.loss == pytest.approx(whole.loss) and chunked.accuracy == whole.accuracy


def test_predict_of_an_empty_x_says_so():
    with pytest.raises(ValueError, match="X has no rows"):
        predict(_model(), np.zeros((0, 2), np.float32))


def test_fit_accepts_tensors_and_rejects_lists_and_mismatched_lengths():
    X, y = _data()
    model = _model()
    opt = optim.SGD(model.parameters(), lr=0.1)
    history = fit(model, nn.CrossEntropyLoss(), opt, (Tensor(X), Tensor(y)), progress=False)
    assert len(history["train_loss"]) == 10
    assert history["train_loss"][-1] < history["train_loss"][0]
    with pytest.raises(TypeError, match=r"X is a Python list.*np.asarray"):
        fit(model, nn.CrossEntropyLoss(), opt, (X.tolist(), y.tolist()), progress=False)
    with pytest.raises(TypeError, match=r"pass the tuple \(X, y\)"):
        fit(model, nn.CrossEntropyLoss(), opt, [X, y], progress=False)
    with pytest.raises(ValueError, match="X has 6 rows but y has 5"):
        fit(model, nn.CrossEntropyLoss(), opt, (X, y[:5]), progress=False)
    with pytest.raises(ValueError, match="X has 3 rows but y has 2"):
        fit(model, nn.CrossEntropyLoss(), opt, [(X[:3], y[:2])], progress=False)
    with pytest.raises(TypeError, match="train_loader is a Tensor"):
        fit(model, nn.CrossEntropyLoss(), opt, Tensor(X), progress=False)


class _TooMany(Function):
    def forward(self, x):
        return x * 2

    def backward(self, g, out, x):
        return g * 2, g


class _Bare(Function):
    def forward(self, x):
        return x * 2

    def backward(self, g, out, x):
        return g * 2  # not a tuple


class _Strings(Function):
    def forward(self, x):
        return x * 2

    def backward(self, g, out, x):
        return ("twice",)


class _Complex(Function):
    def forward(self, x):
        return x * 2

    def backward(self, g, out, x):
        return (g * 2j,)


@pytest.mark.parametrize(
    "op, error, match",
    [
        (_TooMany, ValueError, r"_TooMany.backward returned a tuple of 2 entries.*1 gradient"),
        (_Bare, TypeError, r"_Bare.backward returned a ndarray.*tuple of 1 gradient"),
        (_Strings, TypeError, r"returned a str as the gradient of input 0.*shape \(3,\)"),
        (_Complex, TypeError, r"dtype complex128.*real numbers"),
    ],
)
def test_a_custom_backward_returning_the_wrong_number_or_kind_is_named(op, error, match):
    x = Tensor(np.ones(3), requires_grad=True)
    with pytest.raises(error, match=match):
        op.apply(x).sum().backward()
    assert x.grad is None


def test_grad_outputs_must_be_arrays_not_a_number():
    x = Tensor(np.ones(3), requires_grad=True)
    y = x * 2
    with pytest.raises(
        TypeError, match=r"grad_outputs must be an array.*np.full\(out.shape, 2.0\)"
    ):
        grad(y, x, grad_outputs=2.0)
    (g,) = grad(y, x, grad_outputs=np.full(3, 2.0))
    np.testing.assert_array_equal(g.data, [4.0, 4.0, 4.0])


def test_schedules_accept_numpy_integers():
    opt = optim.SGD(_model().parameters(), lr=1.0)
    sched = optim.StepLR(opt, step_size=np.int64(2), gamma=0.5)
    sched.step(), sched.step()
    assert opt.param_groups[0]["lr"] == 0.5
    optim.CosineAnnealingLR(opt, T_max=np.int32(10))
    with pytest.raises(ValueError, match="positive integer"):
        optim.StepLR(opt, step_size=True)


def test_cross_entropy_loss_takes_a_weight_tensor_and_rejects_a_bool_ignore_index():
    logits, labels = Tensor(np.array([[1.0, 2.0], [0.5, 0.0]])), np.array([0, 1])
    by_tensor = nn.CrossEntropyLoss(weight=Tensor([1.0, 3.0]))(logits, labels)
    by_array = nn.CrossEntropyLoss(weight=np.array([1.0, 3.0]))(logits, labels)
    assert by_tensor.item() == pytest.approx(by_array.item())
    with pytest.raises(ValueError, match="weight.detach"):
        nn.CrossEntropyLoss(weight=Tensor([1.0, 3.0], requires_grad=True))
    with pytest.raises(ValueError, match="1-D array"):
        nn.CrossEntropyLoss(weight=[[1.0, 2.0]])
    with pytest.raises(TypeError, match="ignore_index must be an int"):
        nn.CrossEntropyLoss(ignore_index=True)
    with pytest.raises(TypeError, match="ignore_index must be an int"):
        F.cross_entropy(logits, labels, ignore_index=True)


def test_data_and_grad_setters_reject_non_numbers_and_ints_where_gradients_live():
    w = Tensor(np.ones(3, np.float32), requires_grad=True)
    with pytest.raises(TypeError, match="dtype <U1"):
        w.data = np.array(["a", "b", "c"])
    with pytest.raises(TypeError, match="requires grad"):
        w.data = np.array([1, 2, 3])
    with pytest.raises(TypeError, match="gradient"):
        w.grad = np.array([1, 2, 3])
    with pytest.raises(TypeError, match="dtype <U1"):
        w.grad = np.array(["a", "b", "c"])
    w.data = np.ones(3, np.float64)  # another float dtype is fine, as in PyTorch
    w.grad = np.ones(3, np.float16)
    counts = Tensor(np.zeros(3, np.int64))
    counts.data = np.array([1, 2, 3])  # ints on a tensor that needs no gradient are fine
    assert counts.data.sum() == 6


def test_astype_to_an_integer_is_not_differentiable():
    x = Tensor([1.5, 2.5], requires_grad=True)
    n = x.astype(np.int64)
    assert not n.requires_grad and n.grad_fn is None
    np.testing.assert_array_equal(n.data, [1, 2])
    f = x.astype(np.float64)
    assert f.requires_grad


def test_gradcheck_without_a_float_input_raises():
    with pytest.raises(TypeError, match="no floating-point input"):
        gradcheck(lambda t: t * 2, [np.array([1, 2, 3])])
    assert gradcheck(lambda t, k: t * k, [np.array([1.0, 2.0]), np.array([3, 4])])


@pytest.mark.parametrize("make", [optim.SGD, optim.Adam, optim.AdamW])
def test_an_optimizer_step_that_fails_changes_nothing(make):
    a = Tensor(np.ones(3, np.float32), requires_grad=True)
    b = Tensor(np.ones(2, np.float32), requires_grad=True)
    opt = make([a, b], lr=0.1, **({"momentum": 0.9} if make is optim.SGD else {}))
    a.grad = np.ones(3, np.float32)
    opt.step()
    before = ([a.data.copy(), b.data.copy()], repr(opt.state_dict()))
    a.grad = np.ones(3, np.float32)
    b._grad = np.ones(2, np.complex64)  # what a faulty custom rule could leave behind
    with pytest.raises(TypeError, match=r"parameter 1 .* dtype complex64.*Nothing was updated"):
        opt.step()
    np.testing.assert_array_equal(a.data, before[0][0])
    np.testing.assert_array_equal(b.data, before[0][1])
    assert repr(opt.state_dict()) == before[1]
