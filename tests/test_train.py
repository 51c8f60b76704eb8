"""Tests of tinygrad_ce.train: fit, History, evaluation without a graph, the quality bars."""

from __future__ import annotations

import io
import time

import numpy as np
import pytest

from tinygrad_ce import Tensor, data, is_grad_enabled, nn, optim, train
from tinygrad_ce.train import History, accuracy, evaluate, fit, predict


def _mlp(n_in: int, hidden: list[int], n_out: int, seed: int, act=nn.ReLU) -> nn.Sequential:
    nn.manual_seed(seed)
    layers, width = [], n_in
    for h in hidden:
        layers += [nn.Linear(width, h), act()]
        width = h
    return nn.Sequential(*layers, nn.Linear(width, n_out))


def test_fit_records_history_and_learns_blobs():
    X, y = data.blobs(seed=0)
    model = _mlp(2, [16], 3, seed=0)
    opt = optim.Adam(model.parameters(), lr=0.05)
    loader = data.DataLoader(X, y, batch_size=64, shuffle=True, seed=0)
    h = fit(model, nn.CrossEntropyLoss(), opt, loader, val_data=(X, y), epochs=15, progress=False)
    assert isinstance(h, History) and h.epochs == 15
    assert set(h) == {"train_loss", "train_acc", "val_loss", "val_acc", "lr", "epoch_time"}
    assert h["train_loss"][-1] < h["train_loss"][0]
    assert h["val_acc"][-1] > 0.95
    assert h["lr"] == [0.05] * 15
    epoch, best = h.best("val_acc")
    assert best == max(h["val_acc"]) and 1 <= epoch <= 15
    assert h.best("val_loss")[1] == min(h["val_loss"])
    d = h.to_dict()
    assert d["train_acc"] == h["train_acc"] and d is not h.history
    assert "History(epochs=15" in repr(h)
    # the validation numbers are exactly what evaluate gives for the final model
    val = evaluate(model, X, y, nn.CrossEntropyLoss())
    assert val.loss == pytest.approx(h["val_loss"][-1]) and val.accuracy == h["val_acc"][-1]
    assert model.training  # fit leaves the model in training mode


def test_history_without_validation_has_no_val_keys():
    X, y = data.xor(n=40, seed=0)
    model = _mlp(2, [8], 2, seed=0)
    h = fit(
        model,
        nn.CrossEntropyLoss(),
        optim.SGD(model.parameters(), lr=0.1),
        (X, y),
        epochs=2,
        progress=False,
    )
    assert "val_loss" not in h and "train_acc" in h
    with pytest.raises(KeyError, match="val_acc"):
        h["val_acc"]
    with pytest.raises(KeyError, match="val_acc"):
        h.best()


def test_full_batch_tuple_equals_one_batch_loader():
    X, y = data.moons(n=60, seed=1)
    losses = []
    for loader in [(X, y), data.DataLoader(X, y, batch_size=60)]:
        model = _mlp(2, [8], 2, seed=3)
        opt = optim.SGD(model.parameters(), lr=0.5)
        losses.append(
            fit(model, nn.CrossEntropyLoss(), opt, loader, epochs=5, progress=False)["train_loss"]
        )
    assert losses[0] == losses[1]


def test_scheduler_and_callback_and_bad_arguments():
    X, y = data.blobs(n=30, seed=0)
    model = _mlp(2, [4], 3, seed=0)
    opt = optim.SGD(model.parameters(), lr=1.0)
    sched = optim.StepLR(opt, step_size=1, gamma=0.5)
    seen = []
    h = fit(
        model,
        nn.CrossEntropyLoss(),
        opt,
        (X, y),
        epochs=10,
        progress=False,
        scheduler=sched,
        callback=lambda epoch, hist: seen.append(epoch) or epoch == 3,
    )
    assert seen == [1, 2, 3] and h.epochs == 3  # stopped early
    assert h["lr"] == [1.0, 0.5, 0.25]
    with pytest.raises(ValueError, match="epochs"):
        fit(model, nn.CrossEntropyLoss(), opt, (X, y), epochs=-1)
    with pytest.raises(TypeError, match="one-shot iterator"):
        fit(model, nn.CrossEntropyLoss(), opt, iter([(X, y)]), epochs=1)
    with pytest.raises(TypeError, match="val_data"):
        fit(model, nn.CrossEntropyLoss(), opt, (X, y), val_data=X, epochs=1)


