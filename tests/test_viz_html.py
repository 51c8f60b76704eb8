"""``viz.to_html``: the stepper page's numbers, order and self-containment (no browser needed).

The page's script only displays the JSON embedded in it, so these tests check that JSON against
the engine: the backward steps come in ``backward()``'s order, each rule is written in the
operands' names, and the leaves' running gradients end equal to what ``loss.backward()`` gives.
``tests/test_browser.py`` then drives the page in headless Chromium.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tinygrad_ce import F, Tensor, nn
from tinygrad_ce.cli import main
from tinygrad_ce.example_graphs import mlp_graph, textbook_graph
from tinygrad_ce.viz import HtmlGraph, to_html
from tinygrad_ce.viz.draw import _Walk
from tinygrad_ce.viz.graph import backward_order

ROOT = Path(__file__).resolve().parent.parent


def embedded(page: str) -> dict:
    """The JSON the page's script reads (what the browser shows)."""
    m = re.search(r'<script type="application/json" id="stepper-data">(.*?)</script>', page, re.S)
    assert m is not None
    return json.loads(m.group(1).replace("<\\/", "</"))


def engine_grads(build):
    """Each leaf's .grad after a fresh loss.backward(), keyed by the picture's node id."""
    loss, names = build()
    ids = _Walk(loss, 80).ids
    loss.backward()
    leaves = [t for t in _all(loss) if t._ctx is None and t.requires_grad]
    return {ids[id(t)]: t.grad for t in leaves}


def _all(root):
    from tinygrad_ce.autograd import topological_order

    return topological_order(root)


def backward_steps(data: dict) -> list[dict]:
    return [s for s in data["steps"] if s["phase"] == "backward"]


BUILDS = {
    "textbook_fused": lambda: textbook_graph(fused=True),
    "textbook_unfused": lambda: textbook_graph(fused=False),
    "mlp_fused": lambda: mlp_graph(fused=True),
    "mlp_unfused": lambda: mlp_graph(fused=False),
}


@pytest.mark.parametrize("case", sorted(BUILDS))
def test_steps_follow_the_engine_and_end_at_its_gradients(case):
    loss, names = BUILDS[case]()
    page = to_html(loss, names=names)
    data = embedded(page.html)
    assert data == json.loads(json.dumps(page.data))  # what is embedded is what was computed
    ids = _Walk(loss, 80).ids
    # the backward steps, in the order backward() runs the ops (explain's order too)
    assert [s["node"] for s in backward_steps(data)] == [ids[id(t)] for t in backward_order(loss)]
    # forward steps: every op once, inputs before outputs
    forward = [s["node"] for s in data["steps"] if s["phase"] == "forward"]
    assert forward == [ids[id(t)] for t in _all(loss) if t._ctx is not None]
    assert forward[-1] == "t0"  # the loss is computed last
    # the leaves' running gradients end at what loss.backward() gives
    expected = engine_grads(BUILDS[case])
    assert set(data["grads"]) == set(expected)
    for key, grad in expected.items():
        np.testing.assert_allclose(np.array(data["grads"][key]), grad, rtol=1e-6, atol=1e-7)
    # the running value after each step is the sum of what has arrived so far
    running: dict[str, np.ndarray] = {}
    for step in backward_steps(data):
        for send in step["sends"]:
            if send["to"] in expected and "values" in send["value"]:
                running[send["to"]] = running.get(send["to"], 0) + np.array(send["value"]["values"])
                got = step["leaf_updates"][send["to"]]
                if "values" in got:
                    np.testing.assert_allclose(np.array(got["values"]), running[send["to"]])


def test_textbook_steps_show_the_rule_in_the_learners_names_and_the_real_numbers():
    loss, names = textbook_graph(fused=True)
    data = to_html(loss, names=names).data
    sce, matmul, transpose = backward_steps(data)
    assert sce["upstream"] == {"shape": [], "dtype": "float32", "values": 1.0}
    t = {n: k for k, n in names.items()}
    A, y, x = (t[n].data.astype(np.float64) for n in ("A", "y", "x"))
    z = A.T @ y
    delta = np.exp(z - z.max()) / np.exp(z - z.max()).sum() - x
    (to_z,) = sce["sends"]
    assert to_z["label"] == "A^T y" and to_z["rule"] == [
        ["d(A^T y) = g * (softmax(A^T y) - x)", False]
    ]
    np.testing.assert_allclose(to_z["value"]["values"], delta, rtol=1e-5)
    np.testing.assert_allclose(matmul["upstream"]["values"], delta, rtol=1e-5)
    rules = ["".join(text for text, _ in s["rule"]) for s in matmul["sends"]]
    assert rules == ["d(A^T) = g @ y^T", "dy = (A^T)^T @ g = A @ g"]
    np.testing.assert_allclose(matmul["sends"][1]["value"]["values"], A @ delta, rtol=1e-5)
    assert matmul["sends"][1]["jacobian"] == 3 * 4  # (3,) output by (4,) input, never built
    # beside the rule, the gradient as a formula (explain's): the founding question's answer
    assert matmul["g"] == "softmax(A^T y) - x"
    assert matmul["sends"][1]["formula"] == "dL/dy = A @ (softmax(A^T y) - x)"
    assert transpose["sends"][0]["formula"] == "dL/dA = outer(y, softmax(A^T y) - x)"
    assert transpose["sends"][0]["rule"] == [["dA = g^T", False]]
    assert data["steps"][0]["phase"] == "intro" and data["steps"][-1]["phase"] == "done"


