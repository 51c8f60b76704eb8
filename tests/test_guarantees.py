"""The engine's guarantees (docs/engine.md, "Guarantees"): no silent wrong gradient after an
in-place change, constants snapshotted, grad mode per thread, graphs freed after backward."""

from __future__ import annotations

import gc
import threading
import tracemalloc
import weakref

import numpy as np
import pytest

import tinygrad_ce as tg
from tinygrad_ce import F, Function, Tensor, draw_graph, explain, grad, nn, optim

# ---------------------------------------------------------------------------------------------
# in-place changes between forward and backward


def test_writing_through_data_after_forward_is_reported_at_backward():
    x = Tensor([1.0, 2.0], requires_grad=True)
    w = Tensor([3.0, 4.0], requires_grad=True, name="w")
    y = (x * w).sum()
    w.data[...] = 0
    with pytest.raises(RuntimeError, match=r"tensor 'w' of shape \(2,\).*Mul.*modified in place"):
        y.backward()
    assert x.grad is None and w.grad is None  # nothing accumulated


def test_assigning_data_after_forward_is_reported_and_names_the_shape():
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    w = Tensor(np.ones((3, 4)), requires_grad=True)
    y = (x @ w).sum()
    w.data = np.zeros((3, 4))
    with pytest.raises(RuntimeError, match=r"shape \(3, 4\).*MatMul"):
        y.backward()


def test_changing_an_op_output_in_place_is_reported():
    x = Tensor([0.5, 1.0], requires_grad=True)
    e = x.exp()  # Exp's rule reads its output
    e.data[0] = 100.0
    with pytest.raises(RuntimeError, match="output of Exp"):
        e.backward(np.ones(2))
    e = x.exp()
    loss = e.sum()
    e.data[0] = 100.0
    with pytest.raises(RuntimeError, match="input 'x' of Sum"):  # the first op to read it
        loss.backward()


def test_reading_data_between_forward_and_backward_is_fine():
    x = Tensor([1.0, 2.0], requires_grad=True)
    w = Tensor([3.0, 4.0], requires_grad=True)
    y = (x * w).sum()
    assert w.data.sum() == 7.0 and w.numpy()[0] == 3.0
    w.data[...] = w.data  # writing the same values changes nothing the op saved
    y.backward()
    np.testing.assert_array_equal(x.grad, [3.0, 4.0])


def test_optimizer_step_between_two_backwards_of_one_graph_is_reported():
    model = nn.Sequential(nn.Linear(3, 4, rng=0), nn.ReLU(), nn.Linear(4, 2, rng=1))
    opt = optim.Adam(model.parameters(), lr=0.1)
    loss = F.cross_entropy(model(Tensor(np.ones((2, 3), np.float32))), np.array([0, 1]))
    loss.backward(retain_graph=True)
    opt.step()
    with pytest.raises(RuntimeError, match="Affine.*modified in place"):
        loss.backward()


def test_fused_loss_second_backward_after_logits_changed_is_reported():
    z = Tensor(np.random.default_rng(0).standard_normal((3, 4)), requires_grad=True)
    logits = z * 1.0
    loss = F.cross_entropy(logits, np.array([0, 1, 2]))
    loss.backward(retain_graph=True)
    logits.data[...] = 100.0
    with pytest.raises(RuntimeError, match="SoftmaxCrossEntropy"):
        loss.backward()


def test_a_reference_taken_before_forward_cannot_be_written_while_an_op_holds_it():
    x = Tensor([1.0, 2.0], requires_grad=True)
    w = Tensor([3.0, 4.0], requires_grad=True)
    held = w.data
    y = (x * w).sum()
    with pytest.raises(ValueError, match="read-only"):
        held[0] = 9.0  # refused at once: the op's values cannot change under it
    y.backward()
    np.testing.assert_array_equal(x.grad, [3.0, 4.0])
    held = w.data  # after the backward freed the graph, writing in place works again
    held[0] = 9.0
    assert w.data[0] == 9.0


