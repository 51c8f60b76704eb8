"""The ``tinygrad-ce graph`` subcommand: help, files written, explain output, bad arguments."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
from helpers import AWKWARD

from tinygrad_ce.cli import main

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is missing")


def test_help_lists_the_options(capsys):
    with pytest.raises(SystemExit) as info:
        main(["graph", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for flag in ("--which", "--unfused", "--fused", "--out", "--rules", "--explain", "--show-data"):
        assert flag in out


@needs_dot
def test_writes_an_svg(tmp_path, capsys):
    out = tmp_path / "graph.svg"
    assert main(["graph", "--out", str(out), "--rules", "--legend"]) == 0
    svg = out.read_text()
    assert svg.startswith("<?xml") and "<svg" in svg
    assert "SoftmaxCrossEntropy" in svg and "dy = (A^T)^T @ g = A @ g" in svg and "legend" in svg
    assert "wrote" in capsys.readouterr().err


@needs_dot
def test_unfused_png_and_mlp_pdf(tmp_path):
    png = tmp_path / "unfused.png"
    assert main(["graph", "--unfused", "--out", str(png), "--dpi", "120"]) == 0
    assert png.read_bytes().startswith(b"\x89PNG")
    pdf = tmp_path / "mlp.pdf"
    assert main(["graph", "--which", "mlp", "--out", str(pdf), "--show-grad"]) == 0
    assert pdf.read_bytes().startswith(b"%PDF")


def test_dot_output_and_which_variants(tmp_path):
    fused, unfused = tmp_path / "f.dot", tmp_path / "u.dot"
    assert main(["graph", "--which", "textbook-fused", "--out", str(fused)]) == 0
    assert main(["graph", "--which", "textbook-unfused", "--out", str(unfused)]) == 0
    assert "SoftmaxCrossEntropy" in fused.read_text()
    assert "SoftmaxCrossEntropy" not in unfused.read_text() and "Exp" in unfused.read_text()
    data = tmp_path / "d.dot"
    assert main(["graph", "--show-data", "--out", str(data)]) == 0
    assert "[0., 1., 0.]" in data.read_text()  # the one-hot target's values


def test_explain_flag_prints_the_backward_pass(tmp_path, capsys):
    assert main(["graph", "--explain", "--out", str(tmp_path / "g.dot")]) == 0
    out = capsys.readouterr().out
    assert "dL/dy = A @ (softmax(A^T y) - x)" in out
    assert "MatMul" in out and "upstream" in out


@pytest.mark.parametrize(
    "argv",
    [
        ["graph", "--which", "resnet"],
        ["graph", "--out", "graph.jpeg"],
        ["graph", "--max-nodes", "1"],
        ["graph", "--fused", "--unfused"],
        ["graph", "--which", "textbook-fused", "--unfused"],
        ["graph", "--dpi", "0"],
    ],
)
def test_bad_arguments_exit_2_with_one_line(argv, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("tinygrad-ce graph: error:")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--seed", "-1"], "argument --seed: expected an integer >= 0, got -1"),
        (["--out", "no_dir/g.svg"], "--out 'no_dir/g.svg': directory 'no_dir' does not exist"),
        (["--out", "a_file/g.svg"], "--out 'a_file/g.svg': 'a_file' is a file, not a directory"),
        (["--out", "a_dir.svg"], "--out 'a_dir.svg' is a directory, not a file name"),
        (
            ["--out", "g.jpg"],
            "--out 'g.jpg': the file name must end in .svg, .png, .pdf, .dot or .gv",
        ),
    ],
)
def test_bad_values_and_paths_name_the_problem(argv, message, capsys, awkward_paths):
    with pytest.raises(SystemExit) as info:
        main(["graph", *argv])
    assert info.value.code == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last == f"tinygrad-ce graph: error: {message}"
    assert sorted(p.name for p in awkward_paths.iterdir()) == AWKWARD  # nothing written


def test_a_file_that_cannot_be_written_is_one_line_exit_1(tmp_path, capsys, monkeypatch):
    from tinygrad_ce import viz

    def refuse(dot, path, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(viz, "render_graph", refuse)
    out = tmp_path / "g.dot"
    assert main(["graph", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.strip() == f"tinygrad-ce graph: error: cannot write {out}: Permission denied"


def test_missing_dot_is_reported_not_a_traceback(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert main(["graph", "--out", str(tmp_path / "g.svg")]) == 1
    err = capsys.readouterr().err
    assert "apt-get install graphviz" in err and "Traceback" not in err


def test_module_entry_point_runs():
    proc = subprocess.run(
        [sys.executable, "-m", "tinygrad_ce", "graph", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0 and "--unfused" in proc.stdout
