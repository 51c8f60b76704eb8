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

    Re-entrant: one instance may be entered several times (nested), each exit restores the mode
    that was in force at the matching entry, even when the block raised.
    """

    def __init__(self, enabled: bool) -> None:
        self._enabled = enabled
        self._saved: list[bool] = []

    def __enter__(self) -> None:
        self._saved.append(_mode.enabled)
        _mode.enabled = self._enabled

    def __exit__(self, *exc: object) -> None:
        _mode.enabled = self._saved.pop()

    def __call__(self, func: Callable) -> Callable:
        enabled = self._enabled

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with _SetGradMode(enabled):
                return func(*args, **kwargs)

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
        """Run the op on Tensors or constants; recorded in grad mode when an input needs grad."""
        fn = _new(cls)
        if len(inputs) == 2:  # binary ops (most of a graph), unrolled: -15% on the chain's forward
            a, b = inputs
            a_is, b_is = isinstance(a, Tensor), isinstance(b, Tensor)
            arrays = (
                a._data if a_is else a if isinstance(a, _CONSTANT) else np.asarray(a),
                b._data if b_is else b if isinstance(b, _CONSTANT) else np.asarray(b),
            )
            needs = (a_is and a.requires_grad, b_is and b.requires_grad)
        else:
            arrays = tuple([x._data if isinstance(x, Tensor) else _constant(x) for x in inputs])
            needs = tuple([isinstance(x, Tensor) and x.requires_grad for x in inputs])
        out = fn.forward(*arrays, **params)
        if type(out) is not np.ndarray:
            out = np.asarray(out)
        if True in needs and _mode.enabled:
            fn.inputs, fn.arrays, fn.needs = inputs, arrays, needs
            return _make_tensor(out, True, fn)
        return _make_tensor(out, False, None)


_new = object.__new__
# constants passed to rules as they are; anything else (lists, ...) becomes an ndarray
_CONSTANT = (np.ndarray, np.generic, float, int)


def _constant(x: Any) -> Any:
    return x if isinstance(x, _CONSTANT) else np.asarray(x)


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
) -> dict[Tensor, Any]:
    """The backward walk: each op's VJP once, outputs before inputs.

    ``seeds[i]`` is the gradient of ``roots[i]`` (already checked by ``_seed``). When ``wanted``
    is None, gradients of leaves (and of tensors that ``retain_grad()``) are accumulated into
    their ``.grad`` (``Tensor.backward``), only once the whole walk has succeeded: a rule that
    raises midway leaves every ``.grad`` as it was. Otherwise the gradients of the ``wanted``
    tensors are returned, keyed by tensor, and ``.grad`` is left untouched (``grad()``).
    """
    grads: dict[Tensor, Any] = {}  # the summed upstream gradient of each tensor still to visit
    for root, g in zip(roots, seeds, strict=True):
        grads[root] = g if root not in grads else grads[root] + g
    wanted_set = None if wanted is None else set(wanted)
    found: dict[Tensor, Any] = {}  # what the walk hands out: .grad updates, or grad()'s result
    # The walk makes no reference cycles; pausing the cyclic collector (which would rescan the
    # whole graph) takes 40% off the backward of bench_engine.py's chain (155 -> 95 ms, 20k ops).
    with _gc_paused(), _SetGradMode(create_graph):  # rules record a graph only when wanted
        for t in reversed(topological_order(list(grads), differentiable_inputs)):
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
            if create_graph:
                in_grads = ctx.backward(g, t, *ctx.inputs)
            else:
                in_grads = ctx.backward(g, t._data, *ctx.arrays)
            del g  # the rule was its last user: free it now
            for x, need, gx in zip(ctx.inputs, ctx.needs, in_grads, strict=True):
                if need and gx is not None:
                    gx = fit_gradient(gx, x._data)
                    prev = grads.get(x)
                    grads[x] = gx if prev is None else prev + gx
    if wanted_set is None:
        handed_out = {id(g) for g in seeds}  # the caller's arrays: never become .grad as they are
        for t, g in found.items():
            _accumulate(t, g, handed_out)
    return found


def fit_gradient(gx: Any, x: np.ndarray) -> Any:
    """A rule's gradient for input ``x``, summed back over broadcast axes and cast to its dtype."""
    if gx.shape != x.shape:
        gx = unbroadcast(gx, x.shape)
    if gx.dtype is not x.dtype and gx.dtype != x.dtype:
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

    Returns
    -------
    tuple of Tensors, one per input, each of that input's shape and dtype. An input that the
    outputs do not depend on gets a gradient of zeros (as JAX does) rather than an error or
    None. ``.grad`` attributes are left untouched.
    """
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif isinstance(grad_outputs, (Tensor, np.ndarray)):
        grad_outputs = [grad_outputs]
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
    found = backprop(roots, seeds, create_graph=create_graph, wanted=inputs) if roots else {}
    result = []
    for x in inputs:
        g = found.get(x)
        if g is None:
            g = np.zeros_like(x._data)
        if not isinstance(g, Tensor):
            g = _make_tensor(g if g is not x._data else g.copy(), False, None)
        result.append(g)
    return tuple(result)