class _WritesIntoItsInput(Function):
    """A badly written custom op: its forward doubles its input array in place."""

    def forward(self, x):
        x *= 2
        return x.copy()

    def backward(self, g, out, x):
        return (g * 2,)


def test_an_op_writing_into_an_array_another_op_saved_is_refused():
    x = Tensor([1.0, 2.0], requires_grad=True)
    h = x * x  # Mul saved x's array
    with pytest.raises(ValueError, match="read-only"):
        _WritesIntoItsInput.apply(x)
    h.sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0, 4.0])


def test_training_loop_updates_parameters_in_place_without_copies():
    """The usual loop (forward, backward, step) writes into the same arrays: the graph freed
    by backward no longer holds them, so no copy-on-write is needed."""
    model = nn.Linear(3, 2, rng=0)
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    arrays = [weakref.ref(p._data) for p in model.parameters()]  # (a reference would count)
    for _ in range(3):
        opt.zero_grad()
        F.mse_loss(model(Tensor(np.ones((4, 3), np.float32))), np.zeros((4, 2))).backward()
        opt.step()
    assert all(p._data is a() for p, a in zip(model.parameters(), arrays, strict=True))


def test_grad_and_create_graph_use_the_same_values():
    """Both paths see the values the forward pass used, or both raise."""
    x = Tensor([1.0, 2.0], requires_grad=True)
    w = Tensor([3.0, 4.0], requires_grad=True)
    y = (x * w).sum()
    (fast,) = grad(y, x, retain_graph=True)
    (slow,) = grad(y, x, create_graph=True)
    np.testing.assert_array_equal(fast.data, slow.data)
    w.data[...] = 7.0
    for create_graph in (False, True):
        with pytest.raises(RuntimeError, match="modified in place"):
            grad(y, x, create_graph=create_graph)


# ---------------------------------------------------------------------------------------------
# caller-owned constants are snapshotted


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize(
    "options", [{}, {"weight": np.array([1.0, 2.0, 0.5])}, {"ignore_index": 1}]
)
def test_reusing_the_label_buffer_does_not_change_an_earlier_graph(fused, options):
    z = np.random.default_rng(1).standard_normal((4, 3))
    yb = np.array([0, 2, 1, 0])
    expected = Tensor(z, requires_grad=True)
    F.cross_entropy(expected, yb.copy(), fused=fused, **options).backward()
    x = Tensor(z, requires_grad=True)
    loss = F.cross_entropy(x, yb, fused=fused, **options)
    yb[:] = [1, 1, 2, 2]  # the next batch's labels, written into the same buffer
    loss.backward()
    np.testing.assert_allclose(x.grad, expected.grad, atol=1e-15)


@pytest.mark.parametrize("fused", [True, False])
def test_reusing_a_probability_target_buffer_does_not_change_an_earlier_graph(fused):
    z = np.random.default_rng(2).standard_normal((2, 3))
    tb = np.array([[0.2, 0.5, 0.3], [1.0, 0.0, 0.0]])
    expected = Tensor(z, requires_grad=True)
    F.cross_entropy(expected, tb.copy(), fused=fused).backward()
    x = Tensor(z, requires_grad=True)
    loss = F.cross_entropy(x, tb, fused=fused)
    tb[...] = 1.0 / 3
    loss.backward()
    np.testing.assert_allclose(x.grad, expected.grad, atol=1e-15)


def test_numpy_operands_masks_and_index_arrays_are_snapshotted():
    x = Tensor(np.arange(4.0), requires_grad=True)
    mask = np.array([1.0, 0.0, 1.0, 0.0])
    idx = np.array([0, 0, 3])
    bool_mask = np.array([True, False, False, True])
    loss = (x * mask).sum() + x[idx].sum() + (x[bool_mask] * 2.0).sum()
    mask[:] = 5.0
    idx[:] = 1
    bool_mask[:] = True
    loss.backward()
    np.testing.assert_array_equal(x.grad, [1 + 2 + 2, 0, 1, 1 + 2])


