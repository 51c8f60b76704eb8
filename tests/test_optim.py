"""Tests of tinygrad_ce.optim: updates equal PyTorch's formulas step by step."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tinygrad_ce import Tensor, nn, optim


def _param(values) -> nn.Parameter:
    return nn.Parameter(np.array(values, dtype=np.float64))


def _steps(opt, p, grads):
    out = []
    for g in grads:
        p.grad = np.array(g, dtype=np.float64)
        opt.step()
        out.append(p.data.copy())
    return out


# --- hand-computed values (no torch needed) --------------------------------------------------


def test_sgd_plain_step():
    p = _param([1.0, -2.0])
    opt = optim.SGD([p], lr=0.1)
    (after,) = _steps(opt, p, [[0.5, 1.0]])
    np.testing.assert_allclose(after, [1.0 - 0.05, -2.0 - 0.1])


def test_sgd_momentum_and_weight_decay_by_hand():
    p = _param([1.0])
    opt = optim.SGD([p], lr=0.1, momentum=0.9, weight_decay=0.5)
    got = _steps(opt, p, [[1.0], [1.0], [0.0]])
    # step 1: g = 1 + 0.5*1 = 1.5; b = 1.5; p = 1 - 0.15 = 0.85
    # step 2: g = 1 + 0.425 = 1.425; b = 0.9*1.5 + 1.425 = 2.775; p = 0.85 - 0.2775 = 0.5725
    # step 3: g = 0.28625; b = 0.9*2.775 + 0.28625 = 2.78375; p = 0.5725 - 0.278375 = 0.294125
    np.testing.assert_allclose(np.concatenate(got), [0.85, 0.5725, 0.294125], rtol=1e-12)


def test_sgd_nesterov_by_hand():
    p = _param([0.0])
    opt = optim.SGD([p], lr=1.0, momentum=0.5, nesterov=True)
    got = _steps(opt, p, [[1.0], [1.0]])
    # step 1: b = 1, g = 1 + 0.5*1 = 1.5 -> p = -1.5
    # step 2: b = 0.5 + 1 = 1.5, g = 1 + 0.75 = 1.75 -> p = -3.25
    np.testing.assert_allclose(np.concatenate(got), [-1.5, -3.25])


def test_adam_by_hand():
    p = _param([1.0])
    opt = optim.Adam([p], lr=0.1, betas=(0.9, 0.999), eps=1e-8)
    got = np.concatenate(_steps(opt, p, [[2.0], [-1.0]]))
    # step 1: m = 0.2, v = 0.004; m_hat = 2, v_hat = 4 -> p = 1 - 0.1 * 2 / (2 + 1e-8)
    p1 = 1 - 0.1 * 2 / (2 + 1e-8)
    # step 2: m = 0.18 - 0.1 = 0.08, v = 0.003996 + 0.001 = 0.004996
    m, v = 0.08, 0.004996
    p2 = p1 - 0.1 / (1 - 0.9**2) * m / (math.sqrt(v) / math.sqrt(1 - 0.999**2) + 1e-8)
    np.testing.assert_allclose(got, [p1, p2], rtol=1e-12)


def test_adam_weight_decay_vs_adamw_by_hand():
    # Adam folds the decay into the gradient; with g = 0 the first step is -lr * sign(p)
    p = _param([2.0])
    p.grad = np.zeros(1)
    optim.Adam([p], lr=0.1, weight_decay=0.5).step()
    np.testing.assert_allclose(p.data, [2.0 - 0.1 * 1.0 / (1.0 + 1e-8)], rtol=1e-12)
    # AdamW shrinks p by (1 - lr * wd) and then takes an Adam step with the raw gradient (0)
    q = _param([2.0])
    q.grad = np.zeros(1)
    optim.AdamW([q], lr=0.1, weight_decay=0.5).step()
    np.testing.assert_allclose(q.data, [2.0 * (1 - 0.05)])


# --- behaviour -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1),
        lambda ps: optim.Adam(ps, lr=0.1, weight_decay=0.1),
        lambda ps: optim.AdamW(ps, lr=0.1),
    ],
)
def test_grad_is_never_modified_and_none_grads_are_skipped(make):
    p, q = _param([1.0, 2.0]), _param([3.0])
    opt = make([p, q])
    g = np.array([0.5, -0.5])
    p.grad = g
    for _ in range(3):
        opt.step()
    np.testing.assert_array_equal(p.grad, [0.5, -0.5])
    assert p.grad is g  # the very same array, untouched
    np.testing.assert_array_equal(q.data, [3.0])  # grad None: skipped, no state
    assert id(q) not in opt.state
    opt.zero_grad()
    assert p.grad is None
    p.grad = g
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(p.grad, [0.0, 0.0])
    assert g.tolist() == [0.5, -0.5]


def test_updates_are_in_place_and_keep_float32():
    p = nn.Parameter(np.ones(3, np.float32))
    arr = p.data
    p.grad = np.full(3, 0.5, np.float32)
    optim.Adam([p], lr=0.01, weight_decay=0.1).step()
    assert p.data is arr and p.dtype == np.float32


def test_param_groups_override_defaults():
    a, b = _param([1.0]), _param([1.0])
    opt = optim.SGD([{"params": [a]}, {"params": [b], "lr": 1.0}], lr=0.1)
    a.grad = b.grad = np.ones(1)
    opt.step()
    np.testing.assert_allclose([a.data[0], b.data[0]], [0.9, 0.0])


def test_bad_arguments_are_clear_errors():
    p = _param([1.0])
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="learning rate"):
        optim.SGD([p], lr=-1)
    with pytest.raises(ValueError, match="nesterov"):
        optim.SGD([p], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="betas"):
        optim.Adam([p], betas=(0.9, 1.0))
    with pytest.raises(TypeError, match="not a Tensor"):
        optim.SGD([p, 3.0], lr=0.1)
    with pytest.raises(TypeError, match="iterable"):
        optim.SGD(p, lr=0.1)
    with pytest.raises(ValueError, match="more than one group"):
        optim.SGD([p, p], lr=0.1)
    with pytest.raises(ValueError, match="unknown options"):
        optim.SGD([{"params": [p], "betas": (0.9, 0.9)}], lr=0.1)


def test_optimizer_state_dict_round_trip_continues_identically():
    rng = np.random.default_rng(0)
    grads = rng.standard_normal((6, 3))
    p = _param(rng.standard_normal(3))
    opt = optim.Adam([p], lr=0.05)
    _steps(opt, p, grads[:3])
    saved_p, saved = p.data.copy(), opt.state_dict()
    rest = _steps(opt, p, grads[3:])

    q = _param(saved_p)
    opt2 = optim.Adam([q], lr=0.5)  # the hyper-parameters come back from the state dict too
    opt2.load_state_dict(saved)
    assert opt2.param_groups[0]["lr"] == 0.05
    rest2 = _steps(opt2, q, grads[3:])
    np.testing.assert_array_equal(np.array(rest), np.array(rest2))
    assert saved["state"][0]["step"] == 3  # a copy: later steps did not change it
    with pytest.raises(ValueError, match="sizes"):
        optim.Adam([q, _param([1.0])]).load_state_dict(saved)


def test_step_lr_and_cosine_by_hand():
    p = _param([1.0])
    opt = optim.SGD([p], lr=1.0)
    sched = optim.StepLR(opt, step_size=2, gamma=0.5)
    lrs = [opt.param_groups[0]["lr"]]
    for _ in range(5):
        sched.step()
        lrs.append(sched.get_last_lr()[0])
    assert lrs == [1.0, 1.0, 0.5, 0.5, 0.25, 0.25]

    opt = optim.SGD([p], lr=0.1)
    cos = optim.CosineAnnealingLR(opt, T_max=4, eta_min=0.02)
    lrs = [opt.param_groups[0]["lr"]]
    for _ in range(4):
        cos.step()
        lrs.append(cos.get_last_lr()[0])
    np.testing.assert_allclose(
        lrs,
        [
            0.1,
            0.02 + 0.08 * (1 + math.cos(math.pi / 4)) / 2,
            0.06,
            0.02 + 0.08 * (1 - math.cos(math.pi / 4)) / 2,
            0.02,
        ],
    )
    with pytest.raises(ValueError, match="T_max"):
        optim.CosineAnnealingLR(opt, T_max=0)


def test_training_a_tiny_regression_converges():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 3)).astype(np.float32)
    y = x @ np.array([[1.0], [-2.0], [0.5]], np.float32) + 0.3
    model = nn.Linear(3, 1, rng=0)
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    loss_fn = nn.MSELoss()
    for _ in range(200):
        opt.zero_grad()
        loss = loss_fn(model(Tensor(x)), y)
        loss.backward()
        opt.step()
    assert loss.item() < 1e-6
    np.testing.assert_allclose(model.bias.data, [0.3], atol=1e-3)


# --- PyTorch as an oracle (skipped when torch is not installed) -----------------------------

CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.01)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.02, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.01, betas=(0.85, 0.995), weight_decay=0.3)),
]


@pytest.mark.parametrize(("name", "kwargs"), CASES)
def test_matches_pytorch_step_by_step(name, kwargs):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    w0 = rng.standard_normal((3, 4))
    grads = rng.standard_normal((8, 3, 4))
    p = nn.Parameter(w0)
    ours = getattr(optim, name)([p], **kwargs)
    tp = torch.tensor(w0, requires_grad=True)
    theirs = getattr(torch.optim, name)([tp], **kwargs)
    for g in grads:
        p.grad = g.copy()
        ours.step()
        tp.grad = torch.tensor(g)
        theirs.step()
        np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize(
    ("ours", "kwargs"),
    [("StepLR", dict(step_size=3, gamma=0.3)), ("CosineAnnealingLR", dict(T_max=7, eta_min=1e-3))],
)
def test_schedules_match_pytorch(ours, kwargs):
    torch = pytest.importorskip("torch")
    p = _param([1.0])
    opt = optim.SGD([p], lr=0.1)
    sched = getattr(optim, ours)(opt, **kwargs)
    tp = torch.zeros(1, requires_grad=True)
    topt = torch.optim.SGD([tp], lr=0.1)
    tsched = getattr(torch.optim.lr_scheduler, ours)(topt, **kwargs)
    for _ in range(20):
        np.testing.assert_allclose(sched.get_last_lr(), tsched.get_last_lr(), rtol=1e-10)
        topt.step()
        sched.step()
        tsched.step()
