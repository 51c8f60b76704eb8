"""Vision layers and models: nn.Conv2d, pooling modules, batch norm (running statistics, eval
mode, second derivatives, buffers in checkpoints), the CNN builders, and PyTorch as an oracle."""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import check_vjp, rand
from test_conv import _hvp_check

from tinygrad_ce import Tensor, nn
from tinygrad_ce import functional as F
from tinygrad_ce.models import CNN, LeNet


def test_conv2d_layer_defaults_and_init():
    layer = nn.Conv2d(4, 8, (3, 5), stride=2, padding=(1, 2), rng=0)
    assert layer.weight.shape == (8, 4, 3, 5) and layer.bias.shape == (8,)
    bound = 1 / math.sqrt(4 * 3 * 5)
    for p in (layer.weight.data, layer.bias.data):
        assert p.dtype == np.float32 and np.abs(p).max() <= bound
    assert np.abs(layer.weight.data).max() > 0.9 * bound  # uniform over the whole range
    assert layer.training
    out = layer(np.zeros((2, 4, 9, 10), np.float32))
    assert out.shape == (2, 8, 5, 5)
    assert "stride=(2, 2)" in repr(layer) and "padding=(1, 2)" in repr(layer)
    assert nn.Conv2d(1, 2, 3, bias=False).bias is None


def test_conv2d_layer_rejects_bad_sizes():
    with pytest.raises(ValueError, match="in_channels"):
        nn.Conv2d(0, 2, 3)
    with pytest.raises(ValueError, match="kernel_size"):
        nn.Conv2d(1, 2, 0)


def test_pool_modules():
    x = rand((1, 2, 6, 6))
    np.testing.assert_array_equal(nn.MaxPool2d(2)(x).data, F.max_pool2d(x, 2).data)
    np.testing.assert_array_equal(nn.AvgPool2d(3, 1, 1)(x).data, F.avg_pool2d(x, 3, 1, 1).data)
    assert nn.MaxPool2d(3).stride == (3, 3)


# ---------------------------------------------------------------------------------------------
# batch norm


def test_batch_norm_train_mode_normalises_and_updates_running_stats():
    bn = nn.BatchNorm2d(3, momentum=0.2)
    assert bn.training and bn.weight.data.tolist() == [1, 1, 1] and bn.bias.data.sum() == 0
    x = rand((4, 3, 5, 5), 1) * 3 + 2
    y = bn(Tensor(x)).data
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), 0, atol=1e-6)
    np.testing.assert_allclose(y.var(axis=(0, 2, 3)), 1, atol=1e-3)
    mean, var = x.mean(axis=(0, 2, 3)), x.var(axis=(0, 2, 3), ddof=1)  # unbiased for running
    np.testing.assert_allclose(bn.running_mean.data, 0.8 * 0 + 0.2 * mean, rtol=1e-6)
    np.testing.assert_allclose(bn.running_var.data, 0.8 * 1 + 0.2 * var, rtol=1e-6)
    assert not bn.running_mean.requires_grad
    assert [n for n, _ in bn.named_parameters()] == ["weight", "bias"]


def test_batch_norm_eval_mode_uses_running_stats_and_changes_nothing():
    bn = nn.BatchNorm1d(2, eps=1e-3)
    bn.running_mean.data = np.array([1.0, -1.0], np.float32)
    bn.running_var.data = np.array([4.0, 0.25], np.float32)
    bn.weight.data = np.array([2.0, 1.0], np.float32)
    bn.eval()
    x = rand((5, 2), 2).astype(np.float32)
    y = bn(x).data
    expected = (x - [1.0, -1.0]) / np.sqrt(np.array([4.0, 0.25]) + 1e-3) * [2.0, 1.0]
    np.testing.assert_allclose(y, expected, rtol=1e-5)
    np.testing.assert_array_equal(bn.running_mean.data, [1.0, -1.0])  # not updated
    bn.train()
    assert bn.training


def test_composed_batch_norm_vjp_and_hessian_vector_product():
    w, b = rand((3,), 3), rand((3,), 4)
    check_vjp(lambda x, w, b: F.batch_norm(x, training=True, weight=w, bias=b, fused=False),
              [rand((4, 3, 2, 2), 1), w, b])  # fmt: skip
    check_vjp(lambda x: F.batch_norm(x, training=True, fused=False), [rand((5, 3), 5)])

    def loss(x, w, b):
        y = F.batch_norm(x, weight=w, bias=b, training=True, fused=False)
        return (y.tanh() * rand((4, 3, 2, 2), 6)).sum()

    _hvp_check(loss, [rand((4, 3, 2, 2), 1), w, b])


