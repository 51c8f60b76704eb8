"""``tinygrad-ce train --model gpt`` and ``tinygrad-ce generate`` end to end on a tiny corpus."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tinygrad_ce.cli import main
from tinygrad_ce.data.text import BigramModel, CharTokenizer, split_ids
from tinygrad_ce.run import RunError
from tinygrad_ce.run_gpt import GPTRunConfig, generate_text, load_gpt_run, run_gpt_training

ROOT = Path(__file__).resolve().parents[1]
TINY = "--steps 40 --n-layer 1 --n-head 2 --n-embd 16 --block-size 16 --eval-interval 10"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A few thousand characters of repetitive English: a tiny model learns it in 40 steps."""
    rng = np.random.default_rng(0)
    words = ["the cat", "a dog", "my horse", "the bird"]
    verbs = ["eats bread", "sleeps well", "runs home", "sings loudly"]
    lines = [f"{rng.choice(words)} {rng.choice(verbs)}." for _ in range(200)]
    path = tmp_path_factory.mktemp("gpt") / "tiny.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def trained(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int, str]:
    """One run shared by the generate tests: (folder, exit code, stdout)."""
    out = tmp_path_factory.mktemp("gpt") / "run"
    args = ["train", "--model", "gpt", "--text", str(corpus), *TINY.split()]
    args += ["--lr", "1e-2", "--sample-chars", "40", "--no-progress", "--out", str(out)]
    from contextlib import redirect_stdout
    from io import StringIO

    buffer = StringIO()
    with redirect_stdout(buffer):
        code = main(args)
    return out, code, buffer.getvalue()


def _generate(capsys, run: Path, *extra: str) -> tuple[int, str, str]:
    code = main(["generate", "--run", str(run), *extra])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_train_writes_weights_curves_samples_and_strict_metrics(trained, corpus):
    out, code, stdout = trained
    assert code == 0
    for name in ("model.npz", "curves.png", "samples.txt", "metrics.json"):
        assert (out / name).stat().st_size > 0, name
    assert sorted(p.name for p in out.iterdir()) == [
        "curves.png",
        "metrics.json",
        "model.npz",
        "samples.txt",
    ]
    assert (out / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = (out / "metrics.json").read_text()
    m = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-strict JSON: {c}"))
    assert m["kind"] == "gpt" and m["status"] == "complete"
    corpus_text = corpus.read_text(encoding="utf-8")
    assert m["tokenizer"]["vocab"] == sorted(set(corpus_text))
    cfg = m["model"]["config"]
    assert (cfg["n_layer"], cfg["n_head"], cfg["n_embd"], cfg["block_size"]) == (1, 2, 16, 16)
    assert cfg["vocab_size"] == len(m["tokenizer"]["vocab"])
    assert m["final"]["steps"] == 40 and m["config"]["steps"] == 40
    assert m["history"]["val_step"] == [0, 10, 20, 30, 40]
    assert len(m["history"]["train_loss"]) == 40
    assert m["time"]["tokens"] == 40 * 32 * 16 and m["time"]["tokens_per_second"] > 0
    # the bigram baseline is the one fitted on the same split
    tok = CharTokenizer(corpus_text)
    train_ids, val_ids = split_ids(tok.encode(corpus_text), 0.1)
    expected = BigramModel(tok.vocab_size, alpha=0.1).fit(train_ids).loss(val_ids)
    assert m["bigram"]["val_loss"] == pytest.approx(expected)
    # the model learned: from about log(vocab) to half a nat per character lower
    assert m["history"]["val_loss"][0] == pytest.approx(np.log(tok.vocab_size), abs=0.2)
    assert m["final"]["val_loss"] < m["history"]["val_loss"][0] - 0.5
    assert "validation loss" in stdout and "bigram" in stdout
    assert f"tinygrad-ce generate --run {out}" in stdout


def test_samples_file_is_what_the_saved_weights_generate(trained):
    """samples.txt came from the trained model; the weights read back give the same text."""
    out = trained[0]
    first = (out / "samples.txt").read_text(encoding="utf-8").split("\n\n--- sample 2")[0]
    header, body = first.split("\n", 1)
    assert header.startswith("--- sample 1: prompt '\\n', temperature 0.8, top_k 20, seed 0")
    assert body.endswith("\n")  # each sample ends with a newline
    body = body[:-1]
    assert len(body) == 1 + 40
    run = load_gpt_run(out)
    assert generate_text(run, "\n", 40, temperature=0.8, top_k=20, seed=0) == body


def test_generate_is_deterministic_for_a_seed(trained, capsys):
    out = trained[0]
    args = ("--prompt", "the ", "--max-new-tokens", "30", "--top-k", "5", "--seed", "7")
    code, first, _ = _generate(capsys, out, *args)
    assert code == 0 and first.startswith("the ") and len(first) == len("the ") + 30 + 1
    assert _generate(capsys, out, *args)[1] == first
    others = {_generate(capsys, out, *args[:-1], str(s))[1] for s in range(4)}
    assert len(others) > 1  # other seeds, other text


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--prompt", "the Z"), "'Z' is not among the"),
        (("--prompt", ""), "the prompt is empty"),
        (("--temperature", "0"), "--temperature: expected a positive finite number"),
        (("--temperature", "nan"), "--temperature: expected a positive finite number"),
        (("--top-k", "0"), "--top-k: expected a positive integer"),
        (("--max-new-tokens", "ten"), "--max-new-tokens: expected a positive integer"),
        (("--seed", "-1"), "--seed: expected an integer >= 0"),
    ],
)
def test_generate_bad_arguments_are_one_line_errors(trained, capsys, extra, message):
    with pytest.raises(SystemExit) as exc:
        main(["generate", "--run", str(trained[0]), *extra])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert message in err, err


