"""The engine: grad mode, ``Function`` (one recorded op) and the backward walk.

A ``Tensor`` produced by an op keeps a reference to the ``Function`` instance that made it
(``tensor._ctx``). That node holds the op's inputs and whatever its backward rule needs. The
backward pass sorts the graph once (``topological_order``, iterative, so deep graphs are fine),
visits the tensors from the output back to the leaves, calls each node's vector-Jacobian
product (VJP) rule once with the summed upstream gradient, and frees that gradient as soon as
it is used.

Every rule is written with operations that both ``np.ndarray`` and ``Tensor`` support. On the
fast path (``create_graph=False``) the rules run on plain arrays and nothing is recorded; with
``create_graph=True`` the very same rules run on Tensors, so the gradient is itself a graph that
can be differentiated again (Hessian-vector products, second derivatives).
"""

from __future__ import annotations

import functools
import gc
import inspect
import sys
import threading
from collections.abc import Callable, Iterable, Sequence
from itertools import compress
from typing import Any

import numpy as np

from . import symbolic
from .symbolic import Expr

Namer = Callable[[Any], "str | None"]  # a constant array -> the name of the tensor it belongs to

# ---------------------------------------------------------------------------------------------
# grad mode (per thread, as in PyTorch: no_grad in one thread leaves the others recording)


class _GradMode(threading.local):
    enabled = True


_mode = _GradMode()


def is_grad_enabled() -> bool:
    """True when new ops are recorded for backward (the default)."""
    return _mode.enabled


class _SetGradMode:
    """Context manager and decorator that sets grad mode, restoring the previous mode on exit.

    Re-entrant and safe to share between threads: one instance may be entered several times
    (nested, or at once in several threads); each exit restores the mode that was in force at
    the matching entry in that thread, even when the block raised. Decorating a generator
    function sets the mode around each resumption of the generator (as PyTorch does), not just
    around the call that creates it.
    """

    def __init__(self, enabled: bool) -> None:
        self._enabled = enabled
        self._local = threading.local()  # each thread's stack of modes to restore

    def __enter__(self) -> None:
        stack = self._local.__dict__.setdefault("saved", [])
        stack.append(_mode.enabled)
        _mode.enabled = self._enabled

    def __exit__(self, *exc: object) -> None:
        _mode.enabled = self._local.saved.pop()

    def __call__(self, func: Callable) -> Callable:
        enabled = self._enabled
        if inspect.isgeneratorfunction(func):
            return _generator_in_mode(func, enabled)

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with _SetGradMode(enabled):
                return func(*args, **kwargs)

        return wrapper


