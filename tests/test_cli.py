"""The ``tinygrad-ce`` command as a whole: help, unknown commands, closed pipes, no memory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tinygrad_ce.cli import main

ROOT = Path(__file__).resolve().parents[1]


def _env() -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }


def test_no_command_prints_help_and_exits_2(capsys):
    assert main([]) == 2
    out = capsys.readouterr().out
    for command in ("train", "compare", "graph"):
        assert command in out


def test_unknown_command_is_one_line(capsys):
    with pytest.raises(SystemExit) as info:
        main(["trian"])
    assert info.value.code == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("tinygrad-ce: error: argument COMMAND: invalid choice: 'trian'")


def test_a_closed_pipe_ends_quietly(tmp_path):
    """``tinygrad-ce graph --explain | head -0``: no BrokenPipeError traceback."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tinygrad_ce",
            "graph",
            "--explain",
            "--out",
            str(tmp_path / "g.dot"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(),
        cwd=tmp_path,
    )
    proc.stdout.close()  # the reader goes away before anything is written
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.wait(timeout=60) == 1
    assert "Traceback" not in err and "BrokenPipeError" not in err, err


def test_out_of_memory_is_one_line_exit_1(capsys, monkeypatch):
    import tinygrad_ce.compare

    def no_memory(*args, **kwargs):
        raise MemoryError("Unable to allocate 72.8 TiB for an array")

    monkeypatch.setattr(tinygrad_ce.compare, "compare_cross_entropy", no_memory)
    assert main(["compare"]) == 1
    err = capsys.readouterr().err
    assert err.strip() == (
        "tinygrad-ce compare: error: out of memory: Unable to allocate 72.8 TiB for an array"
    )
