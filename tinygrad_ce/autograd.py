"""The engine: grad mode, ``Function`` (one recorded op) and the backward walk.

A ``Tensor`` produced by an op keeps a reference to the ``Function`` instance that made it
(``tensor._ctx``). That node holds the op's inputs and whatever its backward rule needs. The
backward pass walks the graph iteratively (no recursion, so deep graphs are fine), visits the
tensors from the output back to the leaves in reverse creation order, calls each node's
vector-Jacobian product (VJP) rule once with the summed upstream gradient, and frees that
gradient as soon as it is used.

Every rule is written with operations that both ``np.ndarray`` and ``Tensor`` support. On the
fast path (``create_graph=False``) the rules run on plain arrays and nothing is recorded; with
``create_graph=True`` the very same rules run on Tensors, so the gradient is itself a graph that
can be differentiated again (Hessian-vector products, second derivatives).
"""

from __future__ import annotations

import functools
import gc
import heapq
import itertools
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .tensor import Tensor

# ---------------------------------------------------------------------------------------------
# grad mode


class _GradMode:
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

    Attributes set when the op is recorded: ``inputs`` (the op's arguments as passed: Tensors or
    constants), ``arrays`` (their values at forward time), ``needs`` (which inputs need a
    gradient).
    """

    inputs: tuple
    arrays: tuple
    needs: tuple[bool, ...]

    def forward(self, *args: Any, **params: Any) -> np.ndarray:
        raise NotImplementedError

    def backward(self, g: Any, out: Any, *inputs: Any) -> tuple:
        raise NotImplementedError

    @property
    def name(self) -> str:
        """The op's name as shown in graphs: the class name."""
        return type(self).__name__

    @classmethod
    def apply(cls, *inputs: Any, **params: Any) -> Tensor:
        """Run the op on Tensors or constants; recorded in grad mode when an input needs grad."""
        fn = object.__new__(cls)
        # This is the hot path of every op, hence the unrolled one-, two- and three-input cases
        # (the two-input case spells out `_constant` inline to save a call per op).
        if len(inputs) == 2:
            a, b = inputs
            if isinstance(a, Tensor):
                a_data, a_needs = a._data, a.requires_grad
            else:
                a_data, a_needs = (a if isinstance(a, _CONSTANT) else np.asarray(a)), False
            if isinstance(b, Tensor):
                b_data, b_needs = b._data, b.requires_grad
            else:
                b_data, b_needs = (b if isinstance(b, _CONSTANT) else np.asarray(b)), False
            arrays, needs = (a_data, b_data), _NEEDS2[a_needs][b_needs]
        elif len(inputs) == 1 and isinstance(inputs[0], Tensor):
            arrays, needs = (inputs[0]._data,), _NEEDS1[inputs[0].requires_grad]
        elif (
            len(inputs) == 3  # Affine (x, W, b): every linear layer, every step
            and isinstance(inputs[0], Tensor)
            and isinstance(inputs[1], Tensor)
            and isinstance(inputs[2], Tensor)
        ):
            a, b, c = inputs
            arrays = (a._data, b._data, c._data)
            needs = (a.requires_grad, b.requires_grad, c.requires_grad)
        else:  # other cases (constants among three or more inputs, a constant alone): one pass
            arrays_l, needs_l = [], []
            for x in inputs:
                if isinstance(x, Tensor):
                    arrays_l.append(x._data)
                    needs_l.append(x.requires_grad)
                else:
                    arrays_l.append(_constant(x))
                    needs_l.append(False)
            arrays, needs = tuple(arrays_l), tuple(needs_l)
        out = fn.forward(*arrays, **params)
        if type(out) is not np.ndarray:
            out = np.asarray(out)
        if True in needs and _mode.enabled:
            fn.inputs = inputs
            fn.arrays = arrays
            fn.needs = needs
            fn.seq = next(_sequence)
            return _make_tensor(out, True, fn)
        return _make_tensor(out, False, None)


_sequence = itertools.count()  # creation order of recorded ops: inputs always come first
heappush, heappop = heapq.heappush, heapq.heappop
# shared `needs` tuples for one and two inputs (indexed by bools): no allocation per op
_NEEDS1 = ((False,), (True,))
_NEEDS2 = (((False, False), (False, True)), ((True, False), (True, True)))
# constants passed to rules as they are; anything else (lists, ...) becomes an ndarray
_CONSTANT = (np.ndarray, np.generic, float, int)


