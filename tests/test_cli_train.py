"""End-to-end tests of ``tinygrad-ce train`` (in-process via main() and one real subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import AWKWARD

from tinygrad_ce import nn
from tinygrad_ce.cli import main

ROOT = Path(__file__).resolve().parents[1]


def _train(capsys, args: str, out: Path) -> tuple[int, str, str]:
    """``tinygrad-ce train ARGS --out OUT`` in-process: (exit code, stdout, stderr)."""
    code = main(["train", *args.split(), "--out", str(out)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_default_style_run_writes_everything(tmp_path, capsys):
    out = tmp_path / "run"
    code, stdout, _ = _train(capsys, "--epochs 3", out)
    assert code == 0
    for name in ("model.npz", "metrics.json", "curves.png", "decision_boundary.png", "graph.svg"):
        assert (out / name).stat().st_size > 0, name
    assert (out / "graph.svg").read_text().lstrip().startswith(("<?xml", "<svg"))
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["dataset"] == "spiral"
    assert metrics["config"]["hidden"] == [64, 64] and metrics["config"]["epochs"] == 3
    assert len(metrics["history"]["train_loss"]) == 3
    assert 0 <= metrics["final"]["train_accuracy"] <= 1
    check = metrics["fused_vs_unfused"]
    assert check["loss_abs_diff"] < 1e-6 and check["grad_max_abs_diff"] < 1e-6
    assert check["nodes_fused"] < check["nodes_unfused"]
    assert metrics["time"]["train_seconds"] > 0
    # the weights load back into the same architecture and reproduce the accuracy
    model = nn.MLP(2, 64, 64, 3)
    nn.load(model, out / "model.npz")
    # what it printed: the comparison and where everything went
    assert "fused vs unfused" in stdout and "graph nodes" in stdout
    assert str(out) in stdout and "metrics.json" in stdout and "graph.svg" in stdout


def test_digits_run_holds_out_data_and_draws_digits(tmp_path, capsys):
    out = tmp_path / "digits"
    args = "--dataset digits --epochs 2 --hidden 32 --unfused --optimizer sgd --lr 0.05"
    code, stdout, _ = _train(capsys, args, out)
    assert code == 0
    assert (out / "digits.png").exists() and not (out / "decision_boundary.png").exists()
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["config"]["fused"] is False and metrics["config"]["test_size"] == 0.2
    assert metrics["final"]["test_accuracy"] > 0.8  # two epochs are plenty to beat chance
    assert len(metrics["preprocessing"]["standardize_mean"]) == 64
    assert "held out" in stdout


def test_missing_dot_falls_back_to_dot_text(tmp_path, capsys, monkeypatch):
    from tinygrad_ce import viz

    def no_dot(dot, path, format=None, dpi=None):
        if (format or Path(path).suffix[1:]) == "svg":
            raise viz.GraphvizNotFoundError("Graphviz's dot was not found; install graphviz")
        return original(dot, path, format=format)

    original = viz.render_graph
    monkeypatch.setattr(viz, "render_graph", no_dot)
    out = tmp_path / "nodot"
    code, stdout, _ = _train(capsys, "--epochs 1 --no-plots", out)
    assert code == 0
    assert (out / "graph.dot").read_text().startswith("digraph")
    assert not (out / "graph.svg").exists()
    assert "note:" in stdout and "dot" in stdout


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--dataset", "cifar"], "unknown dataset 'cifar'; choose one of: spiral"),
        (["--epochs", "-3"], "--epochs must be >= 1"),
        (["--epochs", "0"], "--epochs must be >= 1"),
        (["--hidden", "64,x"], "--hidden: bad hidden spec '64,x'"),
        (["--hidden", "64,,2"], "empty size"),
        (["--hidden", "-4"], "must be positive"),
        (["--lr", "0"], "--lr must be a positive number"),
        (["--batch-size", "0"], "--batch-size must be >= 1"),
        (["--test-size", "1.5"], "--test-size must be in [0, 1)"),
        (["--optimizer", "rmsprop"], "invalid choice: 'rmsprop'"),
        (["--fused", "--unfused"], "not allowed with argument"),
        (["--seed", "-1"], "argument --seed: expected an integer >= 0, got -1"),
        (["--out", "a_file"], "--out 'a_file' is a file, not a folder"),
        (["--out", "a_file/run"], "--out 'a_file/run': 'a_file' is a file, not a folder"),
        (["--hidden", "100000000"], "makes an MLP with 600,000,003 parameters"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(argv, message, capsys, awkward_paths):
    with pytest.raises(SystemExit) as exc:
        main(["train", *argv])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]
    assert last.startswith("tinygrad-ce train: error:")
    assert message in last
    assert sorted(p.name for p in awkward_paths.iterdir()) == AWKWARD  # nothing was written


def test_output_folder_that_cannot_be_created_is_one_line_exit_1(tmp_path, capsys, monkeypatch):
    def refuse(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "mkdir", refuse)
    code, stdout, stderr = _train(capsys, "--epochs 1", tmp_path / "new")
    assert code == 1 and stdout == ""
    assert stderr.strip() == (
        f"tinygrad-ce train: error: cannot create output folder {tmp_path / 'new'}: "
        "Permission denied"
    )


def test_help_is_complete(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["train", "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    for flag in (
        "--dataset",
        "--hidden",
        "--epochs",
        "--lr",
        "--optimizer",
        "--batch-size",
        "--fused",
        "--unfused",
        "--seed",
        "--out",
        "--schedule",
        "--test-size",
        "digits",
        "spiral",
        "model.npz",
        "metrics.json",
    ):
        assert flag in text, flag


@pytest.mark.parametrize(("spec", "layers"), [("8,4", "2-8-4-3"), ("8 --hidden 4", "2-8-4-3")])
def test_hidden_sizes_comma_separated_or_repeated(spec, layers, tmp_path, capsys):
    code, _, _ = _train(capsys, f"--hidden {spec} --epochs 1 --no-plots --no-graph", tmp_path)
    assert code == 0
    assert json.loads((tmp_path / "metrics.json").read_text())["model"]["layers"] == layers


def test_no_hidden_layer_is_logistic_regression(tmp_path, capsys):
    out = tmp_path / "linear"
    args = "--dataset blobs --hidden 0 --epochs 5 --lr 0.1 --no-plots --no-graph"
    code, _, _ = _train(capsys, args, out)
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["model"]["layers"] == "2-3" and metrics["final"]["train_accuracy"] > 0.9


@pytest.mark.slow
def test_python_dash_m_subprocess(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OPENBLAS_NUM_THREADS": "1"}
    out = tmp_path / "sub"
    proc = subprocess.run(
        [sys.executable, "-m", "tinygrad_ce", "train", "--epochs", "3", "--out", str(out)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads((out / "metrics.json").read_text())["config"]["epochs"] == 3
    assert proc.stderr == ""  # not a terminal: no progress bar
    bad = subprocess.run(
        [sys.executable, "-m", "tinygrad_ce", "train", "--dataset", "nope"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines()[-1].startswith("tinygrad-ce train: error: unknown")
    assert np.isfinite(json.loads((out / "metrics.json").read_text())["final"]["train_loss"])


# --- runs lose nothing ("Trust") ----------------------------------------------------------------

QUICK = "--epochs 1 --hidden 8"


def _error_line(capsys) -> str:
    """The error line after argparse's usage lines (no traceback)."""
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    return err.strip().splitlines()[-1]


