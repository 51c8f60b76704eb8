"""The engine: the backward walk, accumulation, grad mode, freeing memory, errors."""

from __future__ import annotations

import gc
import operator
import sys
import tracemalloc
import weakref

import numpy as np
import pytest

import tinygrad_ce
from tinygrad_ce import Function, Tensor, enable_grad, grad, is_grad_enabled, no_grad

# --- the walk ----------------------------------------------------------------------------


def test_deep_chain_of_100k_ops_backward_is_iterative_and_right():
    n = 100_000
    x = Tensor(np.linspace(-1.0, 1.0, 16), requires_grad=True)
    y = x
    for _ in range(n):
        y = y * 1.0001 + 0.001
    assert sys.getrecursionlimit() < 2 * n  # a recursive walk could not do this
    v = np.arange(1.0, 17.0)
    y.backward(v)
    # y = a^n x + b (a^n - 1) / (a - 1): dy/dx = a^n on every element
    np.testing.assert_allclose(x.grad, v * 1.0001**n, rtol=1e-9)
    expected = 1.0001**n * x.data + 0.001 * (1.0001**n - 1) / 0.0001
    np.testing.assert_allclose(y.data, expected, rtol=1e-9)
    del y  # freeing 200k nodes must not overflow the C stack either


def test_tensor_used_several_times_gets_every_contribution():
    a = np.array([0.5, -1.0, 2.0])
    x = Tensor(a, requires_grad=True)
    y = x * x + 3.0 * x + x.exp() - x / 2.0  # four uses of x, one of them twice
    v = np.array([1.0, 2.0, -1.0])
    y.backward(v)
    np.testing.assert_allclose(x.grad, v * (2 * a + 3.0 + np.exp(a) - 0.5))


def test_diamond_shared_intermediate_is_visited_once_with_summed_gradient():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    h = x * 3.0  # used by both branches
    calls = []

    class Spy(Function):
        """z = x;  dx = g   (counts its backward calls)"""

        def forward(self, x):
            return x.copy()

        def backward(self, g, out, x):
            calls.append(np.array(g))
            return (g,)

    s = Spy.apply(h)
    out = (s * s).sum() + s.sum() * 2.0
    out.backward()
    assert len(calls) == 1
    np.testing.assert_allclose(calls[0], 2 * h.data + 2.0)
    np.testing.assert_allclose(x.grad, 3.0 * (2 * h.data + 2.0))


def test_leaf_grad_accumulates_across_backward_calls_until_reset():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad, [2.0, 4.0])
    (x * 3.0).sum().backward()
    np.testing.assert_allclose(x.grad, [5.0, 7.0])
    x.grad = None
    (x * 3.0).sum().backward()
    np.testing.assert_allclose(x.grad, [3.0, 3.0])
    x.zero_grad()
    assert x.grad is None


def test_graph_is_retained_so_backward_can_run_twice():
    x = Tensor(np.array([1.0, -2.0]), requires_grad=True)
    loss = (x.tanh() * x).sum()
    loss.backward(retain_graph=True)
    first = x.grad.copy()
    loss.backward()
    np.testing.assert_allclose(x.grad, 2 * first)


def test_accumulated_grad_does_not_alias_other_arrays():
    """Two leaves fed the same gradient array (by Add) must not share memory."""
    x = Tensor(np.zeros(3), requires_grad=True)
    y = Tensor(np.zeros(3), requires_grad=True)
    g = np.array([1.0, 2.0, 3.0])
    (x + y).backward(g)
    assert not np.shares_memory(x.grad, y.grad)
    assert not np.shares_memory(x.grad, g)
    x.grad *= 10.0  # an optimizer may update .grad in place
    np.testing.assert_allclose(y.grad, g)
    np.testing.assert_allclose(g, [1.0, 2.0, 3.0])


def test_leaf_grad_is_a_fresh_writable_array_even_through_views():
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    x.reshape(6).transpose().backward(np.arange(6.0))
    assert x.grad.flags.writeable and x.grad.flags.owndata
    np.testing.assert_allclose(x.grad, np.arange(6.0).reshape(2, 3))
    z = Tensor(np.ones(3), requires_grad=True)
    z.sum().backward()  # Sum's rule returns a read-only broadcast view
    assert z.grad.flags.writeable
    z.grad += 1.0
    np.testing.assert_allclose(z.grad, 2.0)


def test_constants_get_no_gradient_and_no_node():
    w = Tensor(np.ones(3))
    x = Tensor(np.ones(3), requires_grad=True)
    out = w * x
    assert out._ctx.needs == (False, True)
    out.sum().backward()
    assert w.grad is None
    c = w * 2.0
    assert c.requires_grad is False and c._ctx is None