# ---------------------------------------------------------------------------------------------
# grad mode is per thread


def _train(seed: int, steps: int = 25) -> list[np.ndarray]:
    model = nn.Sequential(nn.Linear(4, 16, rng=seed), nn.Tanh(), nn.Linear(16, 3, rng=seed + 1))
    opt = optim.SGD(model.parameters(), lr=0.1)
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((32, 4)).astype(np.float32)
    y = rng.integers(0, 3, 32)
    for _ in range(steps):
        opt.zero_grad()
        F.cross_entropy(model(Tensor(X)), y).backward()
        with tg.no_grad():  # evaluation in the middle of training, as fit does
            model(Tensor(X))
        opt.step()
    return [p.data.copy() for p in model.parameters()]


def test_threads_training_independent_models_match_their_single_threaded_results():
    seeds = list(range(6))
    alone = [_train(s) for s in seeds]
    results: dict[int, list[np.ndarray]] = {}
    errors: list[BaseException] = []

    def work(seed: int) -> None:
        try:
            results[seed] = _train(seed)
        except BaseException as e:  # noqa: BLE001 - reported by the main thread
            errors.append(e)

    threads = [threading.Thread(target=work, args=(s,)) for s in seeds for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for s in seeds:
        for got, want in zip(results[s], alone[s], strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


def _in_other_thread(target) -> None:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            target()
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    t = threading.Thread(target=run)
    t.start()
    return t, errors


def test_no_grad_in_one_thread_does_not_stop_recording_in_another():
    entered, done = threading.Event(), threading.Event()

    def hold_no_grad() -> None:
        with tg.no_grad():
            entered.set()
            assert done.wait(10)

    t, errors = _in_other_thread(hold_no_grad)
    assert entered.wait(10)
    try:
        assert tg.is_grad_enabled()
        assert (Tensor([1.0], requires_grad=True) * 2).requires_grad
    finally:
        done.set()
        t.join()
    assert not errors


class _Waits(Function):
    """Identity whose backward waits, so another thread runs while a backward is under way."""

    started = threading.Event()
    go_on = threading.Event()

    def forward(self, x):
        return x.copy()

    def backward(self, g, out, x):
        _Waits.started.set()
        assert _Waits.go_on.wait(10)
        return (g,)


def test_a_backward_in_one_thread_does_not_switch_recording_off_in_another():
    _Waits.started.clear(), _Waits.go_on.clear()
    x = Tensor([1.0, 2.0], requires_grad=True)
    loss = _Waits.apply(x).sum()
    t, errors = _in_other_thread(loss.backward)
    assert _Waits.started.wait(10)
    try:
        assert tg.is_grad_enabled()
        assert (Tensor([1.0], requires_grad=True) * 2).requires_grad
    finally:
        _Waits.go_on.set()
        t.join()
    assert not errors
    np.testing.assert_array_equal(x.grad, [1.0, 1.0])


def test_one_grad_mode_object_shared_between_threads_restores_each_threads_mode():
    shared = tg.enable_grad()
    step = [threading.Event() for _ in range(3)]
    seen: list[bool] = []

    def inner() -> None:  # runs under its own no_grad, then enters the shared object
        with tg.no_grad():
            with shared:
                step[0].set()
                assert step[1].wait(10)
            seen.append(tg.is_grad_enabled())  # must be False again: its own no_grad
            step[2].set()

    t, errors = _in_other_thread(inner)
    assert step[0].wait(10)
    with shared:  # the main thread (grad on) enters the same object meanwhile
        step[1].set()
        assert step[2].wait(10)
    t.join()
    assert not errors and seen == [False]
    assert tg.is_grad_enabled()


def test_no_grad_on_a_generator_applies_inside_it_and_not_between_items():
    x = Tensor([1.0], requires_grad=True)

    @tg.no_grad
    def doubled(n):
        for _ in range(n):
            assert not tg.is_grad_enabled()
            yield x * 2
        return "finished"

    gen = doubled(3)
    items = []
    for item in gen:
        assert tg.is_grad_enabled()  # the caller's own code still records
        items.append(item)
    assert [t.requires_grad for t in items] == [False, False, False]
    assert (x * 2).requires_grad

    def collect():
        return (yield from doubled(1))

    outer = collect()
    next(outer)
    with pytest.raises(StopIteration) as stop:
        next(outer)
    assert stop.value.value == "finished"


# ---------------------------------------------------------------------------------------------
# retain_graph: backward frees what the graph saved


def test_a_second_backward_through_a_freed_graph_names_retain_graph():
    x = Tensor([1.0, -2.0], requires_grad=True)
    loss = (x.tanh() * x).sum()
    loss.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        loss.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        grad(loss, x)


def test_retain_graph_and_create_graph_keep_the_graph():
    x = Tensor([1.0, -2.0], requires_grad=True)
    loss = (x.tanh() * x).sum()
    grad(loss, x, create_graph=True)  # create_graph implies retain_graph
    grad(loss, x, retain_graph=True)
    loss.backward(retain_graph=True)
    loss.backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        loss.backward()


def test_explain_and_draw_graph_work_after_the_graph_is_freed():
    model = nn.Sequential(nn.Linear(20, 64, rng=0), nn.ReLU(), nn.Linear(64, 5, rng=1))
    X = Tensor(np.random.default_rng(0).standard_normal((50, 20)).astype(np.float32), name="X")
    loss = F.cross_entropy(model(X), np.arange(50) % 5)
    before_text, before_dot = explain(loss, model, quiet=True), draw_graph(loss, names=model)
    loss.backward()
    assert explain(loss, model, quiet=True) == before_text
    assert draw_graph(loss, names=model).source == before_dot.source
    freed = draw_graph(loss, names=model, show_data=True, show_grad=True).source
    assert "freed" in freed and "grad" in freed
    assert X.data.shape == (50, 20) and np.abs(X.data).sum() > 0  # the caller's tensor is intact


def test_losses_kept_after_backward_do_not_keep_activations_alive():
    """1,000 training steps that keep every loss (``losses.append(loss)``) hold only a few
    bytes per step, not the step's activations (about 100 kB each here)."""
    rng = np.random.default_rng(0)
    model = nn.Sequential(
        nn.Linear(64, 128, rng=0), nn.ReLU(), nn.Linear(128, 128, rng=1), nn.ReLU()
    )
    model = nn.Sequential(*model, nn.Linear(128, 10, rng=2))
    opt = optim.SGD(model.parameters(), lr=0.01)
    X = rng.standard_normal((64, 64)).astype(np.float32)
    y = rng.integers(0, 10, 64)
    losses = []

    def step() -> None:
        opt.zero_grad()
        loss = F.cross_entropy(model(Tensor(X)), y)
        loss.backward()
        opt.step()
        losses.append(loss)

    step()
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(1000):
            step()
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert held < 8e6, f"1,000 kept losses hold {held / 1e6:.1f} MB"
    assert np.isfinite(losses[-1].item())


def test_tensors_the_caller_holds_keep_their_values_after_the_graph_is_freed():
    model = nn.Sequential(nn.Linear(20, 64, rng=0), nn.ReLU(), nn.Linear(64, 5, rng=1))
    X = Tensor(np.random.default_rng(1).standard_normal((50, 20)).astype(np.float32))
    h = model[1](model[0](X))  # held here
    before = h.data.copy()
    logits = model[2](h * 1.0)  # the product is not held: only the graph refers to it
    F.cross_entropy(logits, np.arange(50) % 5).backward()
    np.testing.assert_array_equal(h.data, before)
    assert logits.data.shape == (50, 5) and np.isfinite(logits.data).all()
    product = logits._ctx.inputs[0]
    assert isinstance(product._data, tg.autograd.FreedArray)  # its 12.8 kB are gone
