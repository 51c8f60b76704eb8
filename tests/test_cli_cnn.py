"""End to end: ``tinygrad-ce train --model cnn`` on the digits, the MNIST sample and IDX files."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from test_vision_data import _write_mnist

from tinygrad_ce import nn
from tinygrad_ce.cli import main

ROOT = Path(__file__).resolve().parents[1]


def _train(capsys, args: list[str]) -> tuple[int, str, str]:
    code = main(["train", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cnn_on_digits_writes_filters_feature_maps_and_a_readable_graph(tmp_path, capsys):
    out = tmp_path / "cnn"
    code, stdout, _ = _train(capsys, ["--model", "cnn", "--dataset", "digits", "--epochs", "2",
                                      "--out", str(out)])  # fmt: skip
    assert code == 0
    assert "training CNN conv 16-32, fc 128-64-10" in stdout
    for name in ("model.npz", "digits.png", "filters.png", "feature_maps.png", "graph.svg"):
        assert (out / name).stat().st_size > 0, name
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["config"]["model"] == "cnn" and metrics["config"]["batch_norm"] is True
    assert metrics["final"]["test_accuracy"] > 0.8  # two epochs already learn most digits
    svg = (out / "graph.svg").read_text()
    assert "Conv2d" in svg and "W 16x1x3x3, stride 1, padding 1" in svg
    assert re.search(r"flip\(\d\.weight\)\^T", svg)  # dx as a conv with the flipped kernel
    assert "BatchNorm" in svg  # one fused node per batch norm
    # the weights (running statistics included) load back into the same builder
    model = nn.CNN((1, 8, 8), 10, hidden=[64], batch_norm=True)
    nn.load(model, out / "model.npz")
    assert np.any(model[1].running_var.data != 1)


def test_cnn_needs_an_image_data_set(tmp_path, capsys):
    with pytest.raises(SystemExit):
        _train(capsys, ["--model", "cnn", "--dataset", "moons", "--out", str(tmp_path / "x")])
    assert "--model cnn needs an image data set (digits, mnist5k" in capsys.readouterr().err


def test_mnist_needs_a_data_dir(tmp_path, capsys):
    with pytest.raises(SystemExit):
        _train(capsys, ["--dataset", "mnist", "--out", str(tmp_path / "x")])
    assert "pass --data-dir FOLDER" in capsys.readouterr().err


def test_cnn_on_mnist_idx_files_in_a_subprocess(tmp_path):
    """The real command, on 40 random 28x28 'digits' written as IDX files."""
    _write_mnist(tmp_path, n=40)
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    cmd = [sys.executable, "-m", "tinygrad_ce", "train", "--model", "cnn", "--dataset", "mnist",
           "--data-dir", str(tmp_path), "--epochs", "1", "--test-size", "0.25", "--no-graph",
           "--no-plots", "--no-progress", "--out", str(out)]  # fmt: skip
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "30 training points, 10 held out" in result.stdout
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["config"]["data_dir"] == str(tmp_path)
    assert metrics["model"]["parameters"] > 10_000


@pytest.mark.slow
def test_cnn_reaches_98_5_percent_on_held_out_digits(tmp_path, capsys):
    """The issue's bar with the defaults (30 epochs, about 15 s on one core)."""
    out = tmp_path / "full"
    args = ["--model", "cnn", "--dataset", "digits", "--no-plots", "--no-graph", "--out", str(out)]
    code, _, _ = _train(capsys, args)
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["final"]["test_accuracy"] >= 0.985
