"""draw_graph, render_graph, explain: DOT text, real rendering, missing dot, big graphs."""

from __future__ import annotations

import re
import shutil

import numpy as np
import pytest

from tinygrad_ce import Tensor, draw_graph, explain
from tinygrad_ce import functional as F
from tinygrad_ce import symbolic as E
from tinygrad_ce.example_graphs import mlp_graph, textbook_graph
from tinygrad_ce.viz import GraphvizNotFoundError, render_graph

HAVE_DOT = shutil.which("dot") is not None
needs_dot = pytest.mark.skipif(not HAVE_DOT, reason="Graphviz's dot is not installed")

NODE_LINE = re.compile(r"^\t(\S+) \[label=", re.MULTILINE)
EDGE_LINE = re.compile(r"^\t(\S+) -> (\S+)", re.MULTILINE)


def node_ids(source: str) -> list[str]:
    return NODE_LINE.findall(source)


def node_line(source: str, text: str) -> str:
    """The one node statement whose label contains ``text``."""
    found = [ln for ln in source.splitlines() if "[label=" in ln and text in ln]
    assert len(found) == 1, f"{text!r} is in {len(found)} node lines"
    return found[0]


@pytest.fixture(params=[True, False], ids=["fused", "unfused"])
def textbook(request):
    loss, names = textbook_graph(fused=request.param)
    return loss, names, request.param


# ---------------------------------------------------------------------------------------------
# DOT text


def test_textbook_dot_has_names_shapes_and_the_fused_node(textbook):
    loss, names, fused = textbook
    src = draw_graph(loss, names=names).source
    assert "<b>A</b>" in src and "<b>y</b>" in src and "<b>x</b>" in src
    assert "(4, 3) float32" in node_line(src, "<b>A</b>")
    assert "(4,) float32" in node_line(src, "<b>y</b>")
    assert "A^T y" in src  # an intermediate labelled by its formula
    a_line, x_line = node_line(src, "<b>A</b>"), node_line(src, "<b>x</b>")
    assert "#dcf2dc" in a_line  # green: needs a gradient
    assert "#e4ebf5" in x_line  # blue-grey: data
    if fused:
        sce = node_line(src, "SoftmaxCrossEntropy")
        assert "peripheries=2" in sce and "#fbd0dc" in sce
        assert "Exp" not in src and "Log</b>" not in src
        assert "CE(softmax(A^T y), x)" in node_line(src, "penwidth=2.2")  # the root, gold
    else:
        assert "SoftmaxCrossEntropy" not in src and "peripheries" not in src
        assert "<b>Exp</b>" in src and "<b>Log</b>" in src


def test_node_ids_follow_traversal_order_not_memory_addresses(textbook):
    loss, names, _ = textbook
    src = draw_graph(loss, names=names).source
    ids = node_ids(src)
    assert ids[0] == "t0"
    for node in ids:
        assert re.fullmatch(r"t\d+|op\d+|op\d+c\d+|more|legend", node), node
    tensor_ids = [int(n[1:]) for n in ids if re.fullmatch(r"t\d+", n)]
    assert tensor_ids == list(range(len(tensor_ids)))
    assert str(id(loss)) not in src


def test_same_graph_gives_the_same_dot_text():
    loss, names = textbook_graph(fused=False)
    first = draw_graph(loss, names=names, rules=True, show_data=True).source
    loss, names = textbook_graph(fused=False)  # a new graph with the same values
    again = draw_graph(loss, names=names, rules=True, show_data=True).source
    assert first == again
    loss, names = textbook_graph()
    assert draw_graph(loss, names=names).source == draw_graph(loss, names=names).source


def test_names_dict_overrides_tensor_names():
    loss, names = textbook_graph()
    a = next(t for t, n in names.items() if n == "A")
    src = draw_graph(loss, names={**names, a: "weights"}).source
    assert "<b>weights</b>" in src and "<b>A</b>" not in src
    assert "weights^T y" in src


def test_unnamed_leaves_get_numbered_symbols_and_constants_a_small_grey_node():
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    out = (x * 2).sum()
    src = draw_graph(out).source
    assert "(3,) float32" in node_line(src, "<b>t1</b>")
    assert "t1 * 2" in src  # the intermediate, written with the constant
    const = [ln for ln in src.splitlines() if re.match(r"\top\d+c\d+ \[", ln)]
    assert len(const) == 1 and "label=<2>" in const[0] and "#f3f3f3" in const[0]
    assert "\top1c1 -> op1 [style=dashed]" in src


