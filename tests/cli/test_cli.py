"""The ``rnnkit`` command line: the preprocess → train → sample → evaluate pipeline and its errors.

Starting Python with torch takes seconds, so only a few tests run ``python -m rnnkit`` in a
subprocess; the rest call :func:`rnnkit.cli.main` in-process.
"""

import contextlib
import io
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from rnnkit.cli import main
from rnnkit.training.checkpoint import load_checkpoint

REPO = Path(__file__).resolve().parents[2]
TINY = [
    "--rnn-size", "12", "--wordvec-size", "6", "--num-layers", "1", "--seq-length", "16",
    "--batch-size", "4", "--no-progress", "--sample-length", "0",
]  # fmt: skip


def run_cli(*args, timeout=60):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "rnnkit", *args],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


def text(n_chars=3000, seed=0):
    rng = random.Random(seed)
    words = "to be or not that is the question whether tis nobler".split()
    out = []
    while sum(map(len, out)) < n_chars:
        out.append(" ".join(rng.choice(words) for _ in range(7)) + ".\n")
    return "".join(out)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    (root / "corpus.txt").write_text(text())
    return root


@pytest.fixture(scope="module")
def preprocessed(workspace):
    result = run_cli(
        "preprocess", "--input", str(workspace / "corpus.txt"), "--output-dir",
        str(workspace / "prepared"),
    )  # fmt: skip
    return result, workspace / "prepared"


@pytest.fixture(scope="module")
def trained(preprocessed):
    _, prepared = preprocessed
    out = prepared.parent / "run"
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        rc = main(
            ["train", "--data-dir", str(prepared), "--out-dir", str(out), "--max-epochs", "1"]
            + TINY
        )
    return rc, stdout.getvalue(), out / "checkpoint.pt"


def test_help_lists_the_four_commands():
    result = run_cli("--help")
    assert result.returncode == 0
    for command in ("preprocess", "train", "sample", "evaluate"):
        assert command in result.stdout
    assert result.stderr == ""


def test_preprocess_writes_a_prepared_folder(preprocessed):
    result, prepared = preprocessed
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"wrote {prepared}")
    assert {"meta.json", "vocab.json", "train.npy", "valid.npy", "test.npy"} <= set(
        os.listdir(prepared)
    )
    meta = json.loads((prepared / "meta.json").read_text())
    assert meta["level"] == "char" and sum(meta["counts"].values()) == len(text())
    assert meta["dtype"] == "uint8" and meta["min_count"] == 2


def test_train_writes_a_checkpoint(trained):
    rc, stdout, ckpt_path = trained
    assert rc == 0
    assert "epoch 1: validation" in stdout and "final test" in stdout
    ckpt = load_checkpoint(ckpt_path)
    assert ckpt["state"]["epoch"] == 2
    assert ckpt["config"]["rnn_size"] == 12 and ckpt["config"]["max_epochs"] == 1
    assert (ckpt_path.parent / "log.json").is_file()


def sample(capsys, ckpt, *args):
    assert main(["sample", "--checkpoint", str(ckpt), *args]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    return captured.out


def test_sample_with_a_seed_is_reproducible(trained, capsys):
    ckpt = trained[2]
    first = sample(capsys, ckpt, "--seed", "7", "--length", "80")
    second = sample(capsys, ckpt, "--seed", "7", "--length", "80")
    other = sample(capsys, ckpt, "--seed", "8", "--length", "80")
    assert len(first) == 80 + 1  # and a newline
    assert first == second
    assert first != other
    # the same in a fresh process
    result = run_cli("sample", "--checkpoint", str(ckpt), "--seed", "7", "--length", "80")
    assert result.returncode == 0, result.stderr
    assert result.stdout == first


def test_sample_start_text_and_argmax(trained, capsys):
    ckpt = trained[2]
    out = sample(capsys, ckpt, "--start-text", "to be", "--length", "30", "--argmax")
    assert out.startswith("to be") and len(out) == 5 + 30 + 1
    cold = sample(capsys, ckpt, "--start-text", "to be", "--length", "30", "--temperature", "0")
    assert cold == out


def test_evaluate_json(trained, capsys):
    ckpt = trained[2]
    assert main(["evaluate", "--checkpoint", str(ckpt), "--json"]) == 0
    m = json.loads(capsys.readouterr().out)
    assert m["split"] == "test"
    assert set(m) == {"split", "loss", "perplexity", "bits_per_char", "unk_fraction",
                      "loss_excluding_unk", "perplexity_excluding_unk", "oov_tokens"}  # fmt: skip
    # the same number training reported for the test split
    log = json.loads((ckpt.parent / "log.json").read_text())
    assert m["loss"] == pytest.approx(log["summary"]["test"]["loss"], rel=1e-6)
    assert main(["evaluate", "--checkpoint", str(ckpt), "--split", "valid"]) == 0
    assert capsys.readouterr().out.startswith("valid: loss ")


# ----------------------------------------------------------------------------- bad input


def assert_clean_error(rc, capsys, *fragments, code=2):
    captured = capsys.readouterr()
    assert rc == code
    assert "Traceback" not in captured.err
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("rnnkit: error: ")
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.fixture
def bad_files(tmp_path):
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "binary.bin").write_bytes(bytes(range(256)) * 8)
    (tmp_path / "short.txt").write_text("just a few words\n" * 3)
    return tmp_path