def test_batch_norm_errors():
    with pytest.raises(ValueError, match=r"more than 1 value per channel.*\(1, 3\)"):
        nn.BatchNorm1d(3)(np.zeros((1, 3), np.float32))
    with pytest.raises(
        ValueError, match=r"BatchNorm2d\(3\) expects .*\(N, C, H, W\).*\(2, 4, 5, 5\)"
    ):
        nn.BatchNorm2d(3)(np.zeros((2, 4, 5, 5), np.float32))
    with pytest.raises(ValueError, match=r"weight of shape \(2,\).*3 channels"):
        F.batch_norm(np.zeros((2, 3)), weight=np.ones(2), training=True)


def test_buffers_are_saved_and_loaded(tmp_path):
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2))
    model(rand((4, 1, 5, 5)).astype(np.float32))  # one training step moves the running stats
    state = model.state_dict()
    assert "1.running_mean" in state and "1.running_var" in state
    assert len(list(model.parameters())) == 4  # buffers are not parameters
    nn.save(model, tmp_path / "m.npz")
    other = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2)).load(tmp_path / "m.npz")
    np.testing.assert_array_equal(other[1].running_var.data, model[1].running_var.data)
    with pytest.raises(nn.CheckpointError, match="running_mean"):
        nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2)).load_state_dict(
            {k: v for k, v in state.items() if k != "1.running_mean"}
        )


# ---------------------------------------------------------------------------------------------
# models


def test_cnn_builder_shapes_and_lazy_name():
    assert nn.CNN is CNN and nn.LeNet is LeNet
    model = nn.CNN((1, 8, 8), 10, channels=(4, 8), hidden=16, batch_norm=True)
    out = model(Tensor(rand((3, 1, 8, 8)).astype(np.float32)))
    assert out.shape == (3, 10)
    assert any(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    with pytest.raises(ValueError, match=r"\(N, 1, 8, 8\), got \(3, 64\)"):
        model(np.zeros((3, 64), np.float32))
    with pytest.raises(ValueError, match="too small"):
        nn.CNN((1, 8, 8), channels=(4, 4, 4, 4))
    with pytest.raises(AttributeError):
        _ = nn.NoSuchModel


def test_lenet_has_the_classic_size():
    model = LeNet()
    assert model.num_parameters() == 61_706
    assert model(np.zeros((2, 1, 28, 28), np.float32)).shape == (2, 10)


def test_a_cnn_learns_a_tiny_problem():
    """Vertical vs horizontal bars: a few Adam steps separate them."""
    from tinygrad_ce import optim

    rng = np.random.default_rng(0)
    x = rng.normal(0, 0.1, (32, 1, 6, 6)).astype(np.float32)
    y = np.arange(32) % 2
    x[y == 0, 0, :, 2] += 1.0
    x[y == 1, 0, 3, :] += 1.0
    nn.manual_seed(0)
    model = nn.CNN((1, 6, 6), 2, channels=(4,), hidden=8)
    opt = optim.Adam(model.parameters(), lr=0.02)
    for _ in range(30):
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert (model(x).data.argmax(axis=1) == y).mean() == 1.0


# ---------------------------------------------------------------------------------------------
# PyTorch as an oracle (skipped when it is not installed)


def test_torch_oracle_conv_pool_batch_norm():
    torch = pytest.importorskip("torch")
    tF = torch.nn.functional
    rng = np.random.default_rng(0)
    x, w, b = (
        rng.standard_normal((3, 2, 9, 8)),
        rng.standard_normal((4, 2, 3, 2)),
        rng.standard_normal(4),
    )
    ours = [Tensor(a, requires_grad=True) for a in (x, w, b)]
    theirs = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]

    def net(F_conv, F_max, F_avg, x, w, b):
        z = F_conv(x, w, b, stride=(2, 1), padding=(1, 2))
        return F_max(z, 3, 2, 1) * 1.5 + F_avg(z, (2, 3), (1, 2), (1, 0)).sum()

    z = net(F.conv2d, F.max_pool2d, F.avg_pool2d, *ours)
    zt = net(tF.conv2d, tF.max_pool2d, tF.avg_pool2d, *theirs)
    np.testing.assert_allclose(z.data, zt.detach().numpy(), atol=1e-10)
    g = rng.standard_normal(z.shape)
    z.backward(g)
    zt.backward(torch.tensor(g))
    for a, t in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(a.grad, t.grad.numpy(), atol=1e-9)

    # batch norm: output, gradient, running statistics, eval mode
    bn, tbn = nn.BatchNorm2d(2, momentum=0.3), torch.nn.BatchNorm2d(2, momentum=0.3).double()
    for p in (bn.weight, bn.bias):
        p.data = p.data.astype(np.float64)
    xb = Tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    for _ in range(2):
        yb, yt = bn(xb), tbn(xt)
    np.testing.assert_allclose(yb.data, yt.detach().numpy(), atol=1e-6)
    gb = rng.standard_normal(x.shape)
    (yb * gb).sum().backward()
    (yt * torch.tensor(gb)).sum().backward()
    np.testing.assert_allclose(xb.grad, xt.grad.numpy(), atol=1e-6)
    np.testing.assert_allclose(bn.running_mean.data, tbn.running_mean.numpy(), rtol=1e-6)
    np.testing.assert_allclose(bn.running_var.data, tbn.running_var.numpy(), rtol=1e-6)
    bn.eval(), tbn.eval()
    np.testing.assert_allclose(bn(x).data, tbn(torch.tensor(x)).detach().numpy(), atol=1e-5)