def test_rules_come_from_the_op_docstrings_and_are_escaped():
    X = Tensor(np.ones((2, 3), np.float32), name="X")
    W = Tensor(np.ones((3, 4), np.float32), requires_grad=True, name="W")
    out = (X @ W).relu().sum()
    src = draw_graph(out, rules=True).source
    # each declared rule, in the operands' names, for the inputs that need a gradient
    assert "dW = X^T @ g" in src and "dA = " not in src  # X needs no gradient
    assert "d(X W) = g * (X W &gt; 0)" in src  # ReLU's declared rule, HTML-escaped
    assert "d(relu(X W)) = broadcast(g)" in src  # the friendlier wording for Sum
    # MatMul's edges say which argument is A and which is B, in the op's own (italic) letters
    generic = '<font color="#7a4fa3"><i>{}</i></font>'
    assert re.search(r"t\d+ -> op\d+ \[label=<" + re.escape(generic.format("A")) + r">\]", src)
    assert re.search(r"-> op\d+ \[label=<" + re.escape(generic.format("B")) + r">\]", src)
    assert "dW = " not in draw_graph(out).source


def test_show_data_grad_and_edge_shapes():
    small = Tensor([1.5, -2.0], requires_grad=True, name="small")
    big = Tensor(np.arange(100, dtype=np.float32).reshape(10, 10), requires_grad=True, name="big")
    out = (big.sum(axis=1)[:2] * small).sum()
    out.backward()
    src = draw_graph(out, show_data=True, show_grad=True, edge_shapes=True).source
    small_line = node_line(src, "<b>small</b>")
    assert "1.5" in small_line and "-2." in small_line
    assert "grad [" in small_line and "#b0362b" in small_line  # gradient in red
    big_line = node_line(src, "<b>big</b>")
    assert "mean 49.5" in big_line and "min 0" in big_line and "max 99" in big_line
    assert "grad mean" in big_line
    assert 'label="(10, 10)"' in src  # the shape on the edge into Sum
    assert "show" not in draw_graph(out).source  # no data without show_data
    assert "grad" not in draw_graph(out).source


def test_compact_drops_intermediate_tensors_and_puts_shapes_on_edges():
    loss, names = textbook_graph(fused=False)
    full = draw_graph(loss, names=names).source
    src = draw_graph(loss, names=names, compact=True).source
    tensors = [n for n in node_ids(src) if re.fullmatch(r"t\d+", n)]
    assert len(tensors) == 4  # the root, A, y and the target x; c1 is a constant of its op
    assert len(node_ids(src)) < len(node_ids(full))
    assert re.search(r"\top\d+ -> op\d+ \[label=\"\(3,\)\"\]", src)  # op to op, with a shape
    assert "label=<A^T y<br/>" in full and "label=<A^T y<br/>" not in src  # no intermediates
    assert "CE(softmax(A^T y), x)" in src  # the root keeps its name
    # rules never name an intermediate the compact picture does not draw (t1)
    rules = draw_graph(loss, names=names, compact=True, rules=True).source
    assert "dt1" not in rules and "d(t1" not in rules and "d(A^T y - c1) = g" in rules
    # an unnamed root is written out whole when its formula fits, instead of "result"
    unnamed = {t: n for t, n in names.items() if t is not loss}
    root = node_line(draw_graph(loss, names=unnamed, compact=True).source, "t0 [")
    assert "-sum((A^T y - c1 - log(sum(exp(A^T y - c1)))) * x)" in root and "result" not in root


def test_shared_input_is_one_node_with_two_edges():
    x = Tensor([1.0, 2.0], requires_grad=True, name="x")
    out = (x * x).sum()
    src = draw_graph(out).source
    assert src.count("<b>x</b>") == 1
    x_id = node_line(src, "<b>x</b>").split()[0]
    assert len([e for e in EDGE_LINE.findall(src) if e[0] == x_id]) == 2


def test_legend_and_title_are_optional():
    loss, names = textbook_graph()
    plain = draw_graph(loss, names=names).source
    fancy = draw_graph(loss, names=names, legend=True, title="CE step").source
    assert "legend" not in plain and "legend" in fancy and "CE step" in fancy
    assert "rankdir=TB" in draw_graph(loss, rankdir="TB").source


