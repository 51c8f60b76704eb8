"""Tests for tinygrad_ce.compare and the ``tinygrad-ce compare`` command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tinygrad_ce
from tinygrad_ce import Tensor, data, nn
from tinygrad_ce import functional as F
from tinygrad_ce.cli import main
from tinygrad_ce.compare import (
    ComparisonResult,
    compare_cross_entropy,
    fused_vs_unfused,
    graph_nodes,
    naive_cross_entropy,
    numpy_backward,
    numpy_forward,
    numpy_tuned_backward,
    numpy_tuned_forward,
    saved_bytes,
    stability_sweep,
)

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def result() -> ComparisonResult:
    return compare_cross_entropy(16, 5, repeats=2, scales=(1.0, 1e4))


def test_lazy_top_level_name():
    assert tinygrad_ce.compare_cross_entropy is compare_cross_entropy


def test_numpy_references_agree_with_the_loss():
    rng = np.random.default_rng(0)
    z, y = rng.standard_normal((6, 4)), rng.integers(0, 4, 6)
    loss, saved = numpy_forward(z, y)
    g = numpy_backward(saved)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(g, (p - np.eye(4)[y]) / 6, atol=1e-15)
    tuned_loss, tuned_saved = numpy_tuned_forward(z, y)
    np.testing.assert_allclose(numpy_tuned_backward(tuned_saved), g, atol=1e-15)
    assert tuned_loss == pytest.approx(loss, abs=1e-14)
    assert F.cross_entropy(Tensor(z), y).item() == pytest.approx(loss, abs=1e-14)


def test_naive_formula_is_right_when_small_and_breaks_when_large():
    rng = np.random.default_rng(1)
    z, y = rng.standard_normal((5, 3)), rng.integers(0, 3, 5)
    assert naive_cross_entropy(Tensor(z), y).item() == pytest.approx(
        F.cross_entropy(Tensor(z), y).item(), abs=1e-14
    )
    with np.errstate(all="ignore"):
        big = naive_cross_entropy(Tensor((z * 1e3).astype(np.float32)), y).item()
    assert not np.isfinite(big)


def test_agreement(result):
    for key in ("fused_vs_unfused", "fused_vs_numpy", "unfused_vs_numpy"):
        for d in result.agreement[key].values():
            assert d < 1e-12
    assert result.losses["fused"] == pytest.approx(result.losses["numpy"], abs=1e-12)


def test_timing(result):
    for m in ("fused", "unfused", "numpy"):
        t = result.timing[m]
        assert 0 < t["forward"] and 0 < t["backward"] and t["total"] > 0
    r = result.timing["ratios"]
    assert r["fused/unfused"] == pytest.approx(
        result.timing["fused"]["total"] / result.timing["unfused"]["total"]
    )


def test_graph_measurements(result):
    g = result.graph
    assert g["fused"]["nodes"] == 1
    assert g["unfused"]["nodes"] > 5
    assert g["numpy"]["nodes"] == 0
    assert 0 < g["fused"]["saved_bytes"] < g["unfused"]["saved_bytes"]
    assert all(g[m]["peak_bytes"] > 0 for m in g)


def test_saved_bytes_definition():
    """Fused (N, C) float64: exp(z - max) is the one big buffer; inputs are not counted."""
    n, c = 32, 50
    z, y = np.zeros((n, c)), np.arange(n) % c
    fused = F.cross_entropy(Tensor(z, requires_grad=True), y)
    held = saved_bytes(fused, exclude=(y,))
    assert n * c * 8 <= held < n * c * 8 + 2048  # plus a few (N,) vectors
    unfused = F.cross_entropy(Tensor(z, requires_grad=True), y, fused=False)
    assert saved_bytes(unfused, exclude=(y,)) >= 3 * n * c * 8  # shifted, exp, log-probs...
    assert len(graph_nodes(unfused)) == len({id(n) for n in graph_nodes(unfused)})


def test_stability_sweep_shows_where_the_naive_formula_breaks():
    rows = stability_sweep(8, 5, scales=(1.0, 100.0, 1e4))
    status = {(r["dtype"], r["scale"], r["method"]): r["status"] for r in rows}
    for dtype in ("float32", "float64"):
        for scale in (1.0, 100.0, 1e4):
            assert status[(dtype, scale, "fused")] == "ok"
            assert status[(dtype, scale, "unfused")] == "ok"
        assert status[(dtype, 1.0, "naive")] == "ok"
        assert status[(dtype, 1e4, "naive")] == "nan/nan"  # inf / inf
    assert status[("float32", 100.0, "naive")] == "nan/nan"  # exp(> 88) overflows float32
    assert status[("float64", 100.0, "naive")] == "ok"
    for r in rows:
        if r["method"] == "fused":
            assert r["loss_finite"] and r["grad_finite"]


def test_underflow_shows_as_an_infinite_loss():
    """With many classes a moderate scale already underflows p[y] to 0: -log 0 = inf."""
    rows = stability_sweep(64, 1000, scales=(30.0,), dtypes=("float32",))
    naive = next(r for r in rows if r["method"] == "naive")
    assert naive["status"] == "inf/nan" and not naive["loss_finite"]
    assert all(r["status"] == "ok" for r in rows if r["method"] != "naive")


def test_to_dict_is_strict_json(result):
    d = result.to_dict()
    text = json.dumps(d, allow_nan=False)
    back = json.loads(text)
    assert back["graph"]["fused"]["nodes"] == 1
    assert set(back) == {"config", "losses", "agreement", "timing", "graph", "stability"}
    naive_big = [r for r in back["stability"] if r["method"] == "naive" and r["scale"] == 1e4]
    assert naive_big and all(r["loss_rel_err"] is None for r in naive_big)  # inf -> null
    assert result["config"]["batch"] == 16


def test_table_is_readable(result):
    text = result.table()
    for word in ("agreement", "fused vs unfused", "forward", "backward", "nodes", "stability"):
        assert word in text
    assert "nan/nan" in text
    assert max(len(line) for line in text.splitlines()) <= 100


def test_plot(result, tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "compare.png"
    result.plot(str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bad_arguments():
    with pytest.raises(ValueError, match="batch and classes must be >= 1"):
        compare_cross_entropy(0, 3)
    with pytest.raises(ValueError, match="dtype must be one of"):
        compare_cross_entropy(2, 3, dtype="float16")


# --- CLI -------------------------------------------------------------------------------------


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tinygrad_ce", "compare", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


def test_cli_help():
    proc = _run("--help")
    assert proc.returncode == 0
    for flag in ("--batch", "--classes", "--json", "--plot", "--dtype", "--no-sweep"):
        assert flag in proc.stdout


def test_cli_json_run():
    proc = _run("--batch", "8", "--classes", "4", "--repeats", "2", "--scales", "1,1e4", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["config"] == {
        "batch": 8,
        "classes": 4,
        "dtype": "float64",
        "scale": 1.0,
        "seed": 0,
        "repeats": 2,
        "number": data["config"]["number"],
    }
    assert data["graph"]["fused"]["nodes"] == 1
    assert len(data["stability"]) == 2 * 2 * 3


@pytest.mark.parametrize(
    "args, message",
    [
        (["--batch", "0"], "argument --batch: expected a positive integer, got 0"),
        (["--classes", "x"], "argument --classes: expected a positive integer, got 'x'"),
        (["--dtype", "float16"], "argument --dtype: invalid choice"),
        (["--scales", "1,-2"], "argument --scales: expected a positive finite number, got -2"),
        (["--plot", "out.txt"], "must end in .png, .svg or .pdf"),
        (["--seed", "-5"], "argument --seed: expected an integer >= 0, got -5"),
        (["--plot", "no_dir/c.png"], "--plot 'no_dir/c.png': directory 'no_dir' does not exist"),
        (["--plot", "a_file/c.png"], "--plot 'a_file/c.png': 'a_file' is a file, not a directory"),
        (["--plot", "a_dir.png"], "--plot 'a_dir.png' is a directory, not a file name"),
    ],
)
def test_cli_bad_argument_exits_2_with_one_line_error(args, message, capsys, awkward_paths):
    with pytest.raises(SystemExit) as exc:
        main(["compare", *args])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("tinygrad-ce compare: error: ")
    assert message in err[-1]
    assert all(not line.startswith("Traceback") for line in err)


def test_cli_subprocess_bad_argument():
    proc = _run("--repeats", "-1")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == (
        "tinygrad-ce compare: error: argument --repeats: expected a positive integer, got -1"
    )


def test_cli_table_and_plot(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    path = tmp_path / "c.svg"
    code = main(["compare", "--batch", "4", "--classes", "3", "--repeats", "1", "--no-sweep",
                 "--plot", str(path)])  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    assert "fused vs unfused" in out and f"plot saved to {path}" in out
    assert "stability" not in out
    assert path.read_text().lstrip().startswith("<?xml")


def test_benchmark_script_runs():
    """A smoke run of benchmarks/bench_cross_entropy.py on a tiny size (no timing asserted)."""
    proc = subprocess.run(
        [sys.executable, "benchmarks/bench_cross_entropy.py", "--repeats", "1", "--sizes", "8x3"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        env={
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        },
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert any(
        line.startswith("fused ") and line.rstrip().endswith(tuple("0123456789")) for line in lines
    )
    assert "faster than unfused" in proc.stdout


def test_fused_vs_unfused_check_on_a_model():
    X, y = data.spiral(seed=0)
    model = nn.Sequential(nn.Linear(2, 16, rng=0), nn.ReLU(), nn.Linear(16, 3, rng=1))
    model.train()
    res = fused_vs_unfused(model, X[:32], y[:32], repeats=2)
    assert res["loss_abs_diff"] < 1e-6 and res["grad_max_abs_diff"] < 1e-6
    assert res["nodes_fused"] < res["nodes_unfused"]
    assert res["step_time_ratio"] > 0 and res["loss_time_ratio"] > 0
    assert res["batch"] == 32
    assert model.training and all(p.grad is None for p in model.parameters())


def test_compare_refuses_a_size_it_cannot_hold_like_train(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["compare", "--batch", "100000", "--classes", "100000"])
    assert exc.value.code == 2
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert line.startswith("tinygrad-ce compare: error: --batch 100000 x --classes 100000")
    with pytest.raises(ValueError, match="at most"):
        compare_cross_entropy(100_000, 100_000)
