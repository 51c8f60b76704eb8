"""Shape and indexing ops: reshape, transpose, broadcast, ``x[index]`` and its backward."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import symbolic as E
from ..autograd import Function, is_tensor, unbroadcast


def broadcast_to(x: Any, shape: tuple[int, ...]) -> Any:
    """``np.broadcast_to`` for ndarrays, the differentiable ``BroadcastTo`` op for Tensors."""
    if is_tensor(x):
        return BroadcastTo.apply(x, shape=shape)
    return np.broadcast_to(x, shape)


class Reshape(Function):
    args, formula, vjp = ("x",), "x.reshape(shape)", ("dx = g.reshape(x.shape)",)

    def forward(self, x, shape):
        self.in_shape = x.shape
        try:
            return x.reshape(shape)
        except (ValueError, TypeError):
            raise ValueError(
                f"cannot reshape a tensor of shape {x.shape} ({x.size} elements) into {shape}"
            ) from None

    def backward(self, g, out, x):
        return (g.reshape(self.in_shape),)

    def formula_expr(self, args, namer=None):
        return args[0]  # same numbers: the formula does not change

    def vjp_exprs(self, g, args, out, namer=None):
        return [g]


class Transpose(Function):
    args, formula, vjp = ("x",), "x^T", ("dx = g^T",)

    def forward(self, x, axes=None):
        axes = tuple(range(x.ndim))[::-1] if axes is None else tuple(int(a) for a in axes)
        # negative axes count from the end; stored non-negative so backward can invert them
        perm = tuple(a % x.ndim if -x.ndim <= a < x.ndim else a for a in axes)
        if sorted(perm) != list(range(x.ndim)):
            raise ValueError(
                f"transpose: axes {axes} are not a permutation of the {x.ndim} axes of a "
                f"tensor of shape {x.shape}"
            )
        self.axes = perm
        return x.transpose(perm)

    def backward(self, g, out, x):
        return (g.transpose(tuple(np.argsort(self.axes).tolist())),)


class BroadcastTo(Function):
    args, formula, vjp = ("x",), "broadcast_to(x, shape)", ("dx = g summed over new axes",)

    def forward(self, x, shape):
        try:
            return np.broadcast_to(x, shape)
        except ValueError:
            raise ValueError(f"cannot broadcast a tensor of shape {x.shape} to {shape}") from None

    def backward(self, g, out, x):
        return (unbroadcast(g, x.shape),)

    def formula_expr(self, args, namer=None):
        return args[0]

    def vjp_exprs(self, g, args, out, namer=None):
        return [g]


# ---------------------------------------------------------------------------------------------
# indexing


def normalize_index(index: Any) -> Any:
    """Turn Tensors and lists inside an index into ndarrays, keep everything else."""
    if isinstance(index, tuple):
        return tuple(normalize_index(i) for i in index)
    if is_tensor(index):
        return index._data
    if isinstance(index, list):
        return np.asarray(index)
    return index


def _has_integer_array(index: Any) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return any(isinstance(i, np.ndarray) and i.dtype.kind in "iu" for i in items)


class GetItem(Function):
    """Repeated indices accumulate in the backward (``np.add.at``)."""

    args, formula, vjp = ("x",), "x[index]", ("dx = g scattered into zeros",)

    def forward(self, x, index):
        self.index = index
        self.in_shape = x.shape
        return x[index]

    def backward(self, g, out, x):
        return (scatter_add(g, self.index, self.in_shape),)

    def formula_expr(self, args, namer=None):
        x = args[0]
        text = E.indexable(x)
        return E.atom(f"{text}[{index_text(self.index, namer)}]")

    def vjp_exprs(self, g, args, out, namer=None):
        """``scatter(g)``; one entry per row (``x[range, labels]``) is ``g * onehot(labels)``."""
        index = self.index
        if (
            isinstance(index, tuple)
            and len(index) == 2
            and len(self.in_shape) == 2
            and _is_arange(index[0])
            and isinstance(index[1], np.ndarray)
            and index[1].shape == index[0].shape
        ):
            onehot = E.call("onehot", E.atom((namer and namer(index[1])) or "idx"))
            col = g if _is_number(g) else E.atom(f"{E.indexable(g)}[:, None]")
            return [E.mul(col, onehot)]
        if g.kind == "neg":
            return [E.neg(E.call("scatter", g.args[0]))]
        return [E.call("scatter", g)]


class ScatterAdd(Function):
    """The backward of GetItem: zeros of ``shape`` with ``g`` added at ``index``."""

    args, formula, vjp = ("g",), "scatter_add(g, index, shape)", ("dg = dz[index]",)

    def forward(self, g, index, shape):
        self.index = index
        if _is_row_index(index, shape):  # x[idx] of a table: a sorted scatter, not np.add.at
            flat = index.reshape(-1)
            flat = np.where(flat < 0, flat + shape[0], flat)
            return scatter_add_rows(flat, g.reshape((flat.size,) + tuple(shape[1:])), shape[0])
        out = np.zeros(shape, dtype=g.dtype)
        if _has_integer_array(index):
            np.add.at(out, index, g)  # integer arrays may repeat an index: accumulate
        else:
            out[index] = g  # basic indexing and masks touch each element once
        return out

    def backward(self, g, out, x):
        return (g[self.index],)

    def vjp_exprs(self, g, args, out, namer=None):
        return [E.atom(f"{E.indexable(g)}[{index_text(self.index, namer)}]")]


def _is_row_index(index: Any, shape: tuple[int, ...]) -> bool:
    """``index`` is one integer array picking whole rows (``x[idx]``, ``idx`` of any shape)."""
    return isinstance(index, np.ndarray) and index.dtype.kind in "iu" and len(shape) >= 1


def scatter_add_rows(idx: np.ndarray, rows: np.ndarray, n: int) -> np.ndarray:
    """Zeros of shape ``(n,) + rows.shape[1:]`` with ``rows[i]`` added into row ``idx[i]``.

    ``idx`` is 1-D, in ``[0, n)``; repeated ids accumulate. Sorts the ids (stable), gathers the
    rows in that order *transposed* (columns contiguous, so ``np.add.reduceat`` runs along
    memory: about 3x faster than along rows) and sums each run of equal ids with one
    ``reduceat``, then writes each distinct row once.
    """
    # vs np.add.at: 5x faster for a character GPT's batch (vocab 65, 2048 ids of 128), 0.9-1.4x
    # at vocab 10k-50k (benchmarks/bench_embedding.py, docs/language.md); bincount wins only
    # for many ids of a narrow table, one-hot matmul never beyond small vocabularies
    out = np.zeros((n,) + rows.shape[1:], dtype=rows.dtype)
    if idx.size == 0:
        return out
    order = np.argsort(idx, kind="stable")
    ids = idx[order]
    starts = np.flatnonzero(np.concatenate(([True], ids[1:] != ids[:-1])))
    flat = rows.reshape(len(idx), -1)
    columns = np.ascontiguousarray(flat[order].T)  # (D, N): runs of equal ids contiguous
    sums = np.add.reduceat(columns, starts, axis=1)  # (D, distinct ids)
    out.reshape(n, -1)[ids[starts]] = sums.T
    return out


def scatter_add(g: Any, index: Any, shape: tuple[int, ...]) -> Any:
    if is_tensor(g):
        return ScatterAdd.apply(g, index=index, shape=shape)
    return ScatterAdd().forward(g, index, shape)


# --- how an index is written in a formula --------------------------------------------------


def _is_arange(i: Any) -> bool:
    return (
        isinstance(i, np.ndarray)
        and i.ndim == 1
        and i.dtype.kind in "iu"
        and np.array_equal(i, np.arange(len(i)))
    )


def _is_number(e: E.Expr) -> bool:
    if e.kind == "neg":
        return _is_number(e.args[0])
    try:
        float(e.text)
    except ValueError:
        return False
    return e.kind == "atom"


def index_text(index: Any, namer: Any = None) -> str:
    """``x[index]`` as a reader would write the index: ``0, :``, ``range, labels``, ``mask``."""
    items = index if isinstance(index, tuple) else (index,)
    out = []
    for i in items:
        if isinstance(i, slice):
            parts = ["" if v is None else str(v) for v in (i.start, i.stop, i.step)]
            out.append(":".join(parts[:2]) + (f":{parts[2]}" if parts[2] else ""))
        elif i is None:
            out.append("None")
        elif i is Ellipsis:
            out.append("...")
        elif isinstance(i, (int, np.integer)):
            out.append(str(int(i)))
        elif isinstance(i, np.ndarray) and i.dtype == bool:
            out.append((namer and namer(i)) or "mask")
        elif _is_arange(i):
            out.append("range")
        else:
            out.append((namer and namer(i)) or "idx")
    return ", ".join(out)


# ---------------------------------------------------------------------------------------------
# joining and looking up


class Concat(Function):
    """``np.concatenate(xs, axis)`` of any number of tensors; each gets its slice of ``g``."""

    args, formula = ("x",), "concatenate(xs, axis)"
    vjp = ("dx = g[..., start:stop, ...] (each input its own slice along axis)",)

    def forward(self, *xs, axis=0):
        if not xs:
            raise ValueError("cat: needs at least one tensor")
        ndim = np.ndim(xs[0])
        if ndim == 0:
            raise ValueError("cat: zero-dimensional tensors cannot be concatenated; use stack")
        if not -ndim <= axis < ndim:
            raise ValueError(f"cat: axis {axis} is out of range for tensors with {ndim} axes")
        self.axis = axis % ndim
        try:
            out = np.concatenate(xs, axis=self.axis)
        except ValueError:
            shapes = [np.shape(x) for x in xs]
            raise ValueError(f"cat: shapes {shapes} must match except along axis {axis}") from None
        stops = np.cumsum([np.shape(x)[self.axis] for x in xs]).tolist()
        self.bounds = list(zip([0, *stops[:-1]], stops, strict=True))
        return out

    def _slice(self, start: int, stop: int) -> tuple:
        return (slice(None),) * self.axis + (slice(start, stop),)

    def backward(self, g, out, *xs):
        return tuple(
            g[self._slice(a, b)] if need else None
            for (a, b), need in zip(self.bounds, self.needs, strict=True)
        )

    def rules(self) -> tuple[str, ...]:
        lead = ":, " * self.axis
        return tuple(f"dx{i} = g[{lead}{a}:{b}]" for i, (a, b) in enumerate(self.bounds))

    def formula_expr(self, args, namer=None):
        return E.call("concatenate", *args)

    def vjp_exprs(self, g, args, out, namer=None):
        lead = ":, " * self.axis
        return [E.atom(f"{E.indexable(g)}[{lead}{a}:{b}]") for a, b in self.bounds[: len(args)]]


class Embedding(Function):
    """Rows of a table picked by integer ids: ``W[idx]``, shape ``idx.shape + (dim,)``.

    The gradient is a scatter-add of the rows of ``g`` into a zero table: repeated ids
    accumulate (``scatter_add_rows``, a sorted reduction, much faster than ``np.add.at``).
    """

    args, formula, vjp = ("W",), "W[idx]", ("dW = scatter_add(g, idx)",)

    def forward(self, w, indices):
        idx = np.asarray(indices)
        if idx.dtype.kind not in "iu":
            raise TypeError(f"embedding: indices must be integers, got dtype {idx.dtype}")
        if w.ndim != 2:
            raise ValueError(f"embedding: weight must be (num_embeddings, dim), got {w.shape}")
        if idx.size and (idx.min() < 0 or idx.max() >= w.shape[0]):
            bad = int(idx.min()) if idx.min() < 0 else int(idx.max())
            raise IndexError(
                f"embedding: index {bad} is out of range for a table of {w.shape[0]} rows "
                f"(valid ids are 0..{w.shape[0] - 1})"
            )
        self.idx = idx
        self.rows = w.shape[0]
        return np.take(w, idx, axis=0)

    def backward(self, g, out, w):
        flat = self.idx.reshape(-1)
        if is_tensor(g):  # differentiable: ScatterAdd's own backward gathers the rows again
            rows = g.reshape((flat.size, g.shape[-1]))
            return (ScatterAdd.apply(rows, index=flat, shape=(self.rows, g.shape[-1])),)
        return (scatter_add_rows(flat, g.reshape(flat.size, g.shape[-1]), self.rows),)

    def formula_expr(self, args, namer=None):
        return E.atom(f"{E.indexable(args[0])}[{(namer and namer(self.idx)) or 'idx'}]")

    def vjp_exprs(self, g, args, out, namer=None):
        return [E.call("scatter_add", g, E.atom((namer and namer(self.idx)) or "idx"))]