def test_bad_arguments_raise_clear_errors():
    loss, names = textbook_graph()
    with pytest.raises(TypeError, match="takes a Tensor"):
        draw_graph(np.ones(3))
    with pytest.raises(ValueError, match="rankdir"):
        draw_graph(loss, rankdir="sideways")
    with pytest.raises(ValueError, match="max_nodes"):
        draw_graph(loss, max_nodes=1)
    with pytest.raises(TypeError, match="takes a Tensor"):
        explain([1.0])
    A = next(iter(names))
    with pytest.raises(TypeError, match="wrong way round"):
        draw_graph(loss, names={"A": A})
    with pytest.raises(TypeError, match="Tensor -> str"):
        explain(loss, names=["A"])


def test_a_leaf_alone_is_one_node():
    t = Tensor([1.0], name="w")
    assert node_ids(draw_graph(t).source) == ["t0"]


# ---------------------------------------------------------------------------------------------
# big graphs


def _chain(n: int) -> Tensor:
    y = Tensor(np.float32(1.0), requires_grad=True, name="x0")
    for _ in range(n):
        y = y * 1.0001
    return y


def test_a_100000_op_chain_is_cut_to_a_bounded_picture():
    y = _chain(100_000)
    src = draw_graph(y).source  # iterative: no RecursionError
    ids = node_ids(src)
    drawn = [n for n in ids if re.fullmatch(r"t\d+|op\d+", n)]
    assert len(drawn) == 200  # max_nodes
    assert "more" in ids
    # 100,001 tensors + 100,000 ops, 200 of them drawn
    assert "... 199,801 more nodes" in src and "(99,900 ops) not drawn" in src
    assert len(src) < 150_000
    small = draw_graph(y, max_nodes=10).source
    assert len([n for n in node_ids(small) if re.fullmatch(r"t\d+|op\d+", n)]) == 10
    assert "199,991 more nodes" in small


def test_graph_under_the_limit_is_not_cut():
    loss, names = mlp_graph()
    src = draw_graph(loss, names=names).source
    assert "more nodes" not in src
    assert "more nodes" in draw_graph(loss, names=names, max_nodes=5).source


@pytest.mark.slow
def test_explain_walks_a_100000_op_chain_iteratively():
    text = explain(_chain(100_000), quiet=True, max_steps=20)
    assert "... 99,980 more steps (max_steps=20)" in text
    assert "dL/dx0 = " in text
    assert len(text.splitlines()) < 200


# ---------------------------------------------------------------------------------------------
# rendering with the real dot program


@needs_dot
@pytest.mark.parametrize(
    "suffix, magic",
    [(".svg", b"<?xml"), (".png", b"\x89PNG\r\n\x1a\n"), (".pdf", b"%PDF")],
)
def test_render_with_dot(tmp_path, suffix, magic):
    loss, names = textbook_graph()
    out = render_graph(draw_graph(loss, names=names, rules=True), tmp_path / f"g{suffix}")
    data = out.read_bytes()
    assert data.startswith(magic) and len(data) > 1000
    if suffix == ".svg":
        text = data.decode()
        assert "<svg" in text and "SoftmaxCrossEntropy" in text and "A^T y" in text


@needs_dot
def test_render_png_dpi_and_explicit_format(tmp_path):
    loss, names = textbook_graph()
    dot = draw_graph(loss, names=names)
    low = render_graph(dot, tmp_path / "low.png").read_bytes()
    high = render_graph(dot, tmp_path / "high.png", dpi=192).read_bytes()
    assert len(high) > len(low)
    svg = render_graph(dot, tmp_path / "picture.img", format="svg").read_text()
    assert "<svg" in svg
    assert "dpi" not in dot.source  # the caller's graph is not changed


def test_render_graph_is_a_lazy_top_level_name():
    import tinygrad_ce

    assert "render_graph" in tinygrad_ce.__all__
    assert tinygrad_ce.render_graph is render_graph


