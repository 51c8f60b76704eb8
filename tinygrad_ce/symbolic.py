"""A tiny symbolic algebra for writing gradients as formulas (``A @ (softmax(A^T y) - x)``).

Only what ``explain`` needs: names, function calls, + - * / ** @, transposes and negation,
rendered with as few parentheses as the precedences allow, and a handful of simplifications
applied as expressions are built:

* ``1 * e``, ``e * 1``, ``e / 1`` -> ``e`` (the seed ``g = 1`` at a scalar loss drops out);
* ``(e^T)^T`` -> ``e`` (also for a tensor named ``"A^T"``) and ``outer(a, b)^T`` ->
  ``outer(b, a)``;
* ``-(-e)`` -> ``e``, ``a + (-b)`` and ``-b + a`` -> ``a - b``, ``a - (-b)`` -> ``a + b``;
* ``e + e`` -> ``2 * e``.

A formula an op declares as text (``"dx = g * tanh(x)"``) becomes an expression with
:func:`fill`, which puts the operands' own formulas in place of its letters.

Notation: ``^T`` is a transpose, ``@`` a matrix product (a contraction) in a gradient, and a
matrix product inside a forward value is written by juxtaposition (``A^T y``), as in the maths.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from functools import cached_property

# binding strength: higher binds tighter
_PREC = {"+": 10, "-": 10, "*": 20, "/": 20, "@": 20, " ": 20, "neg": 30, "**": 40, "^T": 50}
_ATOM = 100
_ASSOCIATIVE = {"+", "*", "@", " "}


@dataclass(frozen=True)
class Expr:
    """One node of a formula: ``kind`` is "atom", "call", "neg", "^T", "text" (a filled-in
    declared formula) or a binary operator."""

    kind: str
    text: str = ""  # atom text or function name
    args: tuple[Expr, ...] = ()

    @property
    def prec(self) -> int:
        if self.kind == "text":
            return _text_prec(self.text)
        return _PREC.get(self.kind, _ATOM)

    def render(self) -> str:
        """The formula as text with the parentheses it needs (computed once)."""
        return self._text

    @cached_property
    def _text(self) -> str:
        if self.kind in ("atom", "text"):
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


def indexable(e: Expr) -> str:
    """``e`` as text that can take an index after it: ``x``, ``A^T``, or ``(a + b)``."""
    return e.render() if e.prec >= _ATOM or e.kind == "^T" else f"({e.render()})"


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


# ---------------------------------------------------------------------------------------------
# declared formulas filled in with the operands' names

_WORD = re.compile(r"[A-Za-z_][A-Za-z_0-9]*")
_BINARY = {
    ast.Add: add,
    ast.Sub: sub,
    ast.Mult: mul,
    ast.Div: div,
    ast.Pow: power,
    ast.MatMult: matmul,
}


def fill(template: str, values: dict[str, Expr]) -> Expr:
    """The formula ``template`` with each letter in ``values`` replaced by that expression.

    ``fill("g * tanh(x)", {"g": atom("g"), "x": name("a + b")})`` is ``g * tanh(a + b)``. A
    template in Python's arithmetic (``+ - * / ** @``, calls, ``x^T`` or ``x.T``) is built with
    the constructors above, so it simplifies as a hand-written formula does (``1 * e`` is
    ``e``); anything else is kept as text with the operands substituted (parenthesised unless
    atomic). Words not in ``values`` (function names) stay as they are.
    """
    text = template.strip()
    try:
        tree = ast.parse(re.sub(r"\^T\b", ".T", text), mode="eval").body
        return _from_ast(tree, values)
    except (SyntaxError, ValueError):
        pass

    def swap(match: re.Match) -> str:
        e = values.get(match.group(0))
        if e is None:
            return match.group(0)
        before, after = text[: match.start()].rstrip()[-1:], text[match.end() :].lstrip()[:1]
        alone = before in ("(", ",") and after in (")", ",")  # a whole argument of a call
        return e.render() if e.prec == _ATOM or alone else f"({e.render()})"

    return Expr("text", _WORD.sub(swap, text))


def _from_ast(node: ast.expr, values: dict[str, Expr]) -> Expr:
    if isinstance(node, ast.Name):
        return values.get(node.id) or atom(node.id)
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
        return number(node.value)
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        return _BINARY[type(node.op)](_from_ast(node.left, values), _from_ast(node.right, values))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return neg(_from_ast(node.operand, values))
    if isinstance(node, ast.Attribute) and node.attr == "T":
        return T(_from_ast(node.value, values))
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
        return call(node.func.id, *(_from_ast(a, values) for a in node.args))
    raise ValueError("not a formula fill() builds")


def _text_prec(text: str) -> int:
    """How strongly a filled-in text formula binds: its loosest operator outside brackets."""
    depth, loosest = 0, _ATOM
    for i, ch in enumerate(text):
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif depth == 0 and ch in "+-*/@" and 0 < i < len(text) - 1 and text[i - 1] == " ":
            loosest = min(loosest, _PREC["+"] if ch in "+-" else _PREC["*"])
    if loosest == _ATOM and text.startswith("-"):
        return _PREC["neg"]
    return loosest
