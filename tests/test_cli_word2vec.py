"""``tinygrad-ce word2vec`` end to end, on a tiny corpus written by the test."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tinygrad_ce.cli import main

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def tiny_corpus(tmp_path: Path) -> Path:
    """Animals are fed and sleep; colours are painted and shine: two kinds of context."""
    rng = np.random.default_rng(0)
    lines = []
    for _ in range(400):
        if rng.random() < 0.5:
            animal = rng.choice(["cat", "dog", "horse"])
            lines.append(f"the {animal} {rng.choice(['eats', 'sleeps', 'runs'])} today.")
        else:
            colour = rng.choice(["red", "blue", "green"])
            lines.append(f"a {colour} {rng.choice(['paint', 'light', 'glow'])} shines!")
    path = tmp_path / "tiny.txt"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def _run(corpus: Path, *extra: str) -> list[str]:
    return [
        "word2vec", "--text", str(corpus), "--min-count", "1", "--dim", "8", "--window", "1",
        "--epochs", "8", "--batch-size", "64", "--lr", "0.05", "--no-subsample", "-k", "2",
        "--quiet", *extra,
    ]  # fmt: skip


def test_word2vec_trains_on_a_text_file_and_writes_the_table(tiny_corpus, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(_run(tiny_corpus, "--words", "cat,red", "--out", str(out))) == 0
    printed = capsys.readouterr().out
    assert "vocabulary 17" in printed and "trained" in printed
    neighbours = {}
    for line in printed.splitlines():
        cells = line.split(" | ")
        if line.startswith(("| cat |", "| red |")):
            neighbours[cells[0][2:]] = [n.split(" (")[0] for n in cells[1].split(", ")]
    assert set(neighbours["cat"]) <= {"dog", "horse"}  # same contexts, close vectors
    assert set(neighbours["red"]) <= {"blue", "green"}
    table = (out / "neighbours.md").read_text(encoding="utf-8")
    assert table.splitlines()[0] == "| word | nearest neighbours (cosine similarity) |"
    assert table.strip() in printed
    saved = np.load(out / "vectors.npz", allow_pickle=False)
    assert saved["V"].shape == (17, 8) and saved["U"].shape == (8, 17)
    assert saved["vocab"][0] == "<unk>" and "cat" in saved["vocab"].tolist()
    history = json.loads((out / "history.json").read_text(encoding="utf-8"))
    assert history["config"]["dim"] == 8 and history["losses"][-1] < history["losses"][0]


def test_word2vec_defaults_to_frequent_words_on_an_unknown_corpus(tiny_corpus, capsys):
    assert main(_run(tiny_corpus, "--epochs", "1", "--vectors", "centre", "--unfused")) == 0
    printed = capsys.readouterr().out
    assert "| the |" in printed and "(centre vectors" in printed  # the most frequent words


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--words", "cat,zebra"], "--words: not in the vocabulary: zebra"),
        (["-k", "50"], "the vocabulary has 17 words"),
        (["--epochs", "0"], "argument --epochs: expected a positive finite number"),
    ],
)
def test_word2vec_bad_arguments_are_one_line_errors(tiny_corpus, capsys, extra, message):
    with pytest.raises(SystemExit) as info:
        main(_run(tiny_corpus, *extra))
    assert info.value.code == 2
    assert message in capsys.readouterr().err.strip().splitlines()[-1]


def test_word2vec_missing_or_empty_file(tmp_path, capsys, awkward_paths):
    with pytest.raises(SystemExit):
        main(["word2vec", "--text", "nope.txt"])
    assert "--text 'nope.txt': no such file" in capsys.readouterr().err
    Path("empty.txt").write_text("\n", encoding="utf-8")
    with pytest.raises(SystemExit):
        main(["word2vec", "--text", "empty.txt"])
    assert "empty.txt: the file holds no text" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["word2vec", "--corpus", "shakespeare"])
    assert "unknown corpus 'shakespeare'; choose one of: pydoc" in capsys.readouterr().err
    Path("t.txt").write_text("a b a b\n", encoding="utf-8")
    with pytest.raises(SystemExit):
        main(["word2vec", "--text", "t.txt", "--out", "a_file"])
    assert "--out 'a_file' is a file, not a folder" in capsys.readouterr().err


def test_word2vec_as_a_subprocess(tiny_corpus):
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    done = subprocess.run(
        [sys.executable, "-m", "tinygrad_ce", *_run(tiny_corpus, "--epochs", "1")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "nearest neighbours (sum vectors" in done.stdout


def test_word2vec_is_listed_in_the_help(capsys):
    assert main([]) == 2
    assert "word2vec" in capsys.readouterr().out