def _generator_in_mode(func: Callable, enabled: bool) -> Callable:
    """Wrap a generator function so that its body runs in grad mode ``enabled`` each time it
    is resumed, while the caller's code between two ``next()`` calls keeps its own mode."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with _SetGradMode(enabled):
            gen = func(*args, **kwargs)
            try:
                value = next(gen)
            except StopIteration as stop:
                return stop.value
        while True:
            try:
                sent = yield value
            except GeneratorExit:
                with _SetGradMode(enabled):
                    gen.close()
                raise
            except BaseException as error:  # thrown in by the caller: hand it to the body
                resume, arg = gen.throw, error
            else:
                resume, arg = gen.send, sent
            with _SetGradMode(enabled):
                try:
                    value = resume(arg)
                except StopIteration as stop:
                    return stop.value

    return wrapper


def no_grad(func: Callable | None = None) -> Any:
    """Turn off graph recording: ``with no_grad(): ...``, ``@no_grad`` or ``@no_grad()``.

    Inside, ops compute their values only: no node is created, nothing is saved for backward,
    and results have ``requires_grad=False``. The previous mode is restored on exit, also after
    an exception; nesting is fine.
    """
    if func is not None and callable(func):
        return _SetGradMode(False)(func)
    return _SetGradMode(False)


def enable_grad(func: Callable | None = None) -> Any:
    """The opposite of :func:`no_grad`: record ops again inside a ``no_grad`` block."""
    if func is not None and callable(func):
        return _SetGradMode(True)(func)
    return _SetGradMode(True)


# ---------------------------------------------------------------------------------------------
# Function: one primitive op


class Function:
    """Base class of primitive ops: ``forward`` on arrays and ``backward`` (the VJP) side by side.

    Subclasses implement

    * ``forward(self, *arrays, **params) -> ndarray``: the value. Non-array parameters (axis,
      shape, index) are stored on ``self`` for the backward rule.
    * ``backward(self, g, out, *inputs) -> tuple``: one gradient per input (or ``None`` where
      ``self.needs[i]`` is False), given the upstream gradient ``g`` of the output's shape.
      ``out`` is the op's output and ``inputs`` its inputs. They are ndarrays on the fast path
      and Tensors when a differentiable gradient is wanted, so a rule must only use operations
      both support (arithmetic, ``@``, ``sum``, ``reshape``, ``swapaxes``, ``astype`` and the
      helpers in ``ops``). Broadcasting is undone by the engine: a rule may return a gradient of
      the broadcast shape and the engine sums it back to the input's shape.

    and declare what they compute, as data that ``explain``, ``draw_graph(rules=True)`` and
    the class docstring's first line (``z = formula;  rules``) show:

    * ``args``: the arguments' names, ``("A", "B")``; ``output``: the result's (``"z"``);
    * ``formula``: the forward in those names, ``"A @ B"``;
    * ``vjp``: one rule per argument, ``("dA = g @ B^T", "dB = A^T @ g")``, ``g`` being the
      upstream gradient. Written in Python's arithmetic (``x^T`` for a transpose), a rule is
      turned into a formula in the operands' own names by ``explain``;
    * ``fused``: for a node that stands for several textbook ops, which ones
      (``"softmax + log + sum"``; drawn so that it stands out), else "";
      ``commutative``: argument order does not matter (edges get no names); ``broadcasts``:
      elementwise with numpy broadcasting (``explain`` writes the summing back).

    An op that declares none of these still works everywhere: it is shown by its class name.

    Attributes set when the op is recorded: ``inputs`` (the op's arguments as passed: Tensors or
    constants), ``arrays`` (their values at forward time), ``needs`` (which inputs need a
    gradient).
    """

    args: tuple[str, ...] = ()
    output: str = "z"
    formula: str = ""
    vjp: tuple[str, ...] = ()
    fused: str = ""
    commutative: bool = False
    broadcasts: bool = False

    inputs: tuple
    arrays: tuple
    needs: tuple[bool, ...]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "formula" in cls.__dict__:  # the docstring's maths comes from the declaration
            head = f"{cls.output} = {cls.formula}" + (
                ";  " + ",  ".join(cls.vjp) if cls.vjp else ""
            )
            doc = inspect.cleandoc(cls.__dict__.get("__doc__") or "")
            cls.__doc__ = head + ("\n\n" + doc if doc else "")

    def forward(self, *args: Any, **params: Any) -> np.ndarray:
        raise NotImplementedError

    def backward(self, g: Any, out: Any, *inputs: Any) -> tuple:
        raise NotImplementedError

    @property
    def name(self) -> str:
        """The op's name as shown in graphs: the class name."""
        return type(self).__name__

    # --- what viewers show (they only read these) --------------------------------------------

    def rules(self) -> tuple[str, ...]:
        """This node's VJP rules, one per argument (a node may specialise its class's ``vjp``)."""
        return self.vjp

    def detail(self) -> str:
        """A short line on this node's settings (a conv's kernel and stride), drawn under its
        name; empty for most ops."""
        return ""

    def formula_expr(self, args: list[Expr], namer: Namer | None = None) -> Expr:
        """The output as a formula in the operands' formulas ``args`` (for ``explain``)."""
        if not self.formula:
            return symbolic.call(self.name, *args)
        return symbolic.fill(self.formula, dict(zip(self.args, args, strict=False)))

    def vjp_exprs(
        self, g: Expr, args: list[Expr], out: Expr, namer: Namer | None = None
    ) -> list[Expr | None]:
        """The gradient sent to each argument, as formulas in ``g`` and the operands' names."""
        rules = self.rules()
        if len(rules) < len(args) or len(self.args) < len(args):
            many = len(args) > 1
            return [
                symbolic.call(f"{self.name}_vjp{i if many else ''}", g) for i in range(len(args))
            ]
        values = {**dict(zip(self.args, args, strict=False)), "g": g, self.output: out}
        return [symbolic.fill(rule.split("=", 1)[-1], values) for rule in rules[: len(args)]]

    # --- recording ---------------------------------------------------------------------------

    @classmethod
    def apply(cls, *inputs: Any, **params: Any) -> Tensor:
        """Run the op on Tensors or constants; recorded in grad mode when an input needs grad.

        A recorded op keeps what its backward rule reads, and makes sure nobody changes it
        behind its back (see "Guarantees" in docs/engine.md): the Tensors' arrays and the
        output are made read-only (``Tensor.data`` hands out a copy while an op holds them),
        and caller-owned constant arrays (labels, masks, index arrays) are snapshotted.
        """
        fn = _new(cls)
        needs = tuple([isinstance(x, Tensor) and x.requires_grad for x in inputs])
        if True in needs and _mode.enabled:
            arrays = []
            constants = False
            for x in inputs:
                if isinstance(x, Tensor):
                    a = x._data
                    if type(a) is np.ndarray:
                        _setflags(a, False)
                        if a.base is not None:
                            _freeze(a)
                elif type(x) is float or type(x) is int:  # immutable: kept as it is
                    a = x
                else:
                    a = _snapshot(x)
                    constants = constants or a is not x
                arrays.append(a)
            arrays = tuple(arrays)
            if constants:
                inputs = tuple(
                    [x if isinstance(x, Tensor) else a for x, a in zip(inputs, arrays, strict=True)]
                )
            if params:
                for v in params.values():
                    if type(v) is np.ndarray or type(v) is tuple:  # may hold an index array
                        params = {k: _snapshot_param(v) for k, v in params.items()}
                        break
            out = fn.forward(*arrays, **params)
            if type(out) is not np.ndarray:
                out = np.asarray(out)
            _setflags(out, False)
            if out.base is not None:
                _freeze(out)
            fn.inputs, fn.arrays, fn.needs, fn.out = inputs, arrays, needs, out
            return _make_tensor(out, True, fn)
        arrays = tuple([x._data if isinstance(x, Tensor) else _constant(x) for x in inputs])
        out = fn.forward(*arrays, **params)
        if type(out) is not np.ndarray:
            out = np.asarray(out)
        return _make_tensor(out, False, None)

    # --- after a backward pass ---------------------------------------------------------------

    def release(self) -> None:
        """Free what the backward rule saved (called by a backward pass without
        ``retain_graph``). What ``explain`` and ``draw_graph`` read stays: ``arrays`` becomes
        ``inputs`` (a Tensor answers ``np.shape``/``np.ndim`` as its array did, and holds its
        values only as long as the tensor lives; constants are the op's own snapshots), and
        the op's other attributes. Ops that save more than ``arrays`` and ``out`` override
        this and call it.
        """
        self.out = None  # the mark of a freed node (see `backprop`)
        self.arrays = self.inputs

    @property
    def freed(self) -> bool:
        """True once a backward pass without ``retain_graph=True`` went through this node."""
        return getattr(self, "out", 0) is None