def test_render_dot_text_needs_no_graphviz(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    loss, names = textbook_graph()
    dot = draw_graph(loss, names=names)
    out = render_graph(dot, tmp_path / "g.dot")
    assert out.read_text() == dot.source


def test_unknown_format_is_an_error(tmp_path):
    loss, _ = textbook_graph()
    with pytest.raises(ValueError, match=r"\.svg, \.png, \.pdf or \.dot"):
        render_graph(draw_graph(loss), tmp_path / "graph.jpeg")


def test_missing_dot_gives_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no dot here
    loss, names = textbook_graph()
    dot = draw_graph(loss, names=names)  # building the DOT text still works
    assert "SoftmaxCrossEntropy" in dot.source
    with pytest.raises(GraphvizNotFoundError) as info:
        render_graph(dot, tmp_path / "g.svg")
    msg = str(info.value)
    assert isinstance(info.value, RuntimeError)
    assert "apt-get install graphviz" in msg and "brew install graphviz" in msg
    assert "https://graphviz.org/download/" in msg
    assert not (tmp_path / "g.svg").exists()
    # in a notebook the picture falls back to the DOT text with the same advice
    bundle = dot._repr_mimebundle_()
    assert "apt-get install graphviz" in bundle["text/plain"]
    assert "digraph" in bundle["text/plain"]


@needs_dot
def test_notebook_display_is_svg():
    loss, names = textbook_graph()
    bundle = draw_graph(loss, names=names)._repr_mimebundle_()
    assert "<svg" in bundle["image/svg+xml"]


# ---------------------------------------------------------------------------------------------
# explain


def test_explain_textbook_fused_shows_the_famous_gradient():
    loss, names = textbook_graph(fused=True)
    text = explain(loss, names=names, quiet=True)
    assert "Backward pass of CE(softmax(A^T y), x)" in text
    assert "dL/dy = A @ (softmax(A^T y) - x)" in text
    assert "dL/d(A^T y) = softmax(A^T y) - x" in text
    assert "dL/dA = outer(y, softmax(A^T y) - x)" in text
    # one line per op: the op, the upstream shape, the rule, the shapes sent
    matmul = next(ln for ln in text.splitlines() if "MatMul" in ln)
    # the declared rules dA = g @ B^T, dB = A^T @ g in the operands' names, then simplified
    rule = r"d\(A\^T\) = g @ y\^T -> \(3, 4\)\s+dy = \(A\^T\)\^T @ g = A @ g -> \(4,\)"
    assert re.search(r"MatMul\s+upstream \(3,\)\s+" + rule, matmul)
    sce = r"SoftmaxCrossEntropy\s+upstream \(\)\s+d\(A\^T y\) = g \* \(softmax\(A\^T y\) - x\)"
    assert re.search(sce + r" -> \(3,\)", text)
    # steps in the order backward() runs them
    order = [name for name in ("SoftmaxCrossEntropy", "MatMul", "Transpose")]
    positions = [text.index(f"  {name} ") for name in order]
    assert positions == sorted(positions)
    assert "No Jacobian was built" in text and "144 entries" in text


def test_explain_formula_matches_the_computed_gradient():
    """The printed formula is not just text: evaluating it gives y.grad."""
    loss, names = textbook_graph(fused=True)
    loss.backward()
    t = {n: k for k, n in names.items()}
    A, y, x = t["A"].data, t["y"].data, t["x"].data
    z = A.T @ y
    softmax = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
    np.testing.assert_allclose(t["y"].grad, A @ (softmax - x), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(t["A"].grad, np.outer(y, softmax - x), rtol=1e-5, atol=1e-6)


def _textbook_parts(seed: int = 0):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((4, 3))
    y = Tensor(rng.standard_normal(4), requires_grad=True, name="y")
    x = Tensor(np.array([0.2, 0.7, 0.1]), name="x")
    return A, y, x


def test_explain_a_tensor_named_a_transpose_transposes_back():
    A, y, x = _textbook_parts()
    At = Tensor(A.T, name="A^T")  # a constant named as the transpose it is
    text = explain(F.cross_entropy(At @ y, x), names={x: "x"}, quiet=True)
    assert "^T^T" not in text
    assert "dL/dy = A @ (softmax(A^T y) - x)" in text


def test_explain_a_transposed_constant_is_named_after_its_tensor():
    """``A.T`` of an A that needs no gradient is recorded as a leaf: it is labelled A^T."""
    A_np, y, x = _textbook_parts()
    A = Tensor(A_np, name="A")
    text = explain(F.cross_entropy(A.T @ y, x), names={A: "A", x: "x"}, quiet=True)
    assert "Backward pass of CE(softmax(A^T y), x)" in text
    assert "dL/dy = A @ (softmax(A^T y) - x)" in text
    text = explain(F.cross_entropy(y @ A.T.T, x), names={A: "A", x: "x"}, quiet=True)
    assert "dL/dy = (softmax(y A) - x) @ A^T" in text and "^T^T" not in text


def test_explain_a_view_of_a_named_array_is_named_only_when_it_is_that_array():
    A_np, _, _ = _textbook_parts()
    A = Tensor(A_np, name="A")  # (4, 3)
    z = Tensor(np.ones(3), requires_grad=True, name="z")
    text = explain((z @ A.data.T).sum(), names={A: "A"}, quiet=True)
    assert "sum(z A^T)" in text and "dL/dz = 1 @ A " in text  # (A^T)^T, not a wrong A^T
    w = Tensor(np.ones(4), requires_grad=True, name="w")
    text = explain((w @ A.data[:, :2]).sum(), names={A: "A"}, quiet=True)
    assert "sum(w c1)" in text and "shape (4, 2)" in text  # a slice is not A
    # and the drawing labels the transposed array's node the same way
    assert "A^T" in draw_graph((z @ A.data.T).sum(), names={A: "A"}).source


def test_explain_textbook_unfused_walks_every_primitive():
    loss, names = textbook_graph(fused=False)
    text = explain(loss, names=names, quiet=True)
    for op in ("Exp", "Log", "Sum", "Sub", "Mul", "MatMul", "Transpose"):
        assert re.search(rf"^\s+\d+\s+{op}\s+upstream", text, re.MULTILINE), op
    assert "SoftmaxCrossEntropy" not in text
    assert "dL/dy = A @ (" in text
    assert "+=" in text  # the shifted logits feed two ops: their gradients add up
    assert "c1 = a constant array of shape (1,)" in text  # the max shift, a constant
    assert "Reshape" not in text and "(1, 3)" not in text  # one row: no reshape round trip
    assert text.index("  Neg ") < text.index("  Sum ")  # -sum(x * log p) ends the graph
    assert "d{x} = g / {x}" in text  # Log's operand has a long label: the op's own letter


def test_explain_mlp():
    loss, names = mlp_graph(fused=True)
    text = explain(loss, names=names, quiet=True)
    assert "(softmax(relu(X W1 + b1) W2 + b2) - onehot(labels)) / 8" in text
    assert "dL/dW2 = relu(X W1 + b1)^T @ g2" in text
    assert "dL/db2 = sum(g2, axis=0)" in text  # broadcasting undone
    assert "[X W1 + b1 > 0]" in text  # the ReLU mask
    assert re.search(r"dL/dW1 = X\^T @ \(\(g2 @ W2\^T\) \* \[X W1 \+ b1 > 0\]\)", text)
    assert "dL/dX" not in text  # data gets no gradient
    unfused = explain(*mlp_graph(fused=False), quiet=True)
    assert "onehot(labels)" in unfused and "t2[range, labels]" in unfused


def test_explain_prints_to_a_file_or_stays_quiet(capsys, tmp_path):
    loss, names = textbook_graph()
    text = explain(loss, names=names)
    assert capsys.readouterr().out == text + "\n"
    assert explain(loss, names=names, quiet=True) == text
    assert capsys.readouterr().out == ""
    with open(tmp_path / "out.txt", "w") as fh:
        explain(loss, names=names, file=fh)
    assert (tmp_path / "out.txt").read_text() == text + "\n"


def test_explain_without_anything_to_differentiate():
    t = Tensor([1.0, 2.0], name="data")
    text = explain(t.sum(), quiet=True)
    assert "nothing to do" in text
    leaf = Tensor([1.0], requires_grad=True, name="w")
    assert "a leaf; backward() sets dL/dw = g" in explain(leaf, quiet=True)


def test_explain_non_scalar_root_uses_g():
    x = Tensor([1.0, 2.0], requires_grad=True, name="x")
    text = explain(x.exp(), quiet=True)
    assert "starts with the g you pass" in text and "dL/dx = g * exp(x)" in text


def test_explain_is_the_same_as_the_engine_order_for_a_diamond():
    a = Tensor([1.0, 2.0], requires_grad=True, name="a")
    b = a.exp()
    c = (b * a + b).sum()
    text = explain(c, quiet=True)
    assert "dL/da += " in text
    assert "dL/da = exp(a) * a + exp(a) + exp(a)" not in text  # accumulated, not duplicated
    last = text.split("Gradients reaching the leaves:")[1]
    assert "dL/da = " in last


def test_explain_cross_entropy_variants():
    z = Tensor(np.zeros((2, 3), np.float32), requires_grad=True, name="z")
    t = Tensor(np.array([[0.2, 0.2, 0.2], [0.0, 0.5, 0.1]], np.float32), name="t")
    text = explain(F.cross_entropy(z, t), names={t: "t"}, quiet=True)
    assert "dL/dz = (sum(t) * softmax(z) - t) / 2" in text  # rows do not sum to 1
    smooth = explain(F.cross_entropy(z, np.array([0, 2]), label_smoothing=0.1), quiet=True)
    assert "softmax(z) - T" in smooth
    weighted = explain(F.cross_entropy(z, np.array([0, 2]), weight=[1.0, 2.0, 3.0]), quiet=True)
    # the docstring's general rule; {T} is the op's weighted target matrix, not an operand
    assert "dz = g * (sum({T}) softmax(z) - {T})" in weighted
    assert "dz = g * (softmax(z) - {T})" in smooth  # the friendly one: rows sum to 1
    labels = explain(F.cross_entropy(z, np.array([0, 2])), quiet=True)
    assert "dz = g * (softmax(z) - onehot(c1))" in labels  # T is the labels' one-hot rows
    learnt = Tensor(np.full((2, 3), 1 / 3, np.float32), requires_grad=True, name="p")
    both = explain(F.cross_entropy(z, learnt), quiet=True)
    assert "dL/dz = (softmax(z) - p) / 2" in both and "dL/dp = -log_softmax(z) / 2" in both
    per_row = explain(F.cross_entropy(z, np.array([0, 2]), reduction="none"), quiet=True)
    assert "g[..., None] * (softmax(z) - onehot(" in per_row


# ---------------------------------------------------------------------------------------------
# the little formula algebra


def test_expressions_simplify_and_parenthesise():
    A, y, x, g = (E.atom(n) for n in "Ayxg")
    delta = E.sub(E.call("softmax", E.product(E.T(A), y)), x)
    assert E.matmul(E.T(E.T(A)), delta).render() == "A @ (softmax(A^T y) - x)"
    assert E.mul(E.ONE, delta).render() == "softmax(A^T y) - x"  # g = 1 drops out
    assert E.T(E.call("outer", g, y)).render() == "outer(y, g)"
    assert E.neg(E.neg(x)).render() == "x"
    assert E.add(E.neg(x), y).render() == "y - x"
    assert E.sub(A, E.sub(x, y)).render() == "A - (x - y)"
    assert E.sub(E.sub(A, x), y).render() == "A - x - y"
    assert E.mul(E.add(A, x), y).render() == "(A + x) * y"
    assert E.div(A, E.mul(x, y)).render() == "A / (x * y)"
    assert E.T(E.product(A, y)).render() == "(A y)^T"
    assert E.power(E.neg(A), E.number(2)).render() == "(-A) ** 2"
    assert E.add(A, A).render() == "2 * A"
    assert E.number(1.0001).render() == "1.0001"  # never rounded to 1 (which would vanish)
    assert E.number(-0.25).render() == "-0.25"
    # a name that is a transpose cancels like one
    assert E.name("A^T").render() == "A^T" and E.T(E.name("A^T")) == A
    assert E.name("A^T^T") == A and E.name("^T").render() == "^T"


def test_nn_model_names_its_parameters_and_affine_is_explained():
    from tinygrad_ce import nn

    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))
    X = Tensor(np.random.default_rng(0).standard_normal((8, 4)).astype(np.float32), name="X")
    labels = np.array([0, 1, 2, 0, 1, 2, 0, 1])
    loss = F.cross_entropy(model(X), labels)
    text = explain(loss, model, quiet=True)
    assert "Affine" in text
    assert "dL/d(2.bias) = sum((softmax(t1) - onehot(c1)) / 8, axis=0)" in text
    assert "dL/d(0.weight) = (g3 * [X 0.weight^T + 0.bias > 0])^T @ X" in text
    src = draw_graph(loss, names=model, rules=True).source
    assert "<b>0.weight</b>" in src and "<b>2.bias</b>" in src
    assert "d(0.weight) = g^T @ X" in src  # Affine's declared rule, in the operands' names
    assert re.search(r"-> op\d+ \[label=<.*<i>W</i>.*>\]", src)  # which argument is W


def test_explain_keeps_formulas_bounded_when_a_tensor_is_used_thousands_of_times():
    x = Tensor([1.0, 2.0], requires_grad=True, name="x")
    acc = x * 0.5
    for i in range(3000):
        acc = acc + x * float(i)
    text = explain(acc.sum(), quiet=True, max_steps=5)  # no RecursionError
    leaf_line = next(ln for ln in text.splitlines() if ln.startswith("  dL/dx = "))
    assert "(a sum of " in leaf_line and len(leaf_line) < 400
    assert "6,002 vector-Jacobian products" in text