def test_retain_grad_keeps_an_intermediate_gradient():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    h = x * 2.0
    h.retain_grad()
    (h * h).sum().backward()
    np.testing.assert_allclose(h.grad, 2 * h.data)
    np.testing.assert_allclose(x.grad, 4 * h.data)


def test_recorded_node_exposes_inputs_arrays_needs_name():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    out = x * 3.0
    node = out._ctx
    assert node.name == "Mul"
    assert node.inputs[0] is x and node.inputs[1] == 3.0
    np.testing.assert_array_equal(node.arrays[0], x.data)
    assert node.needs == (True, False)
    assert out.grad_fn is node and not out.is_leaf and x.is_leaf


# --- grad mode ---------------------------------------------------------------------------


def _recorded(t: Tensor) -> bool:
    return t.requires_grad or t._ctx is not None


def test_no_grad_context_manager_records_nothing():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    with no_grad():
        assert not is_grad_enabled()
        y = (x * 2.0).exp().sum()
        z = x @ x
    assert is_grad_enabled()
    assert not _recorded(y) and not _recorded(z)
    np.testing.assert_allclose(y.data, np.exp(2.0) + np.exp(4.0))
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.backward()
    assert x.grad is None


def test_no_grad_as_decorator_with_and_without_parentheses():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)

    @no_grad
    def f(t):
        """Doubles."""
        assert not is_grad_enabled()
        return t * 2.0

    @no_grad()
    def g(t):
        assert not is_grad_enabled()
        return t * 3.0

    assert not _recorded(f(x)) and not _recorded(g(x))
    assert f.__name__ == "f" and f.__doc__ == "Doubles."
    assert is_grad_enabled()
    assert _recorded(x * 2.0)


def test_no_grad_is_reentrant_and_nests():
    ctx = no_grad()
    with ctx:
        with ctx:  # the same object entered twice
            assert not is_grad_enabled()
            with enable_grad():
                assert is_grad_enabled()
                assert _recorded(Tensor(np.ones(2), requires_grad=True) * 2.0)
            assert not is_grad_enabled()
        assert not is_grad_enabled()
    assert is_grad_enabled()


def test_no_grad_restores_the_mode_after_an_exception():
    with pytest.raises(ZeroDivisionError):
        with no_grad():
            1 / 0  # noqa: B018
    assert is_grad_enabled()

    @no_grad
    def boom():
        raise KeyError("x")

    with pytest.raises(KeyError):
        boom()
    assert is_grad_enabled()
    with no_grad():
        with pytest.raises(ValueError):
            with enable_grad():
                raise ValueError
        assert not is_grad_enabled()  # back to the enclosing no_grad, not to True


def test_detach_cuts_the_graph():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = x * x
    d = y.detach()
    assert not _recorded(d)
    np.testing.assert_array_equal(d.data, y.data)
    (y * d).sum().backward()  # d is a constant: d/dx (x^2 * c) = 2 x c
    np.testing.assert_allclose(x.grad, 2 * x.data * d.data)


_LEAKY_TEST = """
import tinygrad_ce

def test_forgets_to_restore():
    tinygrad_ce.no_grad().__enter__()

def test_fine():
    with tinygrad_ce.no_grad():
        pass
    assert tinygrad_ce.is_grad_enabled()
"""


def test_conftest_fixture_fails_a_test_that_leaves_grad_mode_changed(pytester):
    from pathlib import Path

    pytester.makeconftest(Path(__file__).with_name("conftest.py").read_text())
    pytester.makepyfile(test_leak=_LEAKY_TEST)
    result = pytester.runpytest_inprocess(
        "-p", "no:randomly", "-p", "no:xdist", "-p", "no:benchmark"
    )
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["*changed grad mode from True to False*"])
    assert is_grad_enabled()  # and the fixture put it back


# --- memory ------------------------------------------------------------------------------


def test_finished_graph_is_freed_without_the_cycle_collector():
    gc.disable()
    try:
        x = Tensor(np.ones(8), requires_grad=True)
        h = (x * 2.0).tanh()
        loss = (h * h).sum()
        ref_h, ref_node = weakref.ref(h), weakref.ref(h._ctx)
        loss.backward()
        del h
        assert ref_h() is not None  # still part of loss's graph
        del loss
        assert ref_h() is None and ref_node() is None  # freed by refcounting alone
        assert x.grad is not None
    finally:
        gc.enable()