def test_evaluate_and_predict_record_no_graph_and_restore_mode():
    X, y = data.spiral(n_per_class=20, seed=0)
    model = nn.Sequential(nn.Linear(2, 8, rng=0), nn.Dropout(0.5, rng=0), nn.Linear(8, 3, rng=1))
    model.train()
    calls = []
    original = model.forward

    def spy(x):
        out = original(x)
        calls.append((is_grad_enabled(), out.requires_grad, model[1].training))
        return out

    model.forward = spy
    res = evaluate(model, X, y, nn.CrossEntropyLoss(), batch_size=7)
    assert calls and all(c == (False, False, False) for c in calls)
    assert model.training and model[1].training  # mode restored
    assert 0 <= res.accuracy <= 1 and res.loss > 0
    # chunked evaluation equals one pass (dropout is off in eval mode)
    whole = evaluate(model, X, y, nn.CrossEntropyLoss())
    assert res.loss == pytest.approx(whole.loss, rel=1e-6) and res.accuracy == whole.accuracy
    pred = predict(model, X)
    assert pred.shape == (60,) and pred.dtype.kind == "i"
    assert accuracy(model, X, y) == pytest.approx(whole.accuracy)
    assert all(p.grad is None for p in model.parameters())


def test_evaluate_regression_has_no_accuracy():
    X = np.random.default_rng(0).standard_normal((10, 3)).astype(np.float32)
    res = evaluate(nn.Linear(3, 1, rng=0), X, np.zeros((10, 1), np.float32), nn.MSELoss())
    assert res.accuracy is None and res.loss > 0
    with pytest.raises(ValueError, match="rows"):
        evaluate(nn.Linear(3, 1, rng=0), X, np.zeros(3), nn.MSELoss())


class _FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_only_on_a_terminal_and_plain_fallback(monkeypatch):
    X, y = data.blobs(n=30, seed=0)
    model = _mlp(2, [4], 3, seed=0)
    opt = optim.SGD(model.parameters(), lr=0.1)
    quiet = io.StringIO()  # not a terminal: nothing is written
    fit(model, nn.CrossEntropyLoss(), opt, (X, y), epochs=2, file=quiet)
    assert quiet.getvalue() == ""
    tty = _FakeTTY()
    fit(model, nn.CrossEntropyLoss(), opt, (X, y), epochs=2, progress=False, file=tty)
    assert tty.getvalue() == ""
    monkeypatch.setattr(train, "_import_tqdm", lambda: None)  # as if tqdm were not installed
    tty = _FakeTTY()
    fit(model, nn.CrossEntropyLoss(), opt, (X, y), val_data=(X, y), epochs=3, file=tty)
    text = tty.getvalue()
    assert "epoch 3/3" in text and "loss" in text and "acc" in text and "val_acc" in text


def test_progress_uses_tqdm_on_a_terminal():
    pytest.importorskip("tqdm")
    X, y = data.blobs(n=30, seed=0)
    model = _mlp(2, [4], 3, seed=0)
    tty = _FakeTTY()
    fit(
        model,
        nn.CrossEntropyLoss(),
        optim.SGD(model.parameters(), lr=0.1),
        (X, y),
        epochs=2,
        file=tty,
    )
    assert "2/2" in tty.getvalue() and "acc" in tty.getvalue()