def test_generic_letters_are_marked_where_an_operand_has_no_short_name():
    loss, names = textbook_graph(fused=False)
    data = to_html(loss, names=names).data
    log = next(s for s in backward_steps(data) if s["title"].endswith("Log"))
    assert log["sends"][0]["rule"] == [["d", False], ["x", True], [" = g / ", False], ["x", True]]


def test_a_transposed_named_constant_keeps_its_name():
    rng = np.random.default_rng(0)
    A = Tensor(rng.standard_normal((4, 3)), name="A")  # a constant: A.T is recorded as a leaf
    y = Tensor(rng.standard_normal(4), requires_grad=True, name="y")
    x = Tensor([0.0, 1.0, 0.0], name="x")
    assert A.T.name == "A^T" and A.T.T.name == "A"
    data = to_html(F.cross_entropy(A.T @ y, x)).data
    (matmul,) = [s for s in backward_steps(data) if s["title"].endswith("MatMul")]
    assert ["dy = (A^T)^T @ g = A @ g", False] in matmul["sends"][0]["rule"]
    labels = [v["label"] for s in data["steps"] for v in s.get("values", [])]
    assert "A^T" in labels and not any(re.search(r"\bt\d", lab) for lab in labels)


def test_the_page_is_self_contained_and_displays_in_jupyter(tmp_path):
    loss, names = textbook_graph(fused=True)
    page = to_html(loss, tmp_path / "tb.html", names)
    text = (tmp_path / "tb.html").read_text(encoding="utf-8")
    assert text == page.html and page.path == tmp_path / "tb.html"
    assert text.startswith("<!DOCTYPE html>") and "<svg" in text
    # nothing is fetched: no external script, style, image or font
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", text)
    assert "<link" not in text and "@import" not in text and "url(" not in text
    for node in ("t0", "op0", "op1"):  # the SVG's nodes are tagged for the stepper
        assert f'data-node="{node}"' in text
    for button in ("step", "back", "play", "reset"):
        assert f'id="{button}"' in text
    frame = page._repr_html_()
    assert frame.startswith("<iframe srcdoc=") and "&lt;svg" in frame and "<svg" not in frame
    assert "written to" in repr(page) and isinstance(page, HtmlGraph)


def test_jupyter_displays_the_page_inline():
    formatters = pytest.importorskip("IPython.core.formatters")
    loss, names = textbook_graph(fused=True)
    bundle, _ = formatters.DisplayFormatter().format(to_html(loss, names=names))
    assert (
        bundle["text/html"].startswith("<iframe srcdoc=") and "stepper-data" in bundle["text/html"]
    )


def test_without_graphviz_the_page_lists_the_nodes_and_still_steps(monkeypatch):
    import graphviz

    def missing(*args, **kwargs):
        raise graphviz.ExecutableNotFound(["dot"])

    monkeypatch.setattr(graphviz.Digraph, "pipe", missing)
    loss, names = textbook_graph(fused=True)
    page = to_html(loss, names=names).html
    assert "<svg" not in page and "Graphviz" in page and 'class="list-layout"' in page
    for step in backward_steps(embedded(page)):
        assert f'data-node="{step["node"]}"' in page and f'data-node="{step["op"]}"' in page


def test_a_large_graph_is_cut_with_a_note_and_its_steps_collapsed():
    x = Tensor(np.linspace(-1, 1, 5), requires_grad=True, name="x")
    h = x
    for _ in range(300):
        h = (h * 0.99).tanh()
    loss = h.sum()
    page = to_html(loss, max_nodes=20)
    data = page.data
    assert data["cut"] > 500 and "nodes are not drawn" in page.html
    assert [s["phase"] for s in data["steps"]].count("cut") == 2  # one forward, one backward
    assert all(send["formula"] == "" for s in backward_steps(data) for send in s["sends"])
    assert len(data["steps"]) < 30 and len(page.html) < 200_000
    loss.backward()
    (key,) = data["grads"]
    np.testing.assert_allclose(data["grads"][key], x.grad, rtol=1e-12)


