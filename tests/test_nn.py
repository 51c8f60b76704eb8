"""Tests of tinygrad_ce.nn: registration, layers, losses, state dicts and checkpoints."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tinygrad_ce import Function, Tensor, gradcheck, nn
from tinygrad_ce import functional as F


class TwoLayer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.hidden = nn.Linear(3, 5, rng=0)
        self.act = nn.Tanh()
        self.out = nn.Linear(5, 2, rng=1)
        self.scale = nn.Parameter(np.float32(2.0))
        self.not_a_param = Tensor([1.0])

    def forward(self, x):
        return self.out(self.act(self.hidden(x))) * self.scale


def test_parameter_is_a_tensor_requiring_grad():
    p = nn.Parameter([1.0, 2.0])
    assert isinstance(p, Tensor) and p.requires_grad and p.dtype == np.float32
    assert repr(p).startswith("Parameter containing:")
    # ops accept it like any Tensor (Function.apply checks isinstance(x, Tensor))
    y = (p * p).sum()
    assert isinstance(y._ctx, Function)
    y.backward()
    np.testing.assert_array_equal(p.grad, [2.0, 4.0])


def test_registration_order_names_and_reassignment():
    m = TwoLayer()
    names = [n for n, _ in m.named_parameters()]
    # PyTorch's order: a module's own parameters, then its sub-modules' in attribute order
    assert names == ["scale", "hidden.weight", "hidden.bias", "out.weight", "out.bias"]
    assert len(list(m.parameters())) == 5
    assert m.num_parameters() == 3 * 5 + 5 + 5 * 2 + 2 + 1
    assert [n for n, _ in m.named_modules()] == ["", "hidden", "act", "out"]
    m.out = None  # replacing a module by a plain value unregisters it
    assert [n for n, _ in m.named_parameters()] == ["scale", "hidden.weight", "hidden.bias"]
    del m.scale
    assert [n for n, _ in m.named_parameters()] == ["hidden.weight", "hidden.bias"]


def test_shared_parameter_listed_once():
    lin = nn.Linear(2, 2, rng=0)
    model = nn.Sequential(lin, nn.ReLU(), lin)
    assert len(list(model.parameters())) == 2


def test_forgetting_super_init_is_a_clear_error():
    class Bad(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(2, 2)

    with pytest.raises(AttributeError, match=r"super\(\).__init__\(\)"):
        Bad()


def test_train_eval_propagate_and_zero_grad():
    m = TwoLayer()
    assert m.training and m.hidden.training
    assert m.eval() is m
    assert not m.training and not m.hidden.training and not m.act.training
    m.train()
    assert m.out.training
    m(np.ones((4, 3), np.float32)).sum().backward()
    assert all(p.grad is not None for p in m.parameters())
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())


def test_linear_init_matches_pytorch_bounds_and_layout():
    lin = nn.Linear(400, 30, rng=123)
    bound = 1 / math.sqrt(400)
    assert lin.weight.shape == (30, 400) and lin.bias.shape == (30,)
    assert lin.weight.dtype == np.float32
    for p in (lin.weight, lin.bias):
        assert np.abs(p.data).max() <= bound
    # uniform on [-b, b]: the standard deviation is b / sqrt(3)
    assert abs(lin.weight.data.std() - bound / math.sqrt(3)) < 0.05 * bound
    assert nn.Linear(3, 2, bias=False).bias is None


def test_linear_forward_and_gradients():
    lin = nn.Linear(3, 2, rng=0, dtype=np.float64)
    x = np.arange(12, dtype=np.float64).reshape(4, 3) / 10
    y = lin(x)
    np.testing.assert_allclose(y.data, x @ lin.weight.data.T + lin.bias.data)
    g = np.random.default_rng(0).standard_normal((4, 2))
    y.backward(g)
    np.testing.assert_allclose(lin.weight.grad, g.T @ x)
    np.testing.assert_allclose(lin.bias.grad, g.sum(0))
    # batched input (..., in) works too, and gradcheck agrees on the input gradient
    assert lin(np.ones((2, 5, 3))).shape == (2, 5, 2)
    gradcheck(lambda t: lin(t), [np.random.default_rng(1).standard_normal((4, 3))])


def test_linear_bad_input_shape_names_shapes():
    with pytest.raises(ValueError, match=r"\(\.\.\., 3\), got \(4, 2\)"):
        nn.Linear(3, 2)(np.ones((4, 2), np.float32))
    with pytest.raises(ValueError, match="positive integer"):
        nn.Linear(0, 2)


def test_manual_seed_makes_models_reproducible():
    nn.manual_seed(7)
    a = nn.Linear(4, 3)
    nn.manual_seed(7)
    b = nn.Linear(4, 3)
    c = nn.Linear(4, 3)
    np.testing.assert_array_equal(a.weight.data, b.weight.data)
    assert not np.array_equal(b.weight.data, c.weight.data)
    np.testing.assert_array_equal(
        nn.Linear(4, 3, rng=5).weight.data, nn.Linear(4, 3, rng=5).weight.data
    )


def test_sequential_indexing_len_iteration_and_repr():
    model = nn.Sequential(nn.Linear(2, 4, rng=0), nn.ReLU(), nn.Linear(4, 3, rng=1))
    assert len(model) == 3
    assert isinstance(model[1], nn.ReLU) and isinstance(model[-1], nn.Linear)
    head = model[:2]
    assert isinstance(head, nn.Sequential) and len(head) == 2
    assert head[0] is model[0]
    assert [type(m).__name__ for m in model] == ["Linear", "ReLU", "Linear"]
    assert [n for n, _ in model.named_parameters()] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    x = np.ones((5, 2), np.float32)
    np.testing.assert_allclose(model(x).data, model[2](model[1](model[0](x))).data)
    text = repr(model)
    assert text.splitlines()[0] == "Sequential("
    assert "(0): Linear(in_features=2, out_features=4, bias=True)" in text
    assert "(1): ReLU()" in text
    with pytest.raises(IndexError, match="out of range"):
        model[3]
    with pytest.raises(TypeError, match="not a Module"):
        nn.Sequential(nn.ReLU(), 3)
    model.append(nn.Sigmoid())
    assert len(model) == 4 and isinstance(model[3], nn.Sigmoid)


def test_activations_and_flatten():
    x = np.array([[-2.0, 0.5], [1.0, -0.1]])
    np.testing.assert_allclose(nn.ReLU()(x).data, np.maximum(x, 0))
    np.testing.assert_allclose(nn.Tanh()(x).data, np.tanh(x))
    np.testing.assert_allclose(nn.Sigmoid()(x).data, 1 / (1 + np.exp(-x)))
    assert nn.Identity()(x) is x
    assert nn.Flatten()(np.ones((3, 8, 8))).shape == (3, 64)


def test_dropout_is_inverted_and_off_in_eval():
    drop = nn.Dropout(0.25, rng=0)
    x = Tensor(np.ones((200, 100)), requires_grad=True)
    y = drop(x)
    kept = y.data != 0
    np.testing.assert_allclose(y.data[kept], 1 / 0.75)
    assert abs(kept.mean() - 0.75) < 0.01
    y.sum().backward()
    np.testing.assert_allclose(x.grad, kept / 0.75)  # gradient flows through kept entries only
    drop.eval()
    assert drop(x) is x
    assert np.all(nn.Dropout(1.0).train()(x).data == 0)
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.Dropout(1.5)


def test_mse_loss_value_gradient_and_errors():
    pred = Tensor([[1.0, 2.0], [3.0, 5.0]], requires_grad=True)
    target = np.array([[1.0, 1.0], [1.0, 1.0]], dtype=np.float32)
    loss = nn.MSELoss()(pred, target)
    assert loss.item() == pytest.approx((0 + 1 + 4 + 16) / 4)
    loss.backward()
    np.testing.assert_allclose(pred.grad, 2 * (pred.data - target) / 4)
    assert nn.MSELoss("sum")(pred, target).item() == pytest.approx(21)
    assert nn.MSELoss("none")(pred, target).shape == (2, 2)
    with pytest.raises(ValueError, match=r"\(2, 2\).*\(2,\)"):
        nn.MSELoss()(pred, np.ones(2))
    with pytest.raises(ValueError, match="reduction"):
        nn.MSELoss("avg")


def test_cross_entropy_loss_fused_and_unfused_agree():
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((6, 4))
    y = rng.integers(0, 4, 6)
    expected = np.mean(np.log(np.exp(logits).sum(1)) - logits[np.arange(6), y])
    grads = []
    for fused in (True, False):
        t = Tensor(logits, requires_grad=True)
        loss = nn.CrossEntropyLoss(fused=fused)(t, y)
        assert loss.item() == pytest.approx(expected, rel=1e-12)
        loss.backward()
        grads.append(t.grad)
    np.testing.assert_allclose(grads[0], grads[1], atol=1e-12)
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    np.testing.assert_allclose(grads[0], (p - np.eye(4)[y]) / 6, atol=1e-12)
    assert "fused=False" in repr(nn.CrossEntropyLoss(fused=False))


# --- state dicts and checkpoints -------------------------------------------------------------


def _mlp(seed: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(4, 8, rng=seed), nn.ReLU(), nn.Linear(8, 3, rng=seed + 1))


def test_state_dict_round_trip_is_exact_and_a_copy():
    a, b = _mlp(0), _mlp(10)
    state = a.state_dict()
    assert list(state) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    state["0.weight"][...] = 0  # a copy: changing it leaves the model alone
    assert np.any(a[0].weight.data != 0)
    b.load_state_dict(a.state_dict())
    for (na, pa), (nb, pb) in zip(a.named_parameters(), b.named_parameters(), strict=True):
        assert na == nb and pa.dtype == pb.dtype
        np.testing.assert_array_equal(pa.data, pb.data)
    assert b[0].weight.data is not a[0].weight.data


def test_load_state_dict_mismatches_are_clear_and_change_nothing():
    model = _mlp(0)
    before = model.state_dict()
    good = _mlp(1).state_dict()
    missing = {k: v for k, v in good.items() if k != "2.bias"}
    with pytest.raises(nn.CheckpointError, match=r"missing keys \['2.bias'\]"):
        model.load_state_dict(missing)
    extra = {**good, "3.weight": np.ones(2)}
    with pytest.raises(nn.CheckpointError, match=r"unexpected keys \['3.weight'\]"):
        model.load_state_dict(extra)
    bad_shape = {**good, "2.weight": np.ones((3, 9))}
    with pytest.raises(nn.CheckpointError, match=r"'2.weight'.*\(3, 8\).*\(3, 9\)"):
        model.load_state_dict(bad_shape)
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, before[k])
    model.load_state_dict(missing, strict=False)  # loads what is there
    np.testing.assert_array_equal(model[0].weight.data, good["0.weight"])


def test_save_load_round_trip(tmp_path):
    a, b = _mlp(0), _mlp(5)
    path = tmp_path / "model.npz"
    nn.save(a, path)
    assert path.exists() and not list(tmp_path.glob("*.tmp*"))
    assert nn.load(b, path) is b
    for k, v in a.state_dict().items():
        np.testing.assert_array_equal(b.state_dict()[k], v)
    c = _mlp(9).load(str(path))  # the Module method too, with a str path
    np.testing.assert_array_equal(c[2].bias.data, a[2].bias.data)
    x = np.ones((2, 4), np.float32)
    np.testing.assert_array_equal(c(x).data, a(x).data)


def test_corrupted_checkpoints_give_clear_errors(tmp_path):
    model = _mlp(0)
    good = tmp_path / "good.npz"
    nn.save(model, good)
    raw = good.read_bytes()

    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"this is not a checkpoint")
    with pytest.raises(nn.CheckpointError, match="not an .npz"):
        nn.load(model, garbage)

    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(nn.CheckpointError, match="corrupted"):
        nn.load(model, truncated)

    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, **{"0.weight": np.array([{"code": "evil"}], dtype=object)})
    with pytest.raises(nn.CheckpointError, match="allow_pickle"):
        nn.load(model, pickled)

    other = tmp_path / "other.npz"
    nn.save(nn.Linear(4, 3, rng=0), other)
    with pytest.raises(nn.CheckpointError, match="does not fit the model.*missing keys"):
        nn.load(model, other)

    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        nn.load(model, tmp_path / "absent.npz")


def test_cross_entropy_loss_passes_its_options():
    logits = Tensor(np.array([[2.0, 0.0, -1.0], [0.5, 0.5, 0.0]]), requires_grad=True)
    y = np.array([0, 2])
    per_row = nn.CrossEntropyLoss(reduction="none")(logits, y)
    assert per_row.shape == (2,)
    ignored = nn.CrossEntropyLoss(ignore_index=2)(logits, y)
    assert ignored.item() == pytest.approx(per_row.data[0])
    smooth = nn.CrossEntropyLoss(label_smoothing=0.1, fused=False)(logits, y)
    assert smooth.item() > nn.CrossEntropyLoss()(logits, y).item()
    with pytest.raises(ValueError, match="reduction"):
        nn.CrossEntropyLoss(reduction="avg")


@pytest.mark.parametrize("shape", [(5, 3), (2, 4, 3), (3,)])
@pytest.mark.parametrize("bias", [True, False])
def test_fused_linear_equals_composed_and_passes_gradcheck(shape, bias):
    rng = np.random.default_rng(0)
    fused = nn.Linear(3, 2, bias=bias, rng=0, dtype=np.float64)
    composed = nn.Linear(3, 2, bias=bias, rng=0, dtype=np.float64, fused=False)
    x = rng.standard_normal(shape)
    g = rng.standard_normal(shape[:-1] + (2,))
    grads = []
    for layer in (fused, composed):
        xt = Tensor(x, requires_grad=True)
        out = layer(xt)
        out.backward(g)
        grads.append([xt.grad] + [p.grad for p in layer.parameters()])
    assert fused(x)._ctx.name == "Affine"  # one node
    assert composed(x)._ctx.name == ("Add" if bias else "MatMul")  # primitives
    for a, b in zip(grads[0], grads[1], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    params = [fused.weight] + ([fused.bias] if bias else [])
    gradcheck(lambda xx, *ps: nn.Affine.apply(xx, *ps), [x, *(p.data for p in params)])


def test_fused_linear_supports_second_derivatives():
    from tinygrad_ce import grad

    lin = nn.Linear(3, 1, rng=0, dtype=np.float64)
    x = Tensor(np.array([[0.5, -1.0, 2.0]]), requires_grad=True)
    y = lin(x).tanh().sum()
    (gx,) = grad(y, x, create_graph=True)
    (hx,) = grad((gx * gx).sum(), x)
    # d/dx of sum(gx^2) with gx = (1 - t^2) w, t = tanh(w.x + b): finite differences agree
    w, b = lin.weight.data[0], lin.bias.data[0]

    def f(v):
        t = np.tanh(v @ w + b)
        return np.sum(((1 - t**2) * w) ** 2)

    eps = 1e-6
    num = [(f(x.data[0] + eps * e) - f(x.data[0] - eps * e)) / (2 * eps) for e in np.eye(3)]
    np.testing.assert_allclose(hx.data[0], num, rtol=1e-6)


def test_deepcopy_gives_an_independent_model():
    import copy

    model = _mlp(0)
    clone = copy.deepcopy(model)
    assert isinstance(clone[0].weight, nn.Parameter)
    assert [n for n, _ in clone.named_parameters()] == [n for n, _ in model.named_parameters()]
    clone[0].weight.data[...] = 0
    assert np.any(model[0].weight.data != 0)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("ignore_index", [None, 1])
def test_fused_cross_entropy_non_finite_logits(reduction, ignore_index):
    # The fused loss tests the row maxima for inf/NaN only when its result is not finite; rows
    # with +inf, all -inf, NaN must still be left unshifted (numpy reference below), and a
    # finite row next to them keeps its finite loss and gradient.
    z = np.array(
        [[1.0, np.inf, 0.0], [-np.inf, -np.inf, -np.inf], [0.5, np.nan, 2.0], [1.0, 2.0, 3.0]],
        dtype=np.float32,
    )
    y = np.array([0, 1, 2, 2])
    with np.errstate(all="ignore"):
        m = z.max(axis=1)
        m = np.where(np.isfinite(m), m, 0).astype(np.float32)
        rows = np.log(np.exp(z - m[:, None]).sum(axis=1)) - (z[np.arange(4), y] - m)
        kept = y != ignore_index
        rows[~kept] = 0
        expected = {"none": rows, "sum": rows.sum(), "mean": rows.sum() / kept.sum()}[reduction]
        x = Tensor(z, requires_grad=True)
        loss = nn.CrossEntropyLoss(reduction=reduction, ignore_index=ignore_index)(x, y)
        loss.sum().backward()
    np.testing.assert_allclose(loss.data, expected, rtol=1e-6, equal_nan=True)
    if reduction == "none":
        assert np.all(np.isfinite(x.grad[3]))


def test_mse_loss_module_is_the_functional_loss(monkeypatch):
    calls = []

    def spy(pred, target, reduction="mean"):
        calls.append(reduction)
        return Tensor(0.0)

    monkeypatch.setattr(F, "mse_loss", spy)
    nn.MSELoss("sum")(Tensor([1.0]), [2.0])
    assert calls == ["sum"]
    with pytest.raises(ValueError, match="MSELoss: reduction must be one of"):
        nn.MSELoss("avg")


# --- checkpoints lose nothing ("Trust") -------------------------------------------------------


class _Awkward(nn.Module):
    """Parameters named like np.savez's own keywords."""

    def __init__(self) -> None:
        super().__init__()
        self.file = nn.Parameter(np.array([1.0, 2.0], np.float32))
        self.allow_pickle = nn.Parameter(np.array([3.0], np.float32))
        self.args = nn.Parameter(np.array([4.0], np.float32))


