"""The stepper page in a real browser: headless Chromium driven by selenium.

Each test opens a page written by ``viz.to_html`` from disk (no server, no network), presses
"step" (or the arrow keys) and reads what the page shows: the highlighted node, the rule text and
the leaves' gradients, checked against the engine's own ``loss.backward()``.

Needs Debian's ``chromium`` and ``chromium-driver`` and selenium from PyPI (``bash
scripts/setup.sh test`` installs them where it can); skipped, saying which is missing, otherwise.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile

import numpy as np
import pytest

from tinygrad_ce.autograd import topological_order
from tinygrad_ce.example_graphs import mlp_graph, textbook_graph
from tinygrad_ce.viz import to_html
from tinygrad_ce.viz.draw import _Walk
from tinygrad_ce.viz.graph import backward_order

CHROMIUM = os.environ.get("TINYGRAD_CE_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("TINYGRAD_CE_CHROMEDRIVER", "/usr/bin/chromedriver")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1500,900",
)


def _missing() -> str | None:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[test]')"
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            return f"{path} not found: apt-get install {package} (or bash scripts/setup.sh test)"
    return None


pytestmark = pytest.mark.skipif(_missing() is not None, reason=str(_missing()))


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    profile = tempfile.mkdtemp(prefix="tinygrad-ce-chromium-")
    options.add_argument(f"--user-data-dir={profile}")
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def open_page(browser, loss, names, tmp_path, name="page.html"):
    path = to_html(loss, tmp_path / name, names).path
    browser.get(path.resolve().as_uri())
    return browser


def press(browser, button: str, times: int = 1) -> None:
    from selenium.webdriver.common.by import By

    element = browser.find_element(By.ID, button)
    for _ in range(times):
        element.click()


def shown(browser) -> dict:
    """What the page shows now: step, phase, highlighted op, rule texts, leaves' gradients."""
    return browser.execute_script(
        """
        const box = document.getElementById("step-box");
        const current = [...document.querySelectorAll(".current")].map(e => e.dataset.node);
        const leaves = {};
        document.querySelectorAll("#leaves tr[data-leaf]").forEach(tr => {
          leaves[tr.dataset.leaf] = tr.dataset.values ? JSON.parse(tr.dataset.values) : null;
        });
        return {
          step: Number(document.body.dataset.step),
          phase: box.dataset.phase,
          node: box.dataset.node,
          current: current,
          title: document.getElementById("step-title").textContent,
          rules: [...document.querySelectorAll("#step-body .send .rule")].map(e => e.textContent),
          formulas: [...document.querySelectorAll("#step-body .formula")].map(e => e.textContent),
          generic: [...document.querySelectorAll("#step-body var.generic")].map(e => e.textContent),
          leaves: leaves,
        };
        """
    )


def engine(build):
    """(loss, names, node ids, the op node ids in backward()'s order, leaf grads by node id)."""
    loss, names = build()
    ids = _Walk(loss, 80).ids
    order = [f"op{ids[id(t)][1:]}" for t in backward_order(loss)]
    n_forward = sum(1 for t in topological_order(loss) if t._ctx is not None)
    fresh, _ = build()
    fresh_ids = _Walk(fresh, 80).ids
    fresh.backward()
    grads = {
        fresh_ids[id(t)]: t.grad
        for t in topological_order(fresh)
        if t._ctx is None and t.requires_grad
    }
    return loss, names, order, n_forward, grads


def test_textbook_mid_backward_shows_matmul_its_rule_and_the_gradient_of_y(browser, tmp_path):
    loss, names, order, n_forward, grads = engine(lambda: textbook_graph(fused=True))
    open_page(browser, loss, names, tmp_path)
    assert shown(browser)["step"] == 0 and shown(browser)["phase"] == "intro"
    press(browser, "step", n_forward + 1)  # through the forward pass, to the seed g = 1
    assert shown(browser)["phase"] == "seed"
    press(browser, "step", 2)  # SoftmaxCrossEntropy, then MatMul
    now = shown(browser)
    assert now["phase"] == "backward" and now["title"] == "backward step 2: MatMul"
    assert now["node"] == order[1] and now["current"] == [order[1]]
    assert now["rules"] == ["d(A^T) = g @ y^T", "dy = (A^T)^T @ g = A @ g"]
    assert now["formulas"] == [
        "g = softmax(A^T y) - x",
        "dL/d(A^T) = outer(softmax(A^T y) - x, y)",
        "dL/dy = A @ (softmax(A^T y) - x)",
    ]
    y_key = next(k for k, g in grads.items() if g.shape == (4,))
    np.testing.assert_allclose(now["leaves"][y_key], grads[y_key], rtol=1e-6)
    a_key = next(k for k, g in grads.items() if g.shape == (4, 3))
    assert now["leaves"][a_key] is None  # A's gradient arrives at the next step
    press(browser, "step")
    np.testing.assert_allclose(shown(browser)["leaves"][a_key], grads[a_key], rtol=1e-6)


