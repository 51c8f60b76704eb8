"""Every script in examples/ runs with no arguments, fast, and writes only where it is told to."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
# _common.py is their shared helper, not an example
SCRIPTS = sorted(p.name for p in EXAMPLES.glob("*.py") if not p.name.startswith("_"))

# the files each script writes into its output directory
WRITES = {
    "train_spiral.py": {"spiral_history.png", "spiral_boundary.png"},
    "train_digits.py": {"digits_history.png", "digits_mistakes.png"},
    # without Graphviz's `dot` the script writes the DOT text instead (tested below too)
    "draw_graph.py": (
        {"ce_fused.svg", "ce_fused.png", "ce_unfused.svg", "ce_unfused.png"}
        if shutil.which("dot")
        else {"ce_fused.dot", "ce_unfused.dot"}
    ),
    "compare_fused_unfused.py": {"compare.png", "compare.json"},
    "custom_op.py": set(),
    "hessian_vector_product.py": set(),
}
# a few seconds each (more on a busy CI machine): marked slow, still run by default
HEAVY = {"train_spiral.py", "train_digits.py", "compare_fused_unfused.py"}


def _params(scripts: list[str]) -> list:
    return [pytest.param(s, marks=pytest.mark.slow) if s in HEAVY else s for s in scripts]


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("TINYGRAD_CE_OUT", None)
    # importable from a checkout without `pip install -e .`; no GUI backend for matplotlib
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["MPLBACKEND"] = "Agg"
    env["TMPDIR"] = str(tmp_path / "tmp")  # where a script with no argument may write
    (tmp_path / "tmp").mkdir(exist_ok=True)
    env.update(extra)
    return env


def _run(script: str, tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        cwd=tmp_path,  # a script that wrote into its working directory would be caught below
        env=_env(tmp_path, **env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def _files(path: Path) -> set[str]:
    return {str(p.relative_to(path)) for p in path.rglob("*") if p.is_file()}


def test_the_expected_examples_exist():
    assert set(SCRIPTS) == set(WRITES), "update WRITES when an example is added or removed"


@pytest.mark.parametrize("script", _params(SCRIPTS))
def test_example_runs_and_writes_only_into_the_given_directory(script, tmp_path):
    out = tmp_path / "out"
    proc = _run(script, tmp_path, str(out))
    assert proc.returncode == 0, f"{script} failed:\n{proc.stdout}\n{proc.stderr}"
    assert "Traceback" not in proc.stderr
    assert proc.stdout.strip(), f"{script} printed nothing"
    written = _files(out) if out.exists() else set()
    assert written == WRITES[script]
    for name in written:
        assert (out / name).stat().st_size > 0
    # nothing in the working directory or the temp dir besides the output directory
    assert _files(tmp_path) == {f"out/{name}" for name in written}


@pytest.mark.parametrize("script", _params([s for s in SCRIPTS if WRITES.get(s)]))
def test_example_without_arguments_writes_into_a_temporary_directory(script, tmp_path):
    proc = _run(script, tmp_path)
    assert proc.returncode == 0, proc.stderr
    files = _files(tmp_path)
    assert files, "nothing was written"
    assert all(f.startswith("tmp/") for f in files), files
    assert {Path(f).name for f in files} == WRITES[script]


def test_example_honours_the_environment_variable(tmp_path):
    out = tmp_path / "from_env"
    proc = _run("draw_graph.py", tmp_path, TINYGRAD_CE_OUT=str(out))
    assert proc.returncode == 0, proc.stderr
    assert _files(out) == WRITES["draw_graph.py"]


def test_draw_graph_falls_back_to_dot_text_without_graphviz(tmp_path):
    empty = tmp_path / "no_dot_here"
    empty.mkdir()
    out = tmp_path / "out"
    proc = _run("draw_graph.py", tmp_path, str(out), PATH=str(empty))
    assert proc.returncode == 0, proc.stderr
    assert _files(out) == {"ce_fused.dot", "ce_unfused.dot"}
    assert "note:" in proc.stdout and "Graphviz" in proc.stdout
    assert (out / "ce_fused.dot").read_text().startswith("digraph")


@pytest.mark.parametrize("script", SCRIPTS)
def test_example_has_a_docstring_saying_what_it_teaches_and_how_to_run_it(script):
    doc = ast.get_docstring(ast.parse((EXAMPLES / script).read_text(encoding="utf-8")))
    assert doc, f"{script} has no module docstring"
    assert "What it teaches" in doc
    assert f"python examples/{script}" in doc


@pytest.mark.parametrize(
    ("script", "flag"), [(s, "--help") for s in SCRIPTS] + [("compare_fused_unfused.py", "-h")]
)
def test_example_help_prints_its_docstring_and_writes_nothing(script, flag, tmp_path):
    proc = _run(script, tmp_path, flag)
    assert proc.returncode == 0, proc.stderr
    doc = ast.get_docstring(ast.parse((EXAMPLES / script).read_text(encoding="utf-8")))
    assert proc.stdout.strip() == doc.strip()
    assert proc.stderr == ""
    assert _files(tmp_path) == set() and not (tmp_path / flag).exists()


@pytest.mark.parametrize("script", SCRIPTS)
def test_example_rejects_an_unknown_option_in_one_line(script, tmp_path):
    proc = _run(script, tmp_path, "--out", "x")
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"{script}: error: unrecognized option '--out' (see --help)"
    assert _files(tmp_path) == set() and not (tmp_path / "--out").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["a", "b"], "takes at most 1 argument, got 2: a b (see --help)"),
        (["a_file"], "output directory 'a_file' is an existing file, not a directory"),
    ],
)
def test_example_bad_output_directory_is_one_line(args, message, tmp_path):
    (tmp_path / "a_file").write_text("not a directory")
    proc = _run("draw_graph.py", tmp_path, *args)
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"draw_graph.py: error: {message}"
    assert _files(tmp_path) == {"a_file"}


def test_example_without_outputs_accepts_a_directory_but_not_two(tmp_path):
    proc = _run("custom_op.py", tmp_path, "a", "b")
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "custom_op.py: error: takes at most 1 argument, got 2: a b (see --help)"
    )