@pytest.fixture
def old_checkpoint(tmp_path):
    """An existing checkpoint in --out-dir that a failing command must not touch."""
    path = tmp_path / "out" / "checkpoint.pt"
    path.parent.mkdir()
    path.write_bytes(b"the bytes of an earlier run")
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))
    return path


def assert_untouched(path):
    assert path.read_bytes() == b"the bytes of an earlier run"
    assert path.stat().st_mtime_ns == 1_000_000_000
    assert os.listdir(path.parent) == ["checkpoint.pt"]


@pytest.mark.parametrize(
    "name, fragment",
    [
        ("empty.txt", "is empty"),
        ("binary.bin", "binary"),
        ("missing.txt", "no such file"),
        ("short.txt", "seq_length 16 is longer than the data"),
    ],
)
def test_train_on_bad_data(bad_files, old_checkpoint, capsys, name, fragment):
    # even --overwrite leaves the old run alone when the new one is refused
    rc = main(["train", "--data", str(bad_files / name), "--out-dir", str(old_checkpoint.parent),
               "--overwrite"] + TINY)  # fmt: skip
    assert_clean_error(rc, capsys, fragment)
    assert_untouched(old_checkpoint)


@pytest.mark.parametrize(
    "name, fragment",
    [("empty.txt", "is empty"), ("binary.bin", "binary"), ("missing.txt", "no such file")],
)
def test_preprocess_bad_input(bad_files, capsys, name, fragment):
    out = bad_files / "prepared"
    rc = main(["preprocess", "--input", str(bad_files / name), "--output-dir", str(out)])
    assert_clean_error(rc, capsys, str(bad_files / name), fragment)
    assert not (out / "meta.json").exists()


def test_unknown_model_type_is_a_one_line_error(workspace, old_checkpoint, capsys):
    rc = main(["train", "--data", str(workspace / "corpus.txt"), "--model-type", "transformer",
               "--out-dir", str(old_checkpoint.parent)])  # fmt: skip
    assert_clean_error(rc, capsys, "train: --model-type must be one of lstm, gru, rnn, got "
                       "'transformer'")  # fmt: skip
    assert_untouched(old_checkpoint)


def test_nonpositive_size_is_a_clean_error(workspace, old_checkpoint, capsys):
    args = ["train", "--data", str(workspace / "corpus.txt"), "--out-dir"]
    rc = main(args + [str(old_checkpoint.parent)] + TINY + ["--rnn-size", "0"])
    assert_clean_error(rc, capsys, "--rnn-size must be a positive integer")
    assert_untouched(old_checkpoint)


@pytest.mark.parametrize("command", ["sample", "evaluate"])
def test_corrupt_checkpoint(old_checkpoint, capsys, command):
    rc = main([command, "--checkpoint", str(old_checkpoint)])
    assert_clean_error(rc, capsys, str(old_checkpoint), "not a readable rnnkit checkpoint")
    assert_untouched(old_checkpoint)


@pytest.mark.parametrize("command", ["sample", "evaluate"])
def test_missing_checkpoint(tmp_path, capsys, command):
    rc = main([command, "--checkpoint", str(tmp_path / "nope.pt")])
    assert_clean_error(rc, capsys, str(tmp_path / "nope.pt"), "no such file")


def test_resume_from_a_corrupt_checkpoint(workspace, old_checkpoint, capsys):
    args = ["train", "--data", str(workspace / "corpus.txt"), "--resume", "--out-dir"]
    rc = main(args + [str(old_checkpoint.parent)] + TINY)
    assert_clean_error(rc, capsys, str(old_checkpoint), "not a readable rnnkit checkpoint")
    assert_untouched(old_checkpoint)


def test_resume_without_a_checkpoint(workspace, tmp_path, capsys):
    args = ["train", "--data", str(workspace / "corpus.txt"), "--resume", "--out-dir"]
    rc = main(args + [str(tmp_path / "empty-run")] + TINY)
    assert_clean_error(rc, capsys, "no such file")
    assert not (tmp_path / "empty-run" / "checkpoint.pt").exists()


def test_sample_length_must_be_positive(trained, capsys):
    rc = main(["sample", "--checkpoint", str(trained[2]), "--length", "0"])
    assert_clean_error(rc, capsys, "--length")


def test_corrupt_checkpoint_in_a_real_process(old_checkpoint):
    result = run_cli("evaluate", "--checkpoint", str(old_checkpoint))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("rnnkit: error: checkpoint ")
    assert result.stderr.count("\n") == 1
    assert result.stdout == ""
    assert_untouched(old_checkpoint)


def test_start_text_outside_the_vocabulary_is_read_as_unk(trained, capsys):
    rc = main(["sample", "--checkpoint", str(trained[2]), "--start-text", "XYZ", "--length", "5"])
    captured = capsys.readouterr()
    assert rc == 0
    assert captured.err == (
        "sample: 3 of the 3 characters of --start-text are not in the checkpoint's vocabulary "
        "and were read as <unk>\n"
    )
    assert captured.out.startswith("XYZ") and len(captured.out) == 3 + 5 + 1


def test_evaluate_seq_length_longer_than_the_split(trained, capsys):
    assert main(["evaluate", "--checkpoint", str(trained[2]), "--json"]) == 0
    default = json.loads(capsys.readouterr().out)
    rc = main(["evaluate", "--checkpoint", str(trained[2]), "--seq-length", "1000", "--json"])
    if rc == 0:  # read in shorter chunks: with the state carried, the same loss
        assert json.loads(capsys.readouterr().out)["loss"] == pytest.approx(default["loss"])
    else:
        assert_clean_error(rc, capsys, "seq_length")