def _exit_code(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exc:
        return exc.code


def test_non_empty_out_folder_is_refused_without_force(tmp_path, capsys):
    out = tmp_path / "run"
    assert _train(capsys, QUICK, out)[0] == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert _exit_code(["train", *QUICK.split(), "--seed", "1", "--out", str(out)]) == 2
    line = _error_line(capsys)
    assert line.startswith("tinygrad-ce train: error: --out") and "--force" in line
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_force_replaces_the_earlier_run_and_removes_its_stale_files(tmp_path, capsys):
    out = tmp_path / "run"
    assert _train(capsys, QUICK, out)[0] == 0
    assert (out / "decision_boundary.png").exists() and (out / "model.npz").exists()
    (out / ".model.npz.999.tmp").write_bytes(b"left by an interrupted write")
    code, _, _ = _train(capsys, f"{QUICK} --seed 3 --no-plots --no-graph --force", out)
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == ["metrics.json", "model.npz"]
    assert json.loads((out / "metrics.json").read_text())["config"]["seed"] == 3


@pytest.mark.parametrize("foreign", ["notes.txt", "model.npz/"])
def test_force_never_removes_what_a_run_did_not_write(foreign, tmp_path, capsys):
    out = tmp_path / "run"
    assert _train(capsys, QUICK, out)[0] == 0
    (out / "model.npz").unlink()
    if foreign.endswith("/"):  # an output path that is a folder
        (out / foreign).mkdir()
    else:
        (out / foreign).write_text("mine")
    before = sorted(p.name for p in out.iterdir())
    assert _exit_code(["train", *QUICK.split(), "--force", "--out", str(out)]) == 2
    line = _error_line(capsys)
    assert f"holds {foreign}" in line and "which a run does not write" in line
    assert sorted(p.name for p in out.iterdir()) == before


def test_every_file_is_written_atomically_and_metrics_last(tmp_path, capsys, monkeypatch):
    moves = []
    real_replace = os.replace

    def spy(src, dst):
        moves.append((Path(src), Path(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    out = tmp_path / "run"
    assert _train(capsys, QUICK, out)[0] == 0
    written = sorted(p.name for p in out.iterdir())
    assert sorted(dst.name for _, dst in moves) == written  # every file came in by os.replace
    for src, dst in moves:
        assert src.parent == dst.parent == out and src.name.startswith(f".{dst.name}.")
    assert moves[-1][1].name == "metrics.json"


def test_a_diverged_run_stops_early_exits_1_and_writes_strict_json(tmp_path, capsys):
    out = tmp_path / "nan"
    args = "--epochs 20 --optimizer sgd --lr 1e30 --no-plots --no-graph"
    code, _, err = _train(capsys, args, out)
    assert code == 1
    assert err.strip().startswith("tinygrad-ce train: error: training diverged: the loss")
    assert len(err.strip().splitlines()) == 1 and "Warning" not in err

    def no_constants(name):
        raise AssertionError(f"metrics.json holds {name}, which is not JSON")

    metrics = json.loads((out / "metrics.json").read_text(), parse_constant=no_constants)
    assert metrics["status"] == "diverged"
    assert (
        len(metrics["history"]["train_loss"]) < 20 and metrics["history"]["train_loss"][-1] is None
    )
    assert not (out / "model.npz").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--test-size", "0.001"], "--test-size 0.001 holds out 0 of 300 points"),
        (["--test-size", "0.999"], "--test-size 0.999 holds out 300 of 300 points"),
        (["--weight-decay", "inf"], "--weight-decay must be a finite number >= 0, got inf"),
        (["--weight-decay", "nan"], "--weight-decay must be a finite number >= 0, got nan"),
    ],
)
def test_settings_that_cannot_work_exit_2_before_training(argv, message, tmp_path, capsys):
    out = tmp_path / "run"
    assert _exit_code(["train", *argv, "--out", str(out)]) == 2
    line = _error_line(capsys)
    assert line.startswith("tinygrad-ce train: error:") and message in line
    assert not out.exists()


def test_a_file_that_cannot_be_written_is_one_line_exit_1(tmp_path, capsys, monkeypatch):
    from tinygrad_ce import nn as nn_module

    def full_disk(module, path):
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(nn_module, "save", full_disk)
    out = tmp_path / "run"
    code, _, err = _train(capsys, QUICK, out)
    assert code == 1
    assert err.strip() == (
        f"tinygrad-ce train: error: cannot write {out / 'model.npz'}: No space left on device"
    )
    assert not (out / "metrics.json").exists()  # no mark of a complete run


def test_running_the_default_command_twice_keeps_the_first_run(tmp_path, capsys, monkeypatch):
    """Without --out each run gets a fresh runs/<dataset>[-N]: the Quickstart may run twice."""
    monkeypatch.chdir(tmp_path)
    for _ in range(2):
        assert main(["train", *QUICK.split()]) == 0
    out = capsys.readouterr().out
    assert "wrote to runs/spiral/" in out and "wrote to runs/spiral-2/" in out
    assert (tmp_path / "runs" / "spiral" / "metrics.json").is_file()
    assert (tmp_path / "runs" / "spiral-2" / "metrics.json").is_file()