def _constant(x: Any) -> Any:
    return x if isinstance(x, _CONSTANT) else np.asarray(x)


# ---------------------------------------------------------------------------------------------
# the graph's order (one walk, used by backprop, viz, compare and train)


def graph_inputs(t: Tensor) -> list[Tensor]:
    """The Tensor arguments of the op that made ``t`` (constants left out); [] for a leaf."""
    ctx = t._ctx
    return [] if ctx is None else [x for x in ctx.inputs if isinstance(x, Tensor)]


def topological_order(
    roots: Tensor | Sequence[Tensor],
    children: Callable[[Tensor], Sequence[Tensor]] = graph_inputs,
) -> list[Tensor]:
    """Every tensor the ``roots`` depend on, each after its inputs, the roots last.

    An iterative depth-first post-order (no recursion: a 100,000-op chain is fine), following
    ``children(t)`` (by default the op's Tensor inputs, in argument order), so the order is
    deterministic. Reversed, it is an order in which a backward pass can visit the tensors.
    """
    order: list[Tensor] = []
    seen: set[int] = set()
    stack: list[tuple[Any, bool]] = [(r, False) for r in reversed(_as_list(roots))]
    while stack:
        t, expanded = stack.pop()
        if expanded:
            order.append(t)
            continue
        if id(t) in seen:
            continue
        seen.add(id(t))
        stack.append((t, True))
        stack.extend((x, False) for x in reversed(children(t)) if id(x) not in seen)
    return order


def _as_list(roots: Any) -> list:
    return [roots] if isinstance(roots, Tensor) else list(roots)


# ---------------------------------------------------------------------------------------------
# helpers shared by the rules


def unbroadcast(g: Any, shape: tuple[int, ...]) -> Any:
    """Sum ``g`` over the axes that broadcasting added or stretched, so it has ``shape``.

    Works on ndarrays and Tensors alike. Raises if ``shape`` does not broadcast to ``g.shape``
    (that would be a wrong rule, never silently reshaped).
    """
    gshape = g.shape
    if gshape == shape:
        return g
    extra = len(gshape) - len(shape)
    if extra > 0 and gshape[extra:] == shape:  # only new leading axes (a bias): the common case
        g = g.sum(axis=0 if extra == 1 else tuple(range(extra)))
        return g if shape else g.reshape(())  # numpy reduces to a scalar: keep an array
    if extra < 0 or any(n != 1 and n != gshape[i + extra] for i, n in enumerate(shape)):
        raise ValueError(
            f"gradient of shape {gshape} cannot be reduced to the input's shape {shape}"
        )
    stretched = tuple(i + extra for i, n in enumerate(shape) if n == 1 and gshape[i + extra] != 1)
    if not stretched:  # only new leading axes (a bias, a batch): one reduction, no reshape
        g = g.sum(axis=tuple(range(extra)))
        return g if shape else g.reshape(())  # numpy reduces to a scalar: keep an array
    axes = tuple(range(extra)) + stretched
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return g.reshape(shape)


@functools.lru_cache(maxsize=16)
def _ones_of(dtype: np.dtype) -> np.ndarray:
    one = np.ones((), dtype)
    one.flags.writeable = False
    return one


def _one(dtype: np.dtype) -> np.ndarray:
    """A new writable 0-d array holding 1 (a copy of a cached one: cheaper than np.ones)."""
    return _ones_of(dtype).copy()


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
        shape, dtype = root._data.shape, root._data.dtype
        g = np.ones(shape, dtype) if shape else _one(dtype)  # a fresh 1 of root's shape
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