def test_training_loop_does_not_grow_memory():
    rng = np.random.default_rng(0)
    X = Tensor(rng.standard_normal((32, 4)))
    Y = Tensor(rng.standard_normal((32, 1)))
    params = [
        Tensor(rng.standard_normal((4, 16)) * 0.5, requires_grad=True),
        Tensor(np.zeros(16), requires_grad=True),
        Tensor(rng.standard_normal((16, 1)) * 0.5, requires_grad=True),
        Tensor(np.zeros(1), requires_grad=True),
    ]

    def step():
        w1, b1, w2, b2 = params
        pred = (X @ w1 + b1).tanh() @ w2 + b2
        loss = ((pred - Y) ** 2).mean()
        loss.backward()
        for p in params:
            p.data = p.data - 0.05 * p.grad
            p.grad = None
        return loss.item()

    def live_tensors() -> int:
        gc.collect()  # drop unrelated garbage left by earlier tests, so counts are comparable
        return sum(type(o) is Tensor for o in gc.get_objects())

    live_tensors()

    losses = np.zeros(1000)
    tracemalloc.start()
    try:
        for i in range(1000):
            losses[i] = step()
            if i == 99:
                at_100 = tracemalloc.get_traced_memory()[0]
                tensors_100 = live_tensors()
        at_1000 = tracemalloc.get_traced_memory()[0]
        tensors_1000 = live_tensors()
    finally:
        tracemalloc.stop()
    assert losses[-1] < 0.5 * losses[0]  # it did train
    assert tensors_1000 == tensors_100  # no Tensor of any step's graph survives
    # One step's graph holds ~15 arrays of up to 32 x 16 float64 (4 kB): keeping one graph per
    # step would add > 30 MB. The margin covers Python's free lists for small objects, which
    # tracemalloc counts as in use (they fill up over the first ~2000 steps, then plateau).
    assert at_1000 - at_100 < 256 * 1024, (at_100, at_1000)


def _backward_peak(n_ops: int, size: int, retain: bool) -> tuple[int, int]:
    """Peak extra memory of backward() on a chain of ``n_ops`` tanh over ``size`` float64."""
    x = Tensor(np.linspace(-1, 1, size), requires_grad=True)
    y = x
    for _ in range(n_ops):
        y = (y * 0.9).tanh()
        if retain:
            y.retain_grad()
    v = np.ones(size)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        y.backward(v)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak - before, v.nbytes


def test_backward_frees_each_intermediate_gradient_once_used():
    # 2 x 100 nodes of 512 kB each: keeping every intermediate gradient would need > 100 MB
    extra, array_bytes = _backward_peak(100, 65_536, retain=False)
    assert extra < 8 * array_bytes, f"backward peak {extra / 1e6:.1f} MB"
    # the measurement does see gradients that are kept: retaining them all blows the bound
    extra_retained, _ = _backward_peak(100, 65_536, retain=True)
    assert extra_retained > 50 * array_bytes


# --- errors: clear messages, and a failed call changes nothing ---------------------------


def test_matmul_shape_mismatch_names_both_shapes():
    a = Tensor(np.ones((3, 4)), requires_grad=True)
    with pytest.raises(ValueError, match=r"\(3, 4\).*\(5, 2\)"):
        a @ Tensor(np.ones((5, 2)))
    with pytest.raises(ValueError, match=r"\(2, 3, 4\).*\(3, 4, 5\)"):
        Tensor(np.ones((2, 3, 4))) @ Tensor(np.ones((3, 4, 5)))
    with pytest.raises(ValueError, match=r"\(\).*\(3, 4\)"):
        Tensor(2.0) @ a
    assert a.grad is None


@pytest.mark.parametrize("op", [operator.add, operator.sub, operator.mul, operator.truediv, pow])
def test_broadcast_mismatch_names_both_shapes(op):
    a = Tensor(np.ones((3, 4)), requires_grad=True)
    with pytest.raises(ValueError, match=r"\(3, 4\) and \(2, 4\)"):
        op(a, Tensor(np.ones((2, 4))))
    with pytest.raises(ValueError, match=r"\(3, 4\) and \(5,\)"):
        op(a, np.ones(5))
    with pytest.raises(ValueError, match=r"\(5,\) and \(3, 4\)"):
        op(np.ones(5), a)
    assert a.grad is None


def test_backward_on_non_scalar_without_grad_says_so():
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    y = x * 2.0
    with pytest.raises(RuntimeError, match=r"shape \(2, 3\).*grad") as info:
        y.backward()
    assert "sum()" in str(info.value)
    assert x.grad is None


