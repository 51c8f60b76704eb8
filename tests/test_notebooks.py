"""The notebooks: committed with their outputs, and they still run from a clean kernel.

Three kinds of test:

* each notebook's source is a jupytext percent-format ``.py`` file paired with the committed
  ``.ipynb``, and the two hold the same cells, so editing one without the other fails;
* the committed ``.ipynb`` files are readable as they are: every code cell was executed, in
  order, from a fresh kernel, and no output is an error;
* each notebook executes again from scratch with nbclient (a fresh ``python3`` kernel running
  this interpreter, working directory ``notebooks/``) without an error.

The kernel: a fresh ``pip install -e .[test]`` brings ipykernel, which jupyter_client can use
as the native ``python3`` kernel. To be sure the kernel runs *this* interpreter (and not some
other ``python3`` kernelspec installed for the user), the tests write a temporary kernelspec
named ``python3`` pointing at ``sys.executable`` and put it first on ``JUPYTER_PATH``.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(p.name for p in NOTEBOOK_DIR.glob("*.ipynb"))
EXPECTED = [
    "01_softmax_cross_entropy_gradient.ipynb",
    "02_fused_vs_unfused.ipynb",
    "03_training_a_small_model.ipynb",
    "04_higher_order_gradients.ipynb",
    "05_convolutions.ipynb",
    "06_word2vec_student_gradient.ipynb",
    "07_tiny_gpt.ipynb",
]
CELL_TIMEOUT = 120  # seconds per cell; each notebook takes well under a minute in all


def _read(name: str) -> nbformat.NotebookNode:
    return nbformat.read(NOTEBOOK_DIR / name, as_version=4)


def _code_cells(nb: nbformat.NotebookNode) -> list:
    return [c for c in nb.cells if c.cell_type == "code"]


def test_the_notebooks_are_there():
    assert NOTEBOOKS == EXPECTED


# ---------------------------------------------------------------------------------------------
# the .py sources


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_is_paired_with_its_percent_source(name):
    source = (NOTEBOOK_DIR / name).with_suffix(".py")
    assert source.exists(), (
        f"{name}: no source {source.name} (jupytext --set-formats ipynb,py:percent)"
    )
    assert _read(name).metadata["jupytext"]["formats"] == "ipynb,py:percent"
    assert source.read_text(encoding="utf-8").startswith("# ---\n# jupyter:\n#   jupytext:\n")


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_source_and_notebook_hold_the_same_cells(name):
    jupytext = pytest.importorskip("jupytext")
    stem = Path(name).stem
    from_py = [(c.cell_type, c.source) for c in jupytext.read(NOTEBOOK_DIR / f"{stem}.py").cells]
    from_ipynb = [(c.cell_type, c.source) for c in _read(name).cells]
    fix = f"edit the .py, then run python scripts/run_notebooks.py {stem[:2]} (notebooks/README.md)"
    for i, (a, b) in enumerate(zip(from_py, from_ipynb, strict=False)):
        assert a == b, f"{stem}: cell {i} differs between the .py and the .ipynb; {fix}"
    assert len(from_py) == len(from_ipynb), (
        f"{stem}: {len(from_py)} cells in the .py, {len(from_ipynb)} in the .ipynb; {fix}"
    )


# ---------------------------------------------------------------------------------------------
# the committed copies


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_committed_notebook_is_valid_and_uses_the_python3_kernel(name):
    nb = _read(name)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_committed_notebook_was_executed_in_order_from_a_clean_kernel(name):
    counts = [c.execution_count for c in _code_cells(_read(name))]
    assert None not in counts, f"{name}: some code cells were never executed (re-run and save)"
    assert counts == list(range(1, len(counts) + 1)), (
        f"{name}: cells were not run top to bottom from a fresh kernel: execution counts {counts}"
    )


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_committed_notebook_has_outputs_and_no_errors(name):
    nb = _read(name)
    outputs = [o for c in _code_cells(nb) for o in c.outputs]
    errors = [o for o in outputs if o.output_type == "error"]
    assert not errors, f"{name}: error output {errors[0].ename}: {errors[0].evalue}"
    stderr = [o.text for o in outputs if o.output_type == "stream" and o.name == "stderr"]
    assert not any("Traceback" in text or "Warning" in text for text in stderr), stderr
    assert len(outputs) >= len(_code_cells(nb)) // 2, f"{name}: most cells have no output"
    # every notebook shows something: printed numbers, and a picture or a plot
    kinds = {key for o in outputs for key in o.get("data", {})}
    assert any(o.output_type == "stream" for o in outputs)
    assert kinds & {"image/png", "image/svg+xml"}, f"{name}: no figure or graph was stored"


def test_committed_notebooks_show_the_promised_results():
    """Spot checks that the outputs say what the text around them claims."""

    def text_of(name: str) -> str:
        parts = []
        for cell in _code_cells(_read(name)):
            for o in cell.outputs:
                parts.append(
                    o.get("text", "") + json.dumps(o.get("data", {}).get("text/plain", ""))
                )
        return "\n".join(parts)

    nb1 = text_of(EXPECTED[0])
    assert "gradcheck, fused=True: True" in nb1 and "gradcheck, fused=False: True" in nb1
    assert "dL/dy = A @ (softmax(A^T y) - x)" in nb1
    assert "wrong rule: gradcheck failed" in nb1
    nb2 = text_of(EXPECTED[1])
    assert "naive  loss = inf" in nb2  # the literal formula breaks on logits of 1000 ...
    assert "fused=True  loss = 1000.0" in nb2  # ... the stable one does not
    nb3 = text_of(EXPECTED[2])
    assert "vs   log 3 = 1.0986" in nb3 and "vs   log 10 = 2.3026" in nb3
    nb7 = text_of("07_tiny_gpt.ipynb")
    assert "dq by hand == engine's dq: True" in nb7 and "dv by hand == engine's dv: True" in nb7
    assert "gradcheck of causal attention: True" in nb7 and "same seed, same text: True" in nb7
    assert "dL/d((q * 0.707107) k^T) = where(causal," in nb7  # explain: the mask's VJP
    nb4 = text_of(EXPECTED[3])
    assert "max |Hv - H @ v|" in nb4


def test_word2vec_notebook_shows_the_promised_results():
    text = "\n".join(
        o.get("text", "")
        for c in _code_cells(_read("06_word2vec_student_gradient.ipynb"))
        for o in c.outputs
    )
    assert "engine == U (softmax(U^T v_c) - x) to 1e-12: True" in text
    assert "dL/dv_c = U @ (softmax(U^T v_c) - x)" in text  # explain says it in symbols
    assert "gradcheck of the skip-gram loss, fused=True: True" in text
    assert "gradcheck of the skip-gram loss, fused=False: True" in text
    assert "| int | float" in text and "| true | false" in text  # neighbours that make sense
    assert " 30000 " in text  # the sweep reached the largest vocabulary


# ---------------------------------------------------------------------------------------------
# executing them again


@pytest.fixture(scope="session")
def python3_kernel(tmp_path_factory):
    """A kernelspec named python3 for this interpreter, first on JUPYTER_PATH."""
    pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    base = tmp_path_factory.mktemp("jupyter")
    spec_dir = base / "kernels" / "python3"
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (tinygrad_ce tests)",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(
            "JUPYTER_PATH",
            os.pathsep.join(filter(None, [str(base), os.environ.get("JUPYTER_PATH")])),
        )
        # the kernel imports tinygrad_ce from this checkout even when it is not installed
        mp.setenv(
            "PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
        )
        from jupyter_client.kernelspec import KernelSpecManager

        found = KernelSpecManager().get_kernel_spec("python3")
        assert found.argv[0] == sys.executable
        yield "python3"


@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_executes_from_a_clean_kernel(name, python3_kernel):
    from nbclient import NotebookClient

    nb = _read(name)
    for cell in _code_cells(nb):  # start from nothing, as a reader would
        cell.outputs = []
        cell.execution_count = None
    client = NotebookClient(
        nb,
        timeout=CELL_TIMEOUT,
        kernel_name=python3_kernel,
        resources={"metadata": {"path": str(NOTEBOOK_DIR)}},
    )
    client.execute()  # raises CellExecutionError, naming the cell, on any error
    outputs = [o for c in _code_cells(nb) for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert all(c.execution_count is not None for c in _code_cells(nb))
