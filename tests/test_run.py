"""Tests of tinygrad_ce.run as a library (the command line is tested in test_cli_train.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tinygrad_ce.data import DATASETS
from tinygrad_ce.run import ConfigError, RunConfig, check_output_folder, resolve, run_training


def test_presets_come_from_the_data_registry(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the default output folder depends on what runs/ holds
    digits = resolve(RunConfig(dataset="digits"))
    assert digits.hidden == list(DATASETS["digits"].presets["hidden"])
    assert digits.test_size == 0.2 and digits.standardize is True and digits.epochs == 30
    spiral = resolve(RunConfig(epochs=3))
    assert spiral.hidden == [64, 64] and spiral.epochs == 3 and spiral.out.endswith("spiral")


def test_config_errors_name_the_setting():
    with pytest.raises(ConfigError) as exc:
        resolve(RunConfig(weight_decay=float("inf")))
    assert exc.value.option == "weight_decay"
    assert str(exc.value).startswith("weight_decay must be a finite number")
    assert exc.value.format("--weight-decay").startswith("--weight-decay must be")


def test_run_training_as_a_library_call(tmp_path):
    out = tmp_path / "run"
    config = RunConfig(dataset="blobs", hidden=[8], epochs=2, out=str(out), plots=False)
    result = run_training(config)
    assert result.status == "complete" and result.files["metrics"] == out / "metrics.json"
    assert json.loads((out / "metrics.json").read_text())["model"]["layers"] == "2-8-3"
    with pytest.raises(ConfigError, match="not empty"):
        check_output_folder(out)
    check_output_folder(out, force=True)  # only a run's files: may be replaced


def test_the_default_output_folder_is_fresh_for_each_run(tmp_path, monkeypatch):
    """Running the Quickstart's command twice keeps the first run: the second goes to -2."""
    monkeypatch.chdir(tmp_path)
    first = resolve(RunConfig(dataset="moons"))
    assert first.out == str(Path("runs") / "moons")
    Path(first.out).mkdir(parents=True)
    (Path(first.out) / "metrics.json").write_text("{}")
    assert resolve(RunConfig(dataset="moons")).out == str(Path("runs") / "moons-2")