def test_generate_refuses_a_missing_or_incomplete_run(trained, tmp_path, capsys):
    def error(folder: Path) -> str:
        with pytest.raises(SystemExit) as exc:
            main(["generate", "--run", str(folder)])
        assert exc.value.code == 2
        return capsys.readouterr().err.strip().splitlines()[-1]

    assert "is not a folder" in error(tmp_path / "nothing")
    assert "holds no metrics.json" in error(tmp_path)
    partial = tmp_path / "partial"
    partial.mkdir()
    (partial / "metrics.json").write_text((trained[0] / "metrics.json").read_text())
    assert "holds no model.npz" in error(partial)
    (partial / "model.npz").write_bytes(b"not a zip")
    assert "model.npz" in error(partial)
    (partial / "metrics.json").write_text('{"status": "complete"}')
    assert "another model" in error(partial)
    (partial / "metrics.json").write_text('{"kind": "gpt", "status": "complete"}')
    assert "not a GPT run's metrics" in error(partial)
    with pytest.raises(RunError, match="diverged"):
        (partial / "metrics.json").write_text('{"kind": "gpt", "status": "diverged"}')
        load_gpt_run(partial)


def test_train_refuses_a_used_folder_without_force_and_replaces_with_it(trained, corpus, capsys):
    out = trained[0]
    before = (out / "model.npz").read_bytes()
    base = ["train", "--model", "gpt", "--text", str(corpus), *TINY.split(), "--no-progress"]
    base += ["--steps", "3", "--sample-chars", "0", "--no-plots", "--out"]
    with pytest.raises(SystemExit) as exc:
        main([*base, str(out)])
    assert exc.value.code == 2 and "is not empty" in capsys.readouterr().err
    assert (out / "model.npz").read_bytes() == before  # nothing touched
    copy = out.parent / "copy"
    copy.mkdir()
    for name in ("model.npz", "curves.png", "samples.txt", "metrics.json"):
        (copy / name).write_bytes((out / name).read_bytes())
    assert main([*base, str(copy), "--force"]) == 0
    capsys.readouterr()
    # this run wrote no samples and no curves: the earlier ones are gone, not left stale
    assert sorted(p.name for p in copy.iterdir()) == ["metrics.json", "model.npz"]
    assert json.loads((copy / "metrics.json").read_text())["final"]["steps"] == 3


