"""A tiny symbolic algebra for writing gradients as formulas (``A @ (softmax(A^T y) - x)``).

Only what ``explain`` needs: names, function calls, + - * / ** @, transposes and negation,
rendered with as few parentheses as the precedences allow, and a handful of simplifications
applied as expressions are built:

* ``1 * e``, ``e * 1``, ``e / 1`` -> ``e`` (the seed ``g = 1`` at a scalar loss drops out);
* ``(e^T)^T`` -> ``e`` (also for a tensor named ``"A^T"``) and ``outer(a, b)^T`` ->
  ``outer(b, a)``;
* ``-(-e)`` -> ``e``, ``a + (-b)`` and ``-b + a`` -> ``a - b``, ``a - (-b)`` -> ``a + b``;
* ``e + e`` -> ``2 * e``.

Notation: ``^T`` is a transpose, ``@`` a matrix product (a contraction) in a gradient, and a
matrix product inside a forward value is written by juxtaposition (``A^T y``), as in the maths.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

# binding strength: higher binds tighter
_PREC = {"+": 10, "-": 10, "*": 20, "/": 20, "@": 20, " ": 20, "neg": 30, "**": 40, "^T": 50}
_ATOM = 100
_ASSOCIATIVE = {"+", "*", "@", " "}


@dataclass(frozen=True)
class Expr:
    """One node of a formula: ``kind`` is "atom", "call", "neg", "^T" or a binary operator."""

    kind: str
    text: str = ""  # atom text or function name
    args: tuple[Expr, ...] = ()

    @property
    def prec(self) -> int:
        return _PREC.get(self.kind, _ATOM)

    def render(self) -> str:
        """The formula as text with the parentheses it needs (computed once)."""
        return self._text

    @cached_property
    def _text(self) -> str:
        if self.kind == "atom":
            return self.text
        if self.kind == "call":
            return f"{self.text}({', '.join(a.render() for a in self.args)})"
        if self.kind == "neg":
            return "-" + _wrap(self.args[0], self.prec, right=True, parent="neg")
        if self.kind == "^T":
            return _wrap(self.args[0], self.prec, right=False, parent="^T") + "^T"
        left, right = self.args
        op = self.kind
        sep = " " if op == " " else f" {op} "
        return (
            _wrap(left, self.prec, right=False, parent=op)
            + sep
            + _wrap(right, self.prec, right=True, parent=op)
        )

    def __str__(self) -> str:
        return self.render()

    @property
    def is_one(self) -> bool:
        return self.kind == "atom" and self.text == "1"


def _wrap(child: Expr, prec: int, *, right: bool, parent: str) -> str:
    text = child.render()
    return f"({text})" if _needs_parens(child, prec, right, parent) else text


def _needs_parens(child: Expr, prec: int, right: bool, parent: str) -> bool:
    kind, cp = child.kind, child.prec
    if cp == _ATOM:
        return False
    if parent == "^T":
        return True  # (A B)^T, (a + b)^T
    if parent == "neg":
        return cp < _PREC["*"]  # -(a + b), but -g @ B^T
    if kind == "neg":
        return right or parent == "**"  # -a - b, a * (-b), (-a) ** 2
    if parent == "**":
        return True
    if cp != prec:
        return cp < prec
    # equal strength
    if not right:
        return not (kind == parent or {kind, parent} <= {"*", "/"} or {kind, parent} <= {"+", "-"})
    return not (kind == parent and parent in _ASSOCIATIVE)


# ---------------------------------------------------------------------------------------------
# constructors with light simplification


def atom(text: str) -> Expr:
    """A name (``A``, ``g``), a number or any text that needs no parentheses."""
    return Expr("atom", text)


ONE = atom("1")


def name(text: str) -> Expr:
    """A tensor's name. A name ending in ``^T`` (``"A^T"``) is read as a transpose of ``A``, so
    transposing it again gives ``A`` rather than ``A^T^T``."""
    stem, count = text, 0
    while stem.endswith("^T") and len(stem) > 2:
        stem, count = stem[:-2], count + 1
    e = atom(stem)
    for _ in range(count):
        e = T(e)
    return e


def number(value: float) -> Expr:
    """A constant written compactly: ``2``, ``0.5``, ``1e-05``."""
    v = float(value)
    if v.is_integer() and abs(v) < 1e15:
        text = str(int(v))
    else:
        text = f"{v:.4g}"
        if float(text) != v:  # never round 1.0001 to "1" (that would drop out as g = 1 does)
            text = f"{v:.6g}" if float(f"{v:.6g}") not in (0.0, 1.0, -1.0) else repr(v)
    if v < 0:
        return neg(atom(text[1:]))
    return atom(text)


def call(name: str, *args: Expr) -> Expr:
    return Expr("call", name, tuple(args))


def neg(e: Expr) -> Expr:
    if e.kind == "neg":
        return e.args[0]
    return Expr("neg", "", (e,))


def T(e: Expr) -> Expr:
    """Transpose; ``(e^T)^T`` cancels and ``outer(a, b)^T`` is ``outer(b, a)``."""
    if e.kind == "^T":
        return e.args[0]
    if e.kind == "call" and e.text == "outer":
        return call("outer", e.args[1], e.args[0])
    if e.kind == "neg":
        return neg(T(e.args[0]))
    if e.is_one:
        return e
    return Expr("^T", "", (e,))


def add(a: Expr, b: Expr) -> Expr:
    if a == b:
        return mul(number(2), a)
    if b.kind == "neg":
        return sub(a, b.args[0])
    if a.kind == "neg":
        return sub(b, a.args[0])
    return Expr("+", "", (a, b))


def sub(a: Expr, b: Expr) -> Expr:
    if b.kind == "neg":
        return add(a, b.args[0])
    return Expr("-", "", (a, b))


def mul(a: Expr, b: Expr) -> Expr:
    if a.is_one:
        return b
    if b.is_one:
        return a
    if a.kind == "neg":
        return neg(mul(a.args[0], b))
    if b.kind == "neg":
        return neg(mul(a, b.args[0]))
    return Expr("*", "", (a, b))


def div(a: Expr, b: Expr) -> Expr:
    if b.is_one:
        return a
    if a.kind == "neg":
        return neg(div(a.args[0], b))
    return Expr("/", "", (a, b))


def power(a: Expr, b: Expr) -> Expr:
    if b.is_one:
        return a
    return Expr("**", "", (a, b))


def matmul(a: Expr, b: Expr) -> Expr:
    """A contraction written with ``@`` (used in gradients)."""
    if a.kind == "neg":
        return neg(matmul(a.args[0], b))
    if b.kind == "neg":
        return neg(matmul(a, b.args[0]))
    return Expr("@", "", (a, b))


def product(a: Expr, b: Expr) -> Expr:
    """A matrix product inside a forward value, written by juxtaposition: ``A^T y``."""
    return Expr(" ", "", (a, b))
