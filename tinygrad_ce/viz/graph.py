"""Reading a recorded graph: the tensors behind a result, in order, and a readable name for each.

Drawing and explaining only *read* the graph (``tensor._ctx``, ``fn.inputs``); nothing here
changes it. Every walk is iterative, so a 100,000-op chain is no problem.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from .. import symbolic as E
from ..autograd import differentiable_inputs, graph_inputs, topological_order
from ..symbolic import Expr
from ..tensor import Tensor


def forward_order(root: Tensor, within: set[int] | None = None) -> list[Tensor]:
    """Every tensor ``root`` depends on, inputs before outputs, ``root`` last.

    With ``within`` (a set of ``id``s), only those tensors are visited. The engine's
    ``topological_order``: deterministic (inputs in argument order).
    """
    if within is None:
        return topological_order(root)
    return topological_order(root, lambda t: [x for x in graph_inputs(t) if id(x) in within])


def check_names(names: Any) -> dict[Tensor, str]:
    """``names`` as a dict Tensor -> str; a Module gives its parameters' dotted names.

    Raises TypeError with a hint when the dict is the wrong way round ({"A": A}).
    """
    if names is None:
        return {}
    if hasattr(names, "named_parameters"):  # an nn.Module: {W: "0.weight", ...}
        return {p: n for n, p in names.named_parameters()}
    if not isinstance(names, dict):
        raise TypeError(
            f"names must be a dict mapping Tensor -> str (or a Module), got {type(names).__name__}"
        )
    for key, value in names.items():
        if not isinstance(key, Tensor):
            hint = (
                " (it is the wrong way round: use {tensor: 'name'})"
                if isinstance(value, Tensor)
                else ""
            )
            raise TypeError(
                f"names must map Tensor -> str, got a key of type {type(key).__name__}{hint}"
            )
    return names


def backward_order(root: Tensor) -> list[Tensor]:
    """The non-leaf tensors whose op ``backward()`` runs, in the order it runs them.

    The engine's own order: ``topological_order`` over the inputs that need a gradient,
    reversed (outputs before their inputs).
    """
    if root._ctx is None or not root.requires_grad:
        return []
    return [t for t in reversed(topological_order(root, differentiable_inputs)) if t._ctx]


class Labels:
    """A name for every tensor: its ``names=`` entry or ``.name``, else a short formula.

    Leaves without a name are ``t1``, ``t2``, ... in forward order; an intermediate tensor is
    written as its op applied to its inputs' labels (``exp(x)``, ``A^T y``) while that fits in
    ``max_len`` characters, and gets a ``t<k>`` symbol otherwise (``definitions`` keeps what
    each symbol stands for).
    """

    def __init__(
        self,
        tensors: list[Tensor],
        names: dict[Tensor, str] | None = None,
        max_len: int = 32,
    ) -> None:
        self._labels: dict[int, Expr] = {}
        self._constants: dict[int, Expr] = {}
        self.definitions: dict[str, str] = {}
        self.named: set[int] = set()
        names = check_names(names)
        self._tensors, self._names = tensors, names
        # a named tensor may enter an op as a plain array (a cross-entropy target): know its data
        self._by_data = {id(t._data): str(n) for t, n in names.items() if isinstance(t, Tensor)}
        for t in tensors:
            if t.name and id(t._data) not in self._by_data:
                self._by_data[id(t._data)] = t.name
        data = {id(t._data): t._data for t in [*names, *tensors] if isinstance(t, Tensor)}
        self._named_arrays = [(data[k], n) for k, n in self._by_data.items() if k in data]
        count = 0
        for t in tensors:
            name = names.get(t) if names else None
            name = name or t.name
            if name:
                self._labels[id(t)] = E.name(str(name))
                self.named.add(id(t))
                continue
            if t._ctx is None:
                # an unnamed leaf that is a named tensor's data (``A.T`` of an A that needs no
                # gradient is recorded as a leaf): that name, else a symbol
                known = self.constant_name(t._data)
                if known is None:
                    count += 1
                self._labels[id(t)] = E.name(known) if known else E.atom(f"t{count}")
                continue
            args = []
            for x in t._ctx.inputs:
                if isinstance(x, Tensor):
                    lab = self._labels.get(id(x))
                    if lab is None:  # input outside the part we look at
                        break
                    args.append(lab)
                else:
                    args.append(self.constant(x))
            else:
                formula = t._ctx.formula_expr(args, self.constant_name)
                if len(formula.render()) <= max_len:
                    self._labels[id(t)] = formula
                    continue
                count += 1
                sym = f"t{count}"
                self.definitions[sym] = formula.render()
                self._labels[id(t)] = E.atom(sym)
                continue
            self._labels[id(t)] = E.atom("...")

    def full_text(self, t: Tensor, max_len: int) -> str | None:
        """``t``'s formula written out without symbols, or None when longer than ``max_len``."""
        if self._tensors is None:
            return None
        wide = Labels(self._tensors, self._names, max_len=max_len)
        text = wide.text(t)
        return None if wide.uses_intermediate_symbols(t) or text == "..." else text

    def uses_intermediate_symbols(self, t: Tensor) -> bool:
        """True when ``t``'s label names an intermediate by a symbol (``t3``): a compact picture
        does not draw it (leaves ``t1`` and constants ``c1`` keep their own nodes)."""
        words = set(re.findall(r"[A-Za-z_]\w*", self.text(t)))
        return bool(words & {sym for sym in self.definitions if sym.startswith("t")})

    def constant(self, value: Any) -> Expr:
        """A non-Tensor argument: a number (``2``, ``0.25``), a known name, or ``c1``, ``c2``..."""
        key = id(value)
        if key in self._constants:
            return self._constants[key]
        arr = np.asarray(value)
        known = self.constant_name(value)
        if known is not None:
            lab = E.name(known)
        elif arr.size == 1 and arr.ndim == 0 and arr.dtype.kind in "fiub":
            lab = E.number(float(arr.reshape(())))
        else:
            sym = f"c{sum(1 for d in self.definitions if d.startswith('c')) + 1}"
            what = f"a constant array of shape {tuple(arr.shape)}, {arr.dtype}"
            if arr.size == 1:
                what += f" (value {arr.reshape(-1)[0]:.4g})"
            self.definitions[sym] = what
            lab = E.atom(sym)
        self._constants[key] = lab
        return lab

    def constant_name(self, value: Any) -> str | None:
        """The name of a named tensor whose data ``value`` is, else None.

        A view of a named array counts when it holds the same numbers in the same order (a
        reshape) or is its transpose (``"A^T"``); any other view (a slice, a permutation of
        axes) is not given the name, so no formula names the wrong array.
        """
        if id(value) in self._by_data:
            return self._by_data[id(value)]
        base = value.base if isinstance(value, np.ndarray) else None
        if base is None or id(base) not in self._by_data or base.size != value.size:
            return self._same_values_name(value)
        name = self._by_data[id(base)]
        if _same_buffer(value, base) and value.flags.c_contiguous and base.flags.c_contiguous:
            return name  # a reshape
        if _same_buffer(value, base) and value.strides == base.strides[::-1]:
            if value.shape == base.shape[::-1]:
                return f"{name}^T"
        return None

    def _same_values_name(self, value: Any) -> str | None:
        """A recorded op keeps a copy of a caller's constant array (see docs/engine.md), so a
        named tensor's data may come back as a copy: named when it holds the same numbers in
        the same shape (or is its transpose)."""
        if not isinstance(value, np.ndarray) or value.size <= 1:
            return None
        for arr, name in self._named_arrays:
            if arr.size != value.size or arr.dtype.kind != value.dtype.kind:
                continue
            if arr.shape == value.shape and np.array_equal(arr, value):
                return name
            if arr.ndim == 2 and value.shape == arr.shape[::-1] and np.array_equal(arr.T, value):
                return f"{name}^T"
        return None

    def __getitem__(self, t: Tensor) -> Expr:
        return self._labels[id(t)]

    def get(self, t: Tensor) -> Expr | None:
        return self._labels.get(id(t))

    def text(self, t: Tensor) -> str:
        return self._labels[id(t)].render()

    def uses_symbols(self, t: Tensor) -> bool:
        """True when ``t``'s label mentions a generated symbol (``t3``, ``c1``) or is one."""
        words = set(re.findall(r"[A-Za-z_]\w*", self.text(t)))
        return bool(words & set(self.definitions)) or any(
            w[0] == "t" and w[1:].isdigit() for w in words
        )

    def is_named(self, t: Tensor) -> bool:
        return id(t) in self.named


def _same_buffer(a: np.ndarray, b: np.ndarray) -> bool:
    """True when ``a`` and ``b`` start at the same memory address."""
    return a.__array_interface__["data"][0] == b.__array_interface__["data"][0]