_new = object.__new__
_setflags = np.ndarray.setflags
# constants passed to rules as they are; anything else (lists, ...) becomes an ndarray
_CONSTANT = (np.ndarray, np.generic, float, int)

KEEP_BYTES = 1024
"""Arrays at most this big survive a backward pass that frees its graph, so that
``draw_graph(show_data=True)`` still shows a small graph's values after ``backward()``."""


class FreedArray(np.ndarray):
    """A zero-stride stand-in (no memory) for an array freed after a backward pass: it keeps
    the shape and dtype that ``explain`` and ``draw_graph`` read, not the values."""


def freed_stand_in(a: Any, always: bool = False) -> Any:
    """``a`` itself when it is small (unless ``always``) or not an array, else a
    :class:`FreedArray` of its shape and dtype."""
    if type(a) is not np.ndarray or (a.nbytes <= KEEP_BYTES and not always):
        return a
    return _freed_array(a.shape, a.dtype)


@functools.lru_cache(maxsize=512)
def _freed_array(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """One shared read-only stand-in per shape and dtype (zero strides: no memory)."""
    return np.broadcast_to(np.zeros((), dtype), shape).view(FreedArray)


def _constant(x: Any) -> Any:
    return x if isinstance(x, _CONSTANT) else np.asarray(x)


def _freeze(a: np.ndarray) -> None:
    """Make ``a`` read-only, and the arrays it is a view of (a write through them would
    change it too)."""
    _setflags(a, False)
    base = a.base
    while type(base) is np.ndarray:
        _setflags(base, False)
        base = base.base


def _immutable(a: np.ndarray) -> bool:
    """True when neither ``a`` nor an array it is a view of can be written."""
    while type(a) is np.ndarray:
        if a.flags.writeable:
            return False
        a = a.base
    return True


def _snapshot(x: Any) -> Any:
    """A constant operand of a recorded op, safe from later changes by its owner: an array the
    caller could still write into is copied (and the copy made read-only)."""
    if isinstance(x, np.ndarray):
        if type(x) is np.ndarray and _immutable(x):
            return x
        x = np.array(x)
    elif isinstance(x, (np.generic, float, int)):
        return x
    else:
        x = np.asarray(x)
    _setflags(x, False)
    return x


def _snapshot_param(v: Any) -> Any:
    """An op's keyword parameter with its arrays snapshotted (an index: ``x[labels]``)."""
    if isinstance(v, np.ndarray):
        return _snapshot(v)
    if type(v) is tuple and any(isinstance(i, np.ndarray) for i in v):
        return tuple([_snapshot(i) if isinstance(i, np.ndarray) else i for i in v])
    return v


def writable_data(t: Any) -> np.ndarray:
    """``t``'s array, ready to be written in place without changing what a recorded op saved.

    A read-only array that nothing else refers to (the op that saved it is gone or freed) is
    made writable again; otherwise the tensor gets a copy (copy-on-write), so the ops that
    saved the old array keep its values and a backward pass through them can notice the
    change (``backprop`` compares). Used by ``Tensor.data`` and the optimizers.
    """
    a = t._data
    if type(a) is not np.ndarray:  # a numpy scalar (a rule's 0-d result)
        a = t._data = np.array(a)
    if a.flags.writeable:
        return a
    # references: t._data, the local `a`, getrefcount's argument; anything more is another
    # holder (a recorded op, a view, a detached tensor, the caller)
    if a.base is None and sys.getrefcount(a) <= 3:
        try:
            _setflags(a, True)
            return a
        except ValueError:
            pass
    a = np.array(a)
    t._data = a
    return a


# The Tensor class is defined above the engine (tensor.py imports autograd and ops, never the
# other way round) and hands itself down here when it is created.
Tensor: Any = None
_make_tensor: Callable[[np.ndarray, bool, Any], Any]


def use_tensor_class(cls: type, make: Callable[[np.ndarray, bool, Any], Any]) -> None:
    """Called once by ``tensor.py``: the class ops return, and its no-check constructor."""
    global Tensor, _make_tensor
    Tensor, _make_tensor = cls, make


def is_tensor(x: Any) -> bool:
    """True for a Tensor (rules use it to tell the graph-recording path from plain arrays)."""
    return isinstance(x, Tensor)


# ---------------------------------------------------------------------------------------------
# the graph's order (one walk, used by backprop, viz, compare and train)


def graph_inputs(t: Tensor) -> list[Tensor]:
    """The Tensor arguments of the op that made ``t`` (constants left out); [] for a leaf."""
    ctx = t._ctx
    return [] if ctx is None else [x for x in ctx.inputs if isinstance(x, Tensor)]


def topological_order(
    roots: Tensor | Sequence[Tensor],
    children: Callable[[Tensor], Iterable[Tensor]] = graph_inputs,
) -> list[Tensor]:
    """Every tensor the ``roots`` depend on, each after its inputs, the roots last.

    A depth-first post-order, following ``children(t)`` (by default the op's Tensor inputs, in
    argument order, so the order is deterministic). Iterative, with one iterator per open
    tensor on an explicit stack: a 100,000-op chain is fine. Reversed, it is an order in which a
    backward pass can visit the tensors.
    """
    order: list[Tensor] = []
    seen: set[Tensor] = set()  # Tensors hash by identity
    mark, emit = seen.add, order.append
    for root in _as_list(roots):
        if root in seen:
            continue
        mark(root)
        path, pending = [root], [iter(children(root))]  # the open tensors, and what each has left
        while path:
            for x in pending[-1]:
                if x not in seen:
                    mark(x)
                    path.append(x)
                    pending.append(iter(children(x)))
                    break
            else:  # every input done: the tensor comes next
                pending.pop()
                emit(path.pop())
    return order


def _as_list(roots: Any) -> list:
    return [roots] if isinstance(roots, Tensor) else list(roots)


# ---------------------------------------------------------------------------------------------
# the backward walk


def unbroadcast(g: Any, shape: tuple[int, ...]) -> Any:
    """Sum ``g`` over the axes that broadcasting added or stretched, so it has ``shape``.

    Works on ndarrays and Tensors alike. Raises if ``shape`` does not broadcast to ``g.shape``
    (that would be a wrong rule, never silently reshaped).
    """
    gshape = g.shape
    if gshape == shape:
        return g
    extra = len(gshape) - len(shape)
    if extra < 0 or any(n != 1 and n != gshape[i + extra] for i, n in enumerate(shape)):
        raise ValueError(
            f"gradient of shape {gshape} cannot be reduced to the input's shape {shape}"
        )
    stretched = tuple(i + extra for i, n in enumerate(shape) if n == 1 and gshape[i + extra] != 1)
    if not stretched:  # only new leading axes (a bias): one reduction, no reshape
        g = g.sum(axis=tuple(range(extra)))
        return g if shape else g.reshape(())  # numpy reduces to a scalar: keep an array
    return g.sum(axis=tuple(range(extra)) + stretched, keepdims=True).reshape(shape)


def _seed(root: Tensor, g: Any, create_graph: bool) -> Any:
    """Check and convert the gradient that starts the backward pass at ``root``."""
    if g is None:
        if root._data.size != 1:
            raise RuntimeError(
                f"backward() needs a `grad` argument for an output of shape {root.shape}: "
                "only a scalar (one-element) output gets the implicit gradient 1. "
                "Reduce it first (for example `out.sum().backward()`) or pass "
                "`grad=np.ones(out.shape)`."
            )
        g = np.ones(root._data.shape, root._data.dtype)
    elif isinstance(g, Tensor):
        g = g if create_graph else g._data
    else:
        g = np.asarray(g, dtype=root.dtype)
    if g.shape != root.shape:
        raise ValueError(
            f"grad of shape {tuple(g.shape)} does not match the output's shape {root.shape}"
        )
    if create_graph and not isinstance(g, Tensor):
        g = _make_tensor(g, False, None)
    return g


def differentiable_inputs(t: Tensor) -> Iterable[Tensor]:
    """The inputs of ``t``'s op that need a gradient: the edges a backward pass follows."""
    ctx = t._ctx
    return () if ctx is None else compress(ctx.inputs, ctx.needs)


def backprop(
    roots: Sequence[Tensor],
    seeds: Sequence[Any],
    create_graph: bool = False,
    wanted: Sequence[Tensor] | None = None,
    retain_graph: bool | None = None,
) -> dict[Tensor, Any]:
    """The backward walk: each op's VJP once, outputs before inputs.

    ``seeds[i]`` is the gradient of ``roots[i]`` (already checked by ``_seed``). When ``wanted``
    is None, gradients of leaves (and of tensors that ``retain_grad()``) are accumulated into
    their ``.grad`` (``Tensor.backward``), only once the whole walk has succeeded: a rule that
    raises midway leaves every ``.grad`` as it was. Otherwise the gradients of the ``wanted``
    tensors are returned, keyed by tensor, and ``.grad`` is left untouched (``grad()``).

    Each node first checks that the values it saved are still its inputs' and output's values
    (else the error names the tensor and the op). Unless ``retain_graph`` (default:
    ``create_graph``), a successful walk then frees what the nodes saved (``_free_graph``).
    """
    grads: dict[Tensor, Any] = {}  # the summed upstream gradient of each tensor still to visit
    for root, g in zip(roots, seeds, strict=True):
        grads[root] = g if root not in grads else grads[root] + g
    wanted_set = None if wanted is None else set(wanted)
    found: dict[Tensor, Any] = {}  # what the walk hands out: .grad updates, or grad()'s result
    # The sort and the walk make no reference cycles; pausing the cyclic collector (which would
    # rescan the whole graph) takes 40% off the backward of bench_engine.py's chain.
    with _gc_paused(), _SetGradMode(create_graph):  # rules record a graph only when wanted
        order = topological_order(list(grads), differentiable_inputs)
        for t in reversed(order):
            g = grads.pop(t, None)
            if g is None:  # not reached from the roots through inputs that need a gradient
                continue
            ctx = t._ctx
            if wanted_set is None:
                if ctx is None or (t._retains_grad and not create_graph):
                    found[t] = g
            elif t in wanted_set:
                found[t] = g
            if ctx is None:
                continue
            arrays = ctx.arrays
            if t._data is not ctx.out:
                _check_unchanged(ctx, t, ctx.out, -1)
            if create_graph:
                in_grads = ctx.backward(g, t, *ctx.inputs)
            else:
                in_grads = ctx.backward(g, t._data, *arrays)
            del g  # the rule was its last user: free it now
            _send(ctx, arrays, in_grads, grads, create_graph)
    if wanted_set is None:
        handed_out = {id(g) for g in seeds}  # the caller's arrays: never become .grad as they are
        for t, g in found.items():
            _accumulate(t, g, handed_out)
    if not (create_graph if retain_graph is None else retain_graph):
        with _gc_paused():
            _free_graph(order)
    return found


def _send(
    ctx: Function, arrays: tuple, in_grads: Any, grads: dict[Tensor, Any], create_graph: bool
) -> None:
    """Add what ``ctx``'s rule returned to the gradients waiting at its inputs (in ``grads``),
    checking that each input still holds the values the op saved (after the rule, which read
    the saved ones: raising before the walk ends still changes nothing)."""
    if type(in_grads) is not tuple or len(in_grads) != len(arrays):
        in_grads = _rule_result(ctx, in_grads)
    for x, a, need, gx in zip(ctx.inputs, arrays, ctx.needs, in_grads, strict=True):
        if x is not a and x._data is not a:
            _check_unchanged(ctx, x, a, _position(ctx.inputs, x))
        if need and gx is not None:
            if type(gx) is not np.ndarray:
                gx = _rule_gradient(ctx, x, gx, create_graph)
            gx = fit_gradient(gx, x._data)
            prev = grads.get(x)
            grads[x] = gx if prev is None else prev + gx


def _position(items: Sequence[Any], x: Any) -> int:
    return next(i for i, y in enumerate(items) if y is x)


def _check_unchanged(ctx: Function, x: Any, saved: Any, i: int) -> None:
    """Raise unless ``x`` (argument ``i`` of ``ctx``, or its output for ``i == -1``) still holds
    the values ``ctx`` saved: it was given new data, or written to through ``.data`` or an
    optimizer step, between the forward pass and this backward pass."""
    if saved is None:
        raise RuntimeError(
            f"backward through the graph of {ctx.name} a second time, but its saved values were "
            "freed after the first backward pass. Pass retain_graph=True to the first "
            "backward() (or grad()) to keep them, or recompute the forward pass."
        )
    now = x._data
    if now.shape == saved.shape and np.array_equal(
        now, saved, equal_nan=now.dtype.kind in "fc" and saved.dtype.kind in "fc"
    ):
        return
    if i < 0:
        role = "its output"
    else:
        names = tuple(ctx.args)
        role = f"its input {names[i]!r}" if i < len(names) else f"its input {i}"
    what = f"tensor {x.name!r}" if x.name else "a tensor"
    raise RuntimeError(
        f"{what} of shape {x.shape} ({x.dtype}), {role} of {ctx.name}, was modified in place "
        f"after {ctx.name} saved it for the backward pass (through .data, an optimizer step, "
        "or assigning .data): its gradient would be wrong. Recompute the forward pass after "
        "changing it, or change a copy."
    )


def _rule_result(ctx: Function, in_grads: Any) -> tuple:
    """What a rule returned that is not a tuple of one entry per input: a list of the right
    length is accepted, anything else is an error that says what to return."""
    n = len(ctx.inputs)
    if isinstance(in_grads, list) and len(in_grads) == n:
        return tuple(in_grads)
    got = type(in_grads).__name__
    error: type[Exception] = TypeError
    if isinstance(in_grads, (tuple, list)):
        got, error = f"a {got} of {len(in_grads)} entries", ValueError
    else:
        got = f"a {got}"
    raise error(
        f"{ctx.name}.backward returned {got}; it must return a tuple of {n} gradient(s), one "
        "per input of forward, in order (None for an input that needs no gradient)"
    )


def _rule_gradient(ctx: Function, x: Any, gx: Any, create_graph: bool) -> Any:
    """A gradient a rule returned that is not an ndarray: a numpy scalar, a Tensor (its array
    on the fast path), or an error naming the op, the input and what to return."""
    if isinstance(gx, Tensor):
        return gx if create_graph else gx._data
    if isinstance(gx, np.generic) and gx.dtype.kind in "fiub":
        return np.asarray(gx)
    i = next(j for j, y in enumerate(ctx.inputs) if y is x)
    raise TypeError(
        f"{ctx.name}.backward returned a {type(gx).__name__} as the gradient of input {i}; it "
        f"must be an ndarray of numbers of that input's shape {tuple(x.shape)} (or None)"
    )


def _free_graph(order: list[Tensor]) -> None:
    """After a backward pass without ``retain_graph``: free what every node saved, and the
    data of the tensors only the graph refers to, keeping the graph's structure (ops, names,
    shapes, dtypes and small values) for ``explain`` and ``draw_graph``.

    A node refers to its input tensors. An intermediate one (or a leaf that needs no
    gradient: a batch of data) bigger than ``KEEP_BYTES`` that nothing but this node refers to
    loses its data in place (a zero-stride :class:`FreedArray`); one that someone else still
    holds (the caller, another graph) keeps its values and is replaced in the node by a
    stand-in of the same name, shape, op and ``.grad``. Parameters (leaves that need a
    gradient) stay as they are.
    """
    stand_ins: dict[int, Any] = {}
    plain_release = Function.release
    for t in order:
        ctx = t._ctx
        if ctx is None or ctx.out is None:  # a leaf, or freed already
            continue
        if type(ctx).release is plain_release:
            ctx.out, ctx.arrays = None, ctx.inputs  # Function.release, without the call
        else:
            ctx.release()
        inputs, new = ctx.inputs, None
        for i in range(len(inputs)):  # (not enumerate: its cached pair would hold x too)
            x = inputs[i]
            if isinstance(x, Tensor):
                data = x._data
                if data.nbytes <= KEEP_BYTES or (x._ctx is None and x.requires_grad):
                    continue  # small enough to keep for draw_graph, or a parameter
                # references: this node's inputs, `order` (every intermediate is on the path;
                # a data leaf is not), the local `x` and getrefcount's argument. No more means
                # nobody else holds x (not the caller, not another node): its data can go in
                # place, no stand-in needed
                if sys.getrefcount(x) <= 3 + (x._ctx is not None):
                    if type(data) is np.ndarray:
                        x._data = _freed_array(data.shape, data.dtype)
                    continue
                s = stand_ins.get(id(x))
                if s is None:
                    s = stand_ins[id(x)] = _stand_in(x)
            elif type(x) is np.ndarray and x.nbytes > KEEP_BYTES:
                s = freed_stand_in(x)
            else:
                continue
            if new is None:
                new = list(inputs)
            new[i] = s
        if new is not None:
            ctx.inputs = ctx.arrays = tuple(new)


def _stand_in(x: Tensor) -> Tensor:
    """A tensor like ``x`` (name, shape, dtype, op, ``.grad``) whose data takes no memory."""
    s = _make_tensor(freed_stand_in(x._data, True), x.requires_grad, x._ctx)
    s.name, s._retains_grad, s._grad = x.name, x._retains_grad, x._grad
    return s


def fit_gradient(gx: Any, x: np.ndarray) -> Any:
    """A rule's gradient for input ``x``, summed back over broadcast axes and cast to its dtype."""
    if gx.shape != x.shape:
        gx = unbroadcast(gx, x.shape)
    if gx.dtype is not x.dtype and gx.dtype != x.dtype:
        if gx.dtype.kind not in "fiub":
            raise TypeError(
                f"a backward rule returned a gradient of dtype {gx.dtype} for an input of dtype "
                f"{x.dtype}; gradients must be real numbers"
            )
        gx = gx.astype(x.dtype)
    return gx


class _gc_paused:  # noqa: N801  (used like a function: `with _gc_paused():`)
    """Pause the cyclic garbage collector inside the block (restored on exit)."""

    def __enter__(self) -> None:
        self.was_enabled = gc.isenabled()
        gc.disable()

    def __exit__(self, *exc: object) -> None:
        if self.was_enabled:
            gc.enable()


def _accumulate(t: Tensor, g: Any, handed_out: set[int]) -> None:
    """``t.grad += g`` without ever sharing memory with another gradient or the caller's array."""
    if isinstance(g, Tensor):
        g = g._data
    if t._grad is None:
        if type(g) is not np.ndarray or g.base is not None or id(g) in handed_out:
            g = np.array(g, dtype=t._data.dtype)  # a scalar, a view, or someone else's array
        handed_out.add(id(g))
        t._grad = g
    else:
        t._grad = np.asarray(t._grad + g)  # 0-d + 0-d gives a numpy scalar


def grad(
    outputs: Tensor | Sequence[Tensor],
    inputs: Tensor | Sequence[Tensor],
    grad_outputs: Any | Sequence[Any] | None = None,
    create_graph: bool = False,
    retain_graph: bool | None = None,
) -> tuple[Tensor, ...]:
    """Gradients of ``outputs`` with respect to ``inputs``, like ``torch.autograd.grad``.

    Parameters
    ----------
    outputs : Tensor or sequence of Tensors
        What to differentiate. Several outputs are summed (each weighted by its grad_output).
    inputs : Tensor or sequence of Tensors
        With respect to what; leaves or intermediate tensors.
    grad_outputs : ndarray/Tensor or a sequence of them, optional
        The upstream gradient of each output, of that output's shape. May be omitted for
        one-element outputs (it is then 1).
    create_graph : bool
        If True the returned gradients are recorded Tensors that can be differentiated again
        (second derivatives, Hessian-vector products).
    retain_graph : bool, optional
        Keep what the graph saved for backward, so that it can be differentiated again. By
        default (None) it is kept only with ``create_graph=True``; otherwise it is freed, as
        after ``Tensor.backward()``.

    Returns
    -------
    tuple of Tensors, one per input, each of that input's shape and dtype. An input that the
    outputs do not depend on gets a gradient of zeros (as JAX does) rather than an error or
    None. ``.grad`` attributes are left untouched.
    """
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    for i, out in enumerate(outputs):
        if not isinstance(out, Tensor):
            raise TypeError(f"outputs[{i}] is a {type(out).__name__}, not a Tensor")
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif isinstance(grad_outputs, (Tensor, np.ndarray)):
        grad_outputs = [grad_outputs]
    elif not isinstance(grad_outputs, (list, tuple)):
        raise TypeError(
            f"grad_outputs must be an array or Tensor of the output's shape, or a list of them "
            f"(one per output), got a {type(grad_outputs).__name__}: pass for example "
            f"np.full(out.shape, {grad_outputs!r})"
        )
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"got {len(grad_outputs)} grad_outputs for {len(outputs)} outputs")
    for i, x in enumerate(inputs):
        if not isinstance(x, Tensor):
            raise TypeError(f"inputs[{i}] is a {type(x).__name__}, not a Tensor")
        if not x.requires_grad:
            raise RuntimeError(
                f"inputs[{i}] (shape {x.shape}) does not require grad: "
                "create it with requires_grad=True"
            )
    roots, seeds = [], []
    for out, g in zip(outputs, grad_outputs, strict=True):
        if out.requires_grad:
            roots.append(out)
            seeds.append(_seed(out, g, create_graph))
    found = (
        backprop(roots, seeds, create_graph, wanted=inputs, retain_graph=retain_graph)
        if roots
        else {}
    )
    result = []
    for x in inputs:
        g = found.get(x)
        if g is None:
            g = np.zeros_like(x._data)
        if not isinstance(g, Tensor):
            g = _make_tensor(g if g is not x._data else g.copy(), False, None)
        result.append(g)
    return tuple(result)
