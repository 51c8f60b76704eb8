"""Shared pytest setup: every test must leave grad mode as it found it; a folder of bad paths."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# let `pytest` run from a checkout without installing the package
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from helpers import AWKWARD  # noqa: E402

import tinygrad_ce  # noqa: E402


@pytest.fixture(autouse=True)
def _grad_mode_unchanged():
    """Fail a test that leaves grad mode switched (a ``no_grad`` that was never exited)."""
    before = tinygrad_ce.is_grad_enabled()
    yield
    after = tinygrad_ce.is_grad_enabled()
    if after != before:
        # put it back so one broken test does not poison the tests that follow
        tinygrad_ce.autograd._mode.enabled = before
        pytest.fail(
            f"the test changed grad mode from {before} to {after} and did not restore it",
            pytrace=False,
        )


@pytest.fixture
def awkward_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Work in ``tmp_path``, which holds ``helpers.AWKWARD``: a file ``a_file`` and folders
    ``a_dir.png``/``a_dir.svg``, for CLI tests that give a file where a folder belongs or the
    other way round."""
    monkeypatch.chdir(tmp_path)
    for name in AWKWARD:
        if name.startswith("a_dir"):
            (tmp_path / name).mkdir()
        else:
            (tmp_path / name).write_text("not a folder")
    return tmp_path


pytest_plugins = ["pytester"]  # lets test_engine.py check the fixture above on a failing test