def test_save_keeps_parameters_named_like_savez_keywords(tmp_path):
    path = tmp_path / "awkward.npz"
    nn.save(_Awkward(), path)
    fresh = _Awkward()
    for p in fresh.parameters():
        p.data = np.zeros_like(p.data)
    nn.load(fresh, path)
    assert fresh.state_dict().keys() == _Awkward().state_dict().keys()
    for k, v in _Awkward().state_dict().items():
        np.testing.assert_array_equal(fresh.state_dict()[k], v)


def test_save_is_atomic_and_leaves_the_old_file_on_failure(tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    nn.save(_mlp(0), path)
    before = path.read_bytes()

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np.lib.format, "write_array", broken)
    with pytest.raises(OSError, match="No space"):
        nn.save(_mlp(1), path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.npz"]


def test_load_of_a_directory_is_a_checkpoint_error(tmp_path):
    with pytest.raises(nn.CheckpointError, match="is a directory"):
        nn.load(_mlp(0), tmp_path)


def test_load_of_a_corrupt_compressed_member_is_a_checkpoint_error(tmp_path):
    model = _mlp(0)
    path = tmp_path / "compressed.npz"
    np.savez_compressed(path, **model.state_dict())
    raw = bytearray(path.read_bytes())
    # flip one byte of the first member's deflate stream (after its 30-byte local header):
    # zlib itself fails ("invalid distance too far back"), before any CRC check
    start = 30 + int.from_bytes(raw[26:28], "little") + int.from_bytes(raw[28:30], "little")
    raw[start + 48] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(nn.CheckpointError, match="corrupted"):
        nn.load(model, path)


def test_load_of_values_that_overflow_the_dtype_is_a_checkpoint_error(tmp_path):
    model = _mlp(0)
    state = {k: v.astype(np.float64) for k, v in model.state_dict().items()}
    state["0.weight"][0, 0] = 1e300  # finite in float64, inf in the model's float32
    path = tmp_path / "big.npz"
    np.savez(path, **state)
    before = model.state_dict()
    with pytest.raises(nn.CheckpointError, match="0.weight.*float32"):
        nn.load(model, path)
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, before[k])