@pytest.mark.parametrize(
    "build",
    [
        lambda: textbook_graph(fused=False),
        lambda: mlp_graph(fused=True),
        lambda: mlp_graph(fused=False),
    ],
    ids=["textbook_unfused", "mlp_fused", "mlp_unfused"],
)
def test_every_backward_step_highlights_the_engines_next_op(browser, tmp_path, build):
    loss, names, order, n_forward, grads = engine(build)
    open_page(browser, loss, names, tmp_path)
    press(browser, "step", n_forward + 1)
    for k, op in enumerate(order, start=1):
        press(browser, "step")
        now = shown(browser)
        assert now["title"].startswith(f"backward step {k}:"), now["title"]
        assert now["current"] == [op] and now["rules"], (k, now)
    press(browser, "step")
    end = shown(browser)
    assert end["phase"] == "done" and set(end["leaves"]) == set(grads)
    for key, grad in grads.items():
        assert_shown(end["leaves"][key], grad)


def assert_shown(value, grad) -> None:
    """A gradient as the page shows it: every value, or mean/std/min/max of a large one."""
    if isinstance(value, dict):
        g = grad.astype(np.float64)
        expected = {"mean": g.mean(), "std": g.std(), "min": g.min(), "max": g.max()}
        for key, v in expected.items():
            np.testing.assert_allclose(value[key], v, rtol=1e-5, atol=1e-7, err_msg=key)
    else:
        np.testing.assert_allclose(np.array(value), grad, rtol=1e-5, atol=1e-7)


def test_unfused_log_shows_its_own_letters_in_italics(browser, tmp_path):
    loss, names, order, n_forward, _ = engine(lambda: textbook_graph(fused=False))
    data = to_html(loss, names=names).data
    k = next(
        s["k"] for s in data["steps"] if s["phase"] == "backward" and s["title"].endswith("Log")
    )
    open_page(browser, loss, names, tmp_path)
    press(browser, "step", n_forward + 1 + k)
    now = shown(browser)
    assert now["rules"] == ["dx = g / x"] and now["generic"] == ["x", "x"]


def test_keys_back_and_reset(browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    loss, names = textbook_graph(fused=True)
    open_page(browser, loss, names, tmp_path)
    body = browser.find_element(By.TAG_NAME, "body")
    body.send_keys(Keys.ARROW_RIGHT, Keys.ARROW_RIGHT, Keys.ARROW_RIGHT)
    assert shown(browser)["step"] == 3
    body.send_keys(Keys.ARROW_LEFT)
    assert shown(browser)["step"] == 2
    press(browser, "back")
    assert shown(browser)["step"] == 1
    body.send_keys(Keys.END)
    assert shown(browser)["phase"] == "done"
    last = shown(browser)["step"]
    press(browser, "step")  # stays at the last step
    assert shown(browser)["step"] == last
    body.send_keys(Keys.HOME)
    assert shown(browser)["step"] == 0
    press(browser, "step", 4)
    press(browser, "reset")
    assert shown(browser)["step"] == 0 and shown(browser)["current"] == []


def test_play_runs_to_the_end(browser, tmp_path):
    from selenium.webdriver.support.ui import WebDriverWait

    x = __import__("tinygrad_ce").Tensor([1.0, 2.0], requires_grad=True, name="x")
    loss = (x * x).sum()
    path = to_html(loss, tmp_path / "play.html").path
    browser.get(path.resolve().as_uri())
    browser.execute_script("document.body.dataset.interval = '40'")
    press(browser, "play")
    WebDriverWait(browser, 15).until(lambda b: shown(b)["phase"] == "done")
    assert json.loads(json.dumps(shown(browser)["leaves"]))["t2"] == [2.0, 4.0]


def test_without_graphviz_the_list_layout_steps_too(browser, tmp_path, monkeypatch):
    import graphviz

    def missing(*args, **kwargs):
        raise graphviz.ExecutableNotFound(["dot"])

    monkeypatch.setattr(graphviz.Digraph, "pipe", missing)
    loss, names, order, n_forward, grads = engine(lambda: textbook_graph(fused=True))
    open_page(browser, loss, names, tmp_path, "nodot.html")
    assert "Graphviz" in browser.page_source
    press(browser, "step", n_forward + 2)
    now = shown(browser)
    assert now["current"] == [order[0]]
    tag = browser.execute_script("return document.querySelector('.current').tagName")
    assert tag.lower() == "li"