def backprop(
    roots: Sequence[Tensor],
    seeds: Sequence[Any],
    create_graph: bool = False,
    wanted: Sequence[Tensor] | None = None,
) -> dict[int, Any] | None:
    """The backward walk.

    ``seeds[i]`` is the gradient of ``roots[i]`` (already checked by ``_seed``). When ``wanted``
    is None, gradients of leaves are accumulated into their ``.grad`` (``Tensor.backward``).
    Otherwise the gradients of the ``wanted`` tensors are returned in a dict keyed by ``id``
    and ``.grad`` is left untouched (``grad()``).

    This runs once per training step, so its fixed cost matters for small models: the leaf
    bookkeeping is written inline rather than in helper calls.
    """
    grads: dict[Tensor, Any] = {}  # summed upstream gradient of each non-leaf still to visit
    collect = {id(t): None for t in wanted} if wanted is not None else None
    handed_out: set[int] = set()  # arrays already stored somewhere: copy before keeping them
    # .grad is written only once the whole walk has succeeded: a rule that raises midway
    # leaves every .grad as it was
    pending: dict[Tensor, Any] = {}

    for root, g in zip(roots, seeds, strict=True):
        handed_out.add(id(g))
        if root._ctx is None:
            _send_to_leaf(root, g, pending, collect)
        else:
            prev = grads.get(root)
            grads[root] = g if prev is None else prev + g

    # Tensors whose gradient is complete are visited newest first: an op's inputs always exist
    # before it runs (``seq`` counts recorded ops), so when the newest pending tensor is taken,
    # every op that used it is newer and has already sent its share. A heap of the pending
    # tensors gives that order; only tensors that actually receive a gradient enter it.
    heap = [(-t._ctx.seq, t) for t in grads]
    heapq.heapify(heap)
    gc_was_enabled = gc.isenabled()
    gc.disable()  # the walk creates no reference cycles; collecting during it only costs time
    mode_before = _mode.enabled
    _mode.enabled = create_graph  # rules record a graph only when one is wanted
    try:
        while heap:
            t = heappop(heap)[1]
            g = grads.pop(t)
            if collect is not None and id(t) in collect:
                collect[id(t)] = g
            elif t._retains_grad and not create_graph:
                pending[t] = g
            ctx = t._ctx
            if create_graph:
                in_grads = ctx.backward(g, t, *ctx.inputs)
            else:
                in_grads = ctx.backward(g, t._data, *ctx.arrays)
            del g  # the rule was its last user: free it now (no refs left in the walk)
            for x, need, gx in zip(ctx.inputs, ctx.needs, in_grads, strict=True):
                if not need or gx is None:
                    continue
                xdata = x._data
                if gx.shape != xdata.shape:
                    gx = unbroadcast(gx, xdata.shape)
                if gx.dtype is not xdata.dtype and gx.dtype != xdata.dtype:
                    gx = gx.astype(xdata.dtype)
                if x._ctx is not None:
                    prev = grads.get(x)
                    if prev is None:
                        grads[x] = gx
                        heappush(heap, (-x._ctx.seq, x))
                    else:
                        grads[x] = prev + gx
                elif collect is None:  # a leaf, for Tensor.backward: summed in `pending`
                    prev = pending.get(x)
                    pending[x] = gx if prev is None else prev + gx
                elif id(x) in collect:  # a leaf wanted by grad()
                    prev = collect[id(x)]
                    collect[id(x)] = gx if prev is None else prev + gx
            del in_grads
    finally:
        _mode.enabled = mode_before
        if gc_was_enabled:
            gc.enable()
    for t, g in pending.items():
        if (
            t._grad is None and type(g) is np.ndarray and g.base is None and id(g) not in handed_out
        ):  # the common case, inline: a fresh array becomes .grad as it is
            handed_out.add(id(g))
            t._grad = g
        else:
            _accumulate_leaf(t, g, handed_out)
    return collect


def _send_to_leaf(t: Tensor, g: Any, pending: dict, collect: dict | None) -> None:
    """Add ``g`` to leaf ``t``'s pending gradient (or to ``collect`` for ``grad()``)."""
    if collect is None:
        prev = pending.get(t)
        pending[t] = g if prev is None else prev + g
    elif id(t) in collect:
        prev = collect[id(t)]
        collect[id(t)] = g if prev is None else prev + g


def _accumulate_leaf(t: Tensor, g: Any, handed_out: set[int]) -> None:
    """``t.grad += g`` without ever sharing memory with another gradient or the caller's array."""
    if isinstance(g, Tensor):
        g = g._data
    if t._grad is None:
        if (
            type(g) is not np.ndarray  # a numpy scalar from a 0-d op: make it an array
            or g.base is not None  # a view (of the upstream gradient, or a broadcast)
            or id(g) in handed_out  # already someone's .grad, or the caller's array
        ):
            g = np.array(g, dtype=t._data.dtype)
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
    from .tensor import Tensor

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
        g = found.get(id(x))
        if g is None:
            g = np.zeros_like(x._data)
        if not isinstance(g, Tensor):
            g = _make_tensor(g if g is not x._data else g.copy(), False, None)
        result.append(g)
    return tuple(result)


from .tensor import Tensor, _make_tensor  # noqa: E402  (Tensor builds on Function)