def test_backward_with_wrong_shaped_grad_names_both_shapes_and_changes_nothing():
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    x.grad = np.full((2, 3), 7.0)
    y = x * 2.0
    with pytest.raises(ValueError, match=r"\(3, 2\).*\(2, 3\)"):
        y.backward(np.ones((3, 2)))
    with pytest.raises(ValueError, match=r"\(6,\).*\(2, 3\)"):
        y.backward(Tensor(np.ones(6)))
    np.testing.assert_array_equal(x.grad, 7.0)


def test_backward_without_requires_grad_explains():
    with pytest.raises(RuntimeError, match="requires_grad=True"):
        Tensor(np.ones(2)).sum().backward()


def test_int_data_with_requires_grad_explains():
    with pytest.raises(TypeError, match="int64"):
        Tensor([1, 2, 3], requires_grad=True)


def test_failed_op_records_nothing_and_leaves_grads_alone():
    x = Tensor(np.ones((3, 4)), requires_grad=True)
    before = x._ctx, x.requires_grad
    with pytest.raises(ValueError):
        x + np.ones((2, 2))
    with pytest.raises(ValueError, match=r"reshape.*\(3, 4\).*\(5, 5\)"):
        x.reshape(5, 5)
    with pytest.raises(ValueError, match="permutation"):
        x.transpose(0, 0)
    with pytest.raises(ValueError, match="out of range"):
        x.sum(axis=3)
    assert (x._ctx, x.requires_grad) == before
    assert x.grad is None


class _Explodes(Function):
    """z = 2 x;  (its backward raises)"""

    def forward(self, x):
        return 2 * x

    def backward(self, g, out, x):
        raise RuntimeError("rule failed")


def test_backward_that_fails_midway_leaves_every_grad_unchanged():
    a = Tensor(np.ones(3), requires_grad=True)
    b = Tensor(np.ones(3), requires_grad=True)
    b.grad = np.full(3, 5.0)
    out = (_Explodes.apply(a) + b * 2.0).sum()  # b's gradient is ready before the failure
    with pytest.raises(RuntimeError, match="rule failed"):
        out.backward()
    assert a.grad is None
    np.testing.assert_array_equal(b.grad, 5.0)


class _WrongShape(Function):
    """z = x.sum();  dx = (wrong) a gradient of the wrong shape"""

    def forward(self, x):
        return x.sum()

    def backward(self, g, out, x):
        return (np.ones(7),)


def test_a_rule_returning_a_wrong_shape_is_an_error_not_a_silent_reshape():
    x = Tensor(np.ones(3), requires_grad=True)
    with pytest.raises(ValueError, match=r"\(7,\).*\(3,\)"):
        _WrongShape.apply(x).backward()
    assert x.grad is None


# --- grad() ------------------------------------------------------------------------------


def test_grad_returns_gradients_and_leaves_dot_grad_untouched():
    a = np.array([1.0, 2.0, 3.0])
    x = Tensor(a, requires_grad=True)
    w = Tensor(np.array([0.5, -1.0, 2.0]), requires_grad=True)
    x.grad = np.full(3, 9.0)
    loss = (x * x * w).sum()
    gx, gw = grad(loss, [x, w])
    assert isinstance(gx, Tensor) and isinstance(gw, Tensor)
    np.testing.assert_allclose(gx.data, 2 * a * w.data)
    np.testing.assert_allclose(gw.data, a * a)
    np.testing.assert_array_equal(x.grad, 9.0)
    assert w.grad is None
    assert not gx.requires_grad  # no create_graph: plain values


def test_grad_single_input_and_output_give_a_one_tuple():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    result = grad((x * x).sum(), x)
    assert isinstance(result, tuple) and len(result) == 1
    np.testing.assert_allclose(result[0].data, [2.0, 4.0])


@pytest.mark.parametrize("kind", ["ndarray", "Tensor"])
def test_grad_with_several_outputs_and_grad_outputs(kind):
    a = np.array([1.0, -2.0])
    x = Tensor(a, requires_grad=True)
    y1, y2 = x * x, x.exp()
    v1, v2 = np.array([1.0, 3.0]), np.array([-2.0, 0.5])
    wrap = Tensor if kind == "Tensor" else np.asarray
    (gx,) = grad([y1, y2], [x], grad_outputs=[wrap(v1), wrap(v2)])
    np.testing.assert_allclose(gx.data, v1 * 2 * a + v2 * np.exp(a))


def test_grad_of_unrelated_input_is_zeros():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    z = Tensor(np.ones((2, 2), dtype=np.float32), requires_grad=True)
    gx, gz = grad((x * x).sum(), [x, z])
    np.testing.assert_allclose(gx.data, [2.0, 4.0])
    assert gz.shape == (2, 2) and gz.dtype == np.float32
    np.testing.assert_array_equal(gz.data, 0.0)