def test_diverged_run_writes_only_metrics_and_exits_1(corpus, tmp_path, capsys):
    out = tmp_path / "diverged"
    args = ["train", "--model", "gpt", "--text", str(corpus), *TINY.split(), "--lr", "1e300"]
    assert main([*args, "--no-progress", "--out", str(out)]) == 1
    assert "training diverged" in capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == ["metrics.json"]
    assert json.loads((out / "metrics.json").read_text())["status"] == "diverged"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            ["--n-embd", "10", "--n-head", "4"],
            "--n-embd 10 must be divisible by the number of heads 4",
        ),
        (["--block-size", "5000"], "--block-size 5000 needs windows of 5001 characters"),
        (["--hidden", "8"], "--hidden is an MLP/CNN option"),
        (["--epochs", "3"], "--epochs is an MLP/CNN option"),
        (["--dataset", "pydoc"], "--text and --dataset are two sources"),
        (["--steps", "0"], "--steps: expected a positive integer"),
        (["--lr", "-1"], "--lr must be a positive number"),
    ],
)
def test_train_gpt_bad_arguments_are_one_line_errors(corpus, tmp_path, capsys, extra, message):
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exc:
        main(["train", "--model", "gpt", "--text", str(corpus), *extra, "--out", str(out)])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err.strip().splitlines()[-1]
    assert not out.exists()  # refused before any work


def test_gpt_options_need_model_gpt_and_unknown_corpus(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["train", "--steps", "5", "--out", str(tmp_path / "a")])
    assert "--steps is a GPT option: add --model gpt" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train", "--model", "gpt", "--dataset", "shakespeare", "--out", str(tmp_path / "b")])
    assert "unknown corpus 'shakespeare'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train", "--model", "gpt", "--text", str(tmp_path / "none.txt")])
    assert "no such file" in capsys.readouterr().err


def test_library_run_with_a_time_limit_and_default_folder(corpus, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = GPTRunConfig(
        text=str(corpus),
        block_size=8,
        n_layer=1,
        n_head=1,
        n_embd=8,
        steps=10_000,
        max_seconds=0.3,
        sample_chars=0,
        progress=False,
        plots=False,
    )
    first = run_gpt_training(config)
    second = run_gpt_training(config)
    assert Path(first.config.out) == Path("runs/tiny-gpt")
    assert Path(second.config.out) == Path("runs/tiny-gpt-2")  # never the earlier run's folder
    final = first.metrics["final"]
    assert 0 < final["steps"] < 10_000  # the clock stopped it
    assert first.metrics["history"]["val_step"][-1] == final["steps"]


def test_generate_as_a_subprocess(trained):
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    cmd = [sys.executable, "-m", "tinygrad_ce", "generate", "--run", str(trained[0])]
    cmd += ["--prompt", "a ", "--max-new-tokens", "20", "--seed", "3"]
    first = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60, check=True)
    second = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60, check=True)
    assert first.stdout == second.stdout and first.stdout.startswith("a ")
    bad = subprocess.run(
        [*cmd[:6], "--prompt", "\u00e9"], capture_output=True, text=True, env=env, timeout=60
    )
    assert bad.returncode == 2 and "'\u00e9' is not among the" in bad.stderr


def test_progress_bar_shows_tokens_per_second_and_validation_loss(corpus, tmp_path, monkeypatch):
    """The bar (tqdm on a terminal, as fit's) gets one update per step with the losses and
    tokens/s; here a recorder stands in for it."""
    import tinygrad_ce.run_gpt as run_gpt

    class Recorder:
        def __init__(self) -> None:
            self.postfix: list[str] = []
            self.n, self.closed = 0, False

        def set_postfix_str(self, text: str) -> None:
            self.postfix.append(text)

        def update(self, n: int = 1) -> None:
            self.n += n

        def close(self) -> None:
            self.closed = True

    bars: list[Recorder] = []
    monkeypatch.setattr(
        run_gpt, "_progress", lambda total, enabled: bars.append(Recorder()) or bars[-1]
    )
    config = GPTRunConfig(
        text=str(corpus),
        block_size=8,
        n_layer=1,
        n_head=1,
        n_embd=8,
        steps=12,
        eval_interval=5,
        sample_chars=0,
        plots=False,
        out=str(tmp_path / "run"),
    )
    result = run_gpt_training(config)
    (bar,) = bars
    assert bar.n == 12 and bar.closed and len(bar.postfix) == 12
    assert all("tok/s" in p and "val " in p and "loss " in p for p in bar.postfix)
    val_5 = result.metrics["history"]["val_loss"][1]
    assert f"val {val_5:.3f}" in bar.postfix[4]  # the validation loss measured at step 5