def test_fused_and_unfused_training_give_the_same_loss_curve():
    X, y = data.spiral(seed=0)
    curves, weights = [], []
    for fused in (True, False):
        model = _mlp(2, [32, 32], 3, seed=4)
        opt = optim.Adam(model.parameters(), lr=0.01)
        loader = data.DataLoader(X, y, batch_size=32, shuffle=True, seed=4)
        h = fit(model, nn.CrossEntropyLoss(fused=fused), opt, loader, epochs=8, progress=False)
        curves.append(np.array(h["train_loss"]))
        weights.append(model[-1].weight.data)
    np.testing.assert_allclose(curves[0], curves[1], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(weights[0], weights[1], rtol=1e-4, atol=1e-5)


def test_spiral_defaults_reach_99_percent_in_seconds():
    """The quality bar: the CLI's default recipe on spiral (300 points, 3 classes)."""
    X, y = data.spiral()
    assert X.shape == (300, 2)
    start = time.perf_counter()
    model = _mlp(2, [64, 64], 3, seed=0)
    opt = optim.Adam(model.parameters(), lr=0.01)
    sched = optim.CosineAnnealingLR(opt, T_max=100)
    loader = data.DataLoader(X, y, batch_size=32, shuffle=True, seed=0)
    fit(model, nn.CrossEntropyLoss(), opt, loader, epochs=100, progress=False, scheduler=sched)
    seconds = time.perf_counter() - start
    assert accuracy(model, X, y) >= 0.99
    assert seconds < 30  # a few seconds normally; generous for a loaded CI machine


@pytest.mark.slow
def test_digits_reach_96_percent_on_held_out_data():
    """The quality bar: >= 96% on a stratified 20% split with a small MLP, well under 30 s."""
    X, y = data.load_digits()
    X_tr, X_te, y_tr, y_te = data.train_test_split(X, y, test_size=0.2, seed=0, stratify=True)
    scaler = data.Standardizer().fit(X_tr)
    X_tr, X_te = scaler.transform(X_tr), scaler.transform(X_te)
    start = time.perf_counter()
    model = _mlp(64, [128], 10, seed=0)
    opt = optim.Adam(model.parameters(), lr=0.01)
    sched = optim.CosineAnnealingLR(opt, T_max=30)
    loader = data.DataLoader(X_tr, y_tr, batch_size=32, shuffle=True, seed=0)
    h = fit(
        model,
        nn.CrossEntropyLoss(),
        opt,
        loader,
        val_data=(X_te, y_te),
        epochs=30,
        progress=False,
        scheduler=sched,
    )
    seconds = time.perf_counter() - start
    assert accuracy(model, X_te, y_te) >= 0.96
    assert h["val_acc"][-1] >= 0.96
    assert seconds < 30


def test_user_written_loop_matches_fit():
    """fit is the plain loop: writing it by hand gives the same weights."""
    X, y = data.moons(n=64, seed=0)
    batches = list(data.DataLoader(X, y, batch_size=16))
    model_a = _mlp(2, [8], 2, seed=1)
    fit(
        model_a,
        nn.CrossEntropyLoss(),
        optim.SGD(model_a.parameters(), lr=0.1),
        batches,
        epochs=3,
        progress=False,
    )
    model_b = _mlp(2, [8], 2, seed=1)
    opt = optim.SGD(model_b.parameters(), lr=0.1)
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(3):
        for xb, yb in batches:
            opt.zero_grad()
            loss_fn(model_b(Tensor(xb)), yb).backward()
            opt.step()
    for (_, a), (_, b) in zip(model_a.named_parameters(), model_b.named_parameters(), strict=True):
        np.testing.assert_array_equal(a.data, b.data)


def test_best_never_picks_a_nan_epoch():
    h = History()
    for loss, acc in ((1.0, 0.5), (float("nan"), float("nan")), (0.5, 0.7), (float("nan"), 0.6)):
        h.append(train_loss=loss, train_acc=acc)
    assert h.best("train_loss") == (3, 0.5)
    assert h.best("train_acc") == (3, 0.7)
    h2 = History()
    h2.append(train_loss=float("nan"))
    with pytest.raises(ValueError, match="no finite"):
        h2.best("train_loss")