# ---------------------------------------------------------------------------------------------
# the fused batch-norm node against the composed one


@pytest.mark.parametrize("shape", [(5, 3), (4, 3, 2, 2), (3, 2, 4)])
@pytest.mark.parametrize("affine", ["both", "weight", "bias", "none"])
def test_fused_batch_norm_matches_the_composed_one(shape, affine):
    c = shape[1]
    w = rand((c,), 3) if affine in ("both", "weight") else None
    b = rand((c,), 4) if affine in ("both", "bias") else None
    x = rand(shape, 1)
    up = rand(shape, 2)
    results = []
    for fused in (True, False):
        xt = Tensor(x, requires_grad=True)
        params = [None if a is None else Tensor(a, requires_grad=True) for a in (w, b)]
        rm, rv = np.zeros(c), np.ones(c)  # updated in place
        y = F.batch_norm(xt, rm, rv, params[0], params[1], training=True, fused=fused)
        (y * up).sum().backward()
        results.append([y.data, xt.grad, rm, rv] + [p.grad for p in params if p is not None])
    assert (y._ctx.name == "BatchNorm") is False  # the last one was composed
    for a, b_ in zip(*results, strict=True):
        np.testing.assert_allclose(a, b_, atol=1e-10)


def test_fused_batch_norm_vjp_and_hessian_vector_product():
    x, w, b = rand((4, 3, 2, 2), 1), rand((3,), 3), rand((3,), 4)
    check_vjp(lambda x, w, b: F.batch_norm(x, weight=w, bias=b, training=True), [x, w, b])

    def loss(x, w, b):
        y = F.batch_norm(x, weight=w, bias=b, training=True)
        assert y.grad_fn.name == "BatchNorm"
        return (y.tanh() * rand((4, 3, 2, 2), 6)).sum()

    _hvp_check(loss, [x, w, b])


# ---------------------------------------------------------------------------------------------
# pictures of a CNN


def test_plot_filters_and_feature_maps(tmp_path):
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    from tinygrad_ce import plots

    nn.manual_seed(0)
    model = nn.CNN((1, 8, 8), 10, channels=(4, 6), hidden=8, batch_norm=True)
    fig = plots.plot_filters(model[0].weight, tmp_path / "f.png", title="filters")
    assert (tmp_path / "f.png").stat().st_size > 0
    assert sum(ax.has_data() for ax in fig.axes) == 4  # one image per filter
    image = rand((1, 8, 8)).astype(np.float32)
    was = [m.training for m in model.modules()]
    fig = plots.plot_feature_maps(model, image, tmp_path / "m.png", max_maps=5)
    assert [m.training for m in model.modules()] == was  # eval mode only while drawing
    # the input (1 map), the first block (4 of 4) and the second (5 of 6)
    assert sum(ax.has_data() for ax in fig.axes) == 1 + 4 + 5
    assert np.all(model[1].running_mean.data == 0)  # drawing did not train batch norm
    plt.close("all")
    with pytest.raises(ValueError, match=r"\(O, C, kh, kw\)"):
        plots.plot_filters(np.zeros((3, 3)))
    with pytest.raises(TypeError, match="Sequential"):
        plots.plot_feature_maps(nn.Conv2d(1, 2, 3), image)