def test_values_nan_and_large_arrays_are_valid_json_and_summarised():
    big = Tensor(np.arange(40.0).reshape(8, 5), requires_grad=True, name="big")
    odd = Tensor([np.inf, 1.0], requires_grad=True, name="odd")
    loss = (big * 2).sum() + (odd * 1.0).sum()
    data = embedded(to_html(loss).html)  # json.loads rejects NaN: strings instead
    intro = {v["label"]: v for v in data["steps"][0]["values"]}
    assert intro["big"]["summary"]["max"] == 39.0 and "values" not in intro["big"]
    assert intro["odd"]["values"] == ["inf", 1.0]


def test_nothing_changes_the_graph_or_grad_and_a_second_page_is_the_same():
    loss, names = textbook_graph(fused=True)
    first = to_html(loss, names=names).html
    assert all(t.grad is None for t in names if isinstance(t, Tensor))
    loss.backward(retain_graph=True)
    grads = {n: t.grad.copy() for t, n in names.items() if t.grad is not None}
    assert to_html(loss, names=names).html == first  # deterministic, .grad not read
    loss.backward()  # without retain_graph: the values the page replays are gone
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        to_html(loss, names=names)
    loss2, names2 = textbook_graph(fused=True)
    loss2.backward()
    for t, n in names2.items():
        if t.grad is not None:
            np.testing.assert_array_equal(t.grad, grads[n])


def test_a_root_without_gradient_and_bad_arguments():
    data = to_html(Tensor([1.0, 2.0]).exp().sum()).data
    assert [s["phase"] for s in data["steps"]][-1] == "done" and data["leaves"] == []
    with pytest.raises(TypeError, match="takes a Tensor"):
        to_html(np.ones(3))
    with pytest.raises(ValueError, match="max_nodes"):
        to_html(Tensor([1.0], requires_grad=True).sum(), max_nodes=1)


def test_an_nn_model_names_its_parameters():
    model = nn.Sequential(nn.Linear(2, 4, rng=0), nn.ReLU(), nn.Linear(4, 3, rng=1))
    X = Tensor(np.random.default_rng(2).standard_normal((5, 2)).astype(np.float32), name="X")
    loss = F.cross_entropy(model(X), np.array([0, 2, 1, 1, 0]))
    data = to_html(loss, names=model).data
    assert {leaf["label"] for leaf in data["leaves"]} == {
        "0.weight",
        "0.bias",
        "2.weight",
        "2.bias",
    }


# ---------------------------------------------------------------------------------------------
# the command line


def test_cli_html_writes_the_page_and_no_picture(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["graph", "--html", "tb.html", "--unfused"]) == 0
    assert "wrote tb.html" in capsys.readouterr().err and not (tmp_path / "graph.svg").exists()
    data = embedded((tmp_path / "tb.html").read_text(encoding="utf-8"))
    assert any(s["title"].endswith("Log") for s in backward_steps(data))
    loss, _ = textbook_graph(fused=False)
    loss.backward()
    assert main(["graph", "--html", "both.html", "--out", "both.svg", "--which", "mlp"]) == 0
    assert (tmp_path / "both.html").exists() and (tmp_path / "both.svg").exists()


def test_cli_html_rejects_a_bad_file_name(tmp_path, capsys):
    with pytest.raises(SystemExit) as err:
        main(["graph", "--html", str(tmp_path / "page.txt")])
    assert err.value.code == 2 and "must end in .html or .htm" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["graph", "--html", str(tmp_path / "missing" / "page.html")])


def test_cli_html_end_to_end_in_a_subprocess(tmp_path):
    out = tmp_path / "page.html"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "tinygrad_ce", "graph", "--html", str(out), "--seed", "3"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert f"wrote {out}" in result.stderr and "open it in a browser" in result.stderr
    data = embedded(out.read_text(encoding="utf-8"))
    assert [s["title"] for s in backward_steps(data)] == [
        "backward step 1: SoftmaxCrossEntropy",
        "backward step 2: MatMul",
        "backward step 3: Transpose",
    ]
    loss, names = textbook_graph(fused=True, seed=3)
    loss.backward()
    y = next(t for t, n in names.items() if n == "y")
    leaf = next(leaf for leaf in data["leaves"] if leaf["label"] == "y")
    np.testing.assert_allclose(data["grads"][leaf["key"]], y.grad, rtol=1e-6)
