"""Issue 11: resume does what users mean — a new time budget for each invocation, data found by
content from any folder, flags on --resume applied or refused by name."""

import dataclasses
import shutil

import pytest
import torch

from rnnkit.cli import main
from rnnkit.training.checkpoint import load_checkpoint, save_atomic
from rnnkit.training.checks import ConfigError
from rnnkit.training.lm_trainer import train_language_model

from .test_lm_trainer import config, quiet, train_losses, word_text


@pytest.fixture
def corpus(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "corpus.txt").write_text(word_text(60))
    return tmp_path


def test_issue_11_each_invocation_gets_its_own_time_budget(corpus, tmp_path):
    out = tmp_path / "run"
    first = train_language_model(config(corpus / "a" / "corpus.txt", out, max_epochs=100,
                                        time_budget=0.2), echo=quiet)  # fmt: skip
    assert first["stopped_by"] == "time budget"
    # as if it had trained for an hour: the budget of the next invocation is still its own
    ckpt = load_checkpoint(out / "checkpoint.pt")
    ckpt["state"]["elapsed"] = 3600.0
    save_atomic(ckpt, out / "checkpoint.pt")
    lines = []
    again = train_language_model(config(corpus / "a" / "corpus.txt", out, max_epochs=100,
                                        resume=True), echo=lines.append)  # fmt: skip
    assert again["stopped_by"] == "time budget" and 0.2 <= again["this_run_s"] < 30
    assert again["iterations"] > first["iterations"] + 3  # not one more iteration
    assert again["elapsed_s"] > 3600.0  # the total is still kept
    assert any(line.startswith("stopped after 0s (time budget)") for line in lines)
    new = train_language_model(config(corpus / "a" / "corpus.txt", out, max_epochs=100,
                                      resume=True, time_budget=0.4), echo=quiet)  # fmt: skip
    assert new["this_run_s"] >= 0.4 and new["iterations"] > again["iterations"]


def test_issue_11_resume_and_evaluate_from_another_folder(corpus, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(corpus / "a")
    train_language_model(config("corpus.txt", tmp_path / "run", max_epochs=1), echo=quiet)
    ckpt = load_checkpoint(tmp_path / "run" / "checkpoint.pt")
    assert ckpt["config"]["data"] == str(corpus / "a" / "corpus.txt")  # stored resolved
    assert [f["path"] for f in ckpt["data_files"]["data"]] == [str(corpus / "a" / "corpus.txt")]
    (tmp_path / "b").mkdir()
    monkeypatch.chdir(tmp_path / "b")
    run = str(tmp_path / "run")
    assert main(["evaluate", "--checkpoint", f"{run}/checkpoint.pt", "--no-progress"]) == 0
    assert capsys.readouterr().out.startswith("test: loss ")
    # without --data, with its absolute path, or with a copy elsewhere: the same data
    shutil.copy(corpus / "a" / "corpus.txt", tmp_path / "b" / "copy.txt")
    for data, epochs in ((None, 2), (str(corpus / "a" / "corpus.txt"), 3), ("copy.txt", 4)):
        summary = train_language_model(resumed(run, data, max_epochs=epochs), echo=quiet)
        assert summary["epochs_completed"] == epochs
    # other content, whatever the name, is refused
    (tmp_path / "b" / "other.txt").write_text(word_text(60, seed=5))
    with pytest.raises(ConfigError, match=r"--data other.txt is not the data this run was "
                       r"trained on \(its content differs"):  # fmt: skip
        train_language_model(resumed(run, "other.txt", max_epochs=5), echo=quiet)


def resumed(run, data=None, **kw):
    """The configuration of ``--resume`` with these flags (``data=None``: no --data)."""
    return dataclasses.replace(config("unused", run, resume=True, **kw), data=data)


def test_issue_11_moved_or_changed_data_is_named(corpus, tmp_path, capsys):
    data, run = corpus / "a" / "corpus.txt", tmp_path / "run"
    train_language_model(config(data, run, max_epochs=1), echo=quiet)
    moved = tmp_path / "moved.txt"
    shutil.move(data, moved)  # the run continues from the new place
    with pytest.raises(ConfigError, match=rf"--data {data}: no such file or folder \(the data "
                       r"this run was trained on\); give its new place with --data"):  # fmt: skip
        train_language_model(resumed(run, max_epochs=2), echo=quiet)
    assert train_language_model(resumed(run, str(moved), max_epochs=2), echo=quiet)[
        "epochs_completed"] == 2  # fmt: skip
    before = (run / "checkpoint.pt").read_bytes()
    moved.write_text(word_text(60).upper())  # changed in place
    with pytest.raises(ConfigError, match="has changed since the checkpoint was written"):
        train_language_model(resumed(run, max_epochs=3), echo=quiet)
    assert main(["evaluate", "--checkpoint", str(run / "checkpoint.pt"), "--no-progress"]) == 2
    assert "has changed since the model was trained" in capsys.readouterr().err
    assert (run / "checkpoint.pt").read_bytes() == before


def test_issue_11_flags_on_resume_apply_or_are_refused_on_the_command_line(corpus, tmp_path,
                                                                           capsys):  # fmt: skip
    data, run = str(corpus / "a" / "corpus.txt"), str(tmp_path / "run")
    tiny = ["--rnn-size", "12", "--wordvec-size", "6", "--num-layers", "1", "--seq-length", "16",
            "--batch-size", "4", "--no-progress", "--sample-length", "0"]  # fmt: skip
    assert main(["train", "--data", data, "--out-dir", run, "--max-epochs", "1", *tiny]) == 0
    capsys.readouterr()
    # the issue's example: a new size is refused by name, nothing is trained
    rc = main(
        ["train", "--resume", "--out-dir", run, "--rnn-size", "512", "--learning-rate", "0.1"]
    )
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("rnnkit: error: train: --rnn-size 512 differs from this "
                                      "run's 12 and cannot change on --resume")  # fmt: skip
    # given with the stored value, a fixed flag is no change; --learning-rate applies
    assert main(["train", "--resume", "--out-dir", run, "--rnn-size", "12", "--learning-rate",
                 "0.1", "--max-epochs", "2", "--no-progress"]) == 0  # fmt: skip
    ckpt = load_checkpoint(f"{run}/checkpoint.pt")
    assert [v["lr"] for v in ckpt["history"]["valid"]] == [0.002, 0.1]
    assert ckpt["config"]["rnn_size"] == 12 and ckpt["config"]["max_epochs"] == 2


def test_resume_keeps_exactness_with_flags_that_apply(corpus, tmp_path):
    data = corpus / "a" / "corpus.txt"
    train_language_model(config(data, tmp_path / "a"), echo=quiet)
    train_language_model(config(data, tmp_path / "b", time_budget=1e-9, checkpoint_every=3),
                         echo=quiet)  # fmt: skip
    train_language_model(config(data, tmp_path / "b", resume=True, time_budget=0,
                                checkpoint_every=5, progress=False), echo=quiet)  # fmt: skip
    assert train_losses(tmp_path / "b") == train_losses(tmp_path / "a")
    a = load_checkpoint(tmp_path / "a" / "checkpoint.pt")["model"]
    b = load_checkpoint(tmp_path / "b" / "checkpoint.pt")["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)