def test_grad_with_respect_to_intermediate_tensors():
    a = np.array([0.5, 1.5])
    x = Tensor(a, requires_grad=True)
    h = x * 3.0
    t = h.tanh()
    loss = (t * t).sum()
    gh, gt, gx = grad(loss, [h, t, x])
    np.testing.assert_allclose(gt.data, 2 * t.data)
    np.testing.assert_allclose(gh.data, 2 * t.data * (1 - t.data**2))
    np.testing.assert_allclose(gx.data, 3 * gh.data)
    assert x.grad is None and h.grad is None


def test_grad_errors():
    x = Tensor(np.ones(3), requires_grad=True)
    y = x * 2.0
    with pytest.raises(RuntimeError, match="does not require grad"):
        grad(y.sum(), Tensor(np.ones(3)))
    with pytest.raises(TypeError, match="not a Tensor"):
        grad(y.sum(), [np.ones(3)])
    with pytest.raises(ValueError, match="2 grad_outputs for 1 outputs"):
        grad(y, x, grad_outputs=[np.ones(3), np.ones(3)])
    with pytest.raises(RuntimeError, match=r"shape \(3,\)"):
        grad(y, x)
    with pytest.raises(ValueError, match=r"\(2,\).*\(3,\)"):
        grad(y, x, grad_outputs=np.ones(2))
    assert x.grad is None


def test_top_level_names():
    for name in ("Tensor", "no_grad", "grad", "jacobian", "gradcheck", "GradcheckError"):
        assert hasattr(tinygrad_ce, name)
    assert tinygrad_ce.Function is Function


class _TooFewGrads(Function):
    """z = x * y;  (wrong: returns one gradient for two inputs)"""

    def forward(self, x, y):
        return x * y

    def backward(self, g, out, x, y):
        return (g * y,)


def test_a_rule_returning_the_wrong_number_of_gradients_is_an_error():
    x = Tensor(np.ones(3), requires_grad=True)
    y = Tensor(np.ones(3), requires_grad=True)
    with pytest.raises(ValueError):
        _TooFewGrads.apply(x, y).sum().backward()
    assert x.grad is None and y.grad is None


def test_list_constants_work_forward_and_backward():
    x = Tensor(np.ones((2, 2)), requires_grad=True)
    (x @ [[1.0], [2.0]]).sum().backward()
    np.testing.assert_allclose(x.grad, [[1.0, 2.0], [1.0, 2.0]])
    z = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    (z ** [2.0, 3.0]).sum().backward()
    np.testing.assert_allclose(z.grad, [2.0, 12.0])


def test_enable_grad_as_decorator_inside_no_grad():
    @enable_grad
    def record(t):
        return t * 2.0

    x = Tensor(np.ones(2), requires_grad=True)
    with no_grad():
        y = record(x)
        assert not is_grad_enabled()
    assert y.requires_grad and y._ctx is not None


def test_leaked_graph_would_be_detected_by_the_live_tensor_count():
    """Sanity check of the method used in the training-loop test: a kept graph is counted."""
    kept = []
    gc.collect()
    before = sum(type(o) is Tensor for o in gc.get_objects())
    for _ in range(10):
        x = Tensor(np.ones(3), requires_grad=True)
        kept.append(((x * 2.0).tanh()).sum())
    after = sum(type(o) is Tensor for o in gc.get_objects())
    assert after - before >= 30  # 4 tensors per kept graph, 40 in all


def test_each_gradient_is_released_right_after_its_node_used_it():
    """Watch the gradients directly: when node k runs its rule, the gradients that reached
    nodes k+2, k+3, ... (already consumed) must be gone, not kept until the walk ends."""
    refs: list[weakref.ref] = []
    alive_when_called: list[int] = []

    class Watch(Function):
        """z = x;  dx = g * 1 (a fresh array)"""

        def forward(self, x):
            return x.copy()

        def backward(self, g, out, x):
            # refs[:-1]: gradients seen before the current one's producer
            alive_when_called.append(sum(r() is not None for r in refs[1:-1]))
            refs.append(weakref.ref(g))
            return (g * 1.0,)

    x = Tensor(np.ones(1000), requires_grad=True)
    y = x
    for _ in range(50):
        y = Watch.apply(y)
    y.backward(np.ones(1000))  # refs[0] is this seed, kept alive by the caller
    assert len(alive_when_called) == 50
    assert max(alive_when_called) == 0, alive_when_called
