"""train_language_model: outputs, exact resumption, time budget, lr schedule, word level, SIGINT."""

import json
import math
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from rnnkit.training import lm_task, lm_trainer, trainer
from rnnkit.training.checkpoint import CheckpointError, load_checkpoint
from rnnkit.training.config import TrainConfig
from rnnkit.training.lm_trainer import train_language_model

REPO = Path(__file__).resolve().parents[2]
WORDS = "the cat sat on a mat and a dog ran far away from it".split()


def word_text(n_lines, seed=0):
    rng = random.Random(seed)
    return "".join(" ".join(rng.choice(WORDS) for _ in range(8)) + "\n" for _ in range(n_lines))


def quiet(_line):
    pass


@pytest.fixture(scope="module")
def text_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "text.txt"
    path.write_text(word_text(60))  # ~1,800 characters: 25 chunks of (16, 4) per epoch
    return path


def config(data, out_dir, **kw):
    base = dict(
        data=str(data), out_dir=str(out_dir), rnn_size=12, wordvec_size=6, num_layers=1,
        seq_length=16, batch_size=4, max_epochs=2, progress=False, sample_length=10,
        # the decayed lr and dropout's RNG state must survive a resume too
        dropout=0.1, lr_decay_start=1, lr_decay_every=1, lr_decay_factor=0.5,
    )  # fmt: skip
    return TrainConfig(**{**base, **kw})


def history(out_dir):
    return load_checkpoint(Path(out_dir) / "checkpoint.pt")["history"]


def train_losses(out_dir):
    return [(r["iteration"], r["loss"]) for r in history(out_dir)["train"]]


@pytest.fixture(scope="module")
def straight_run(text_file, tmp_path_factory):
    """Two epochs without interruption: the reference for every resume test."""
    out = tmp_path_factory.mktemp("straight")
    lines = []
    summary = train_language_model(config(text_file, out), echo=lines.append)
    return out, summary, lines


def test_writes_checkpoint_log_and_plot(straight_run):
    out, summary, lines = straight_run
    assert {"checkpoint.pt", "log.json", "loss.png"} <= set(os.listdir(out))
    assert (out / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    log = json.loads((out / "log.json").read_text())
    assert log["summary"]["iterations"] == summary["iterations"] == 50
    assert log["config"]["rnn_size"] == 12 and log["model"]["rnn_size"] == 12
    assert len(log["history"]["train"]) == 50 and len(log["history"]["valid"]) == 2
    assert summary["epochs_completed"] == 2 and summary["stopped_by"] is None
    assert summary["checkpoint"] == str(out / "checkpoint.pt")
    assert any(line.startswith("data:") for line in lines)
    assert any(line.startswith("final test") for line in lines)


def test_summary_has_valid_and_test_metrics(straight_run):
    _, summary, _ = straight_run
    for split in ("valid", "test"):
        m = summary[split]
        assert 0 < m["loss"] < math.log(20)  # better than uniform over the ~16 characters
        assert m["perplexity"] == pytest.approx(math.exp(m["loss"]))
        assert m["bits_per_char"] == pytest.approx(m["loss"] / math.log(2))
    assert isinstance(summary["sample"], str) and len(summary["sample"]) == 10
    valid = [v["valid_loss"] for v in history(straight_run[0])["valid"]]
    assert valid[1] < valid[0]  # it learns


def test_checkpoint_holds_everything_to_continue(straight_run):
    ckpt = load_checkpoint(straight_run[0] / "checkpoint.pt")
    assert ckpt["state"]["epoch"] == 3 and ckpt["state"]["batch"] == 0
    assert ckpt["state"]["iteration"] == 50
    assert ckpt["model_config"]["vocab_size"] == len(ckpt["vocab"]["tokens"])
    assert {"optimizer", "rng", "carried", "history"} <= set(ckpt)


def test_resume_after_an_epoch_matches_an_uninterrupted_run(straight_run, text_file, tmp_path):
    train_language_model(config(text_file, tmp_path, max_epochs=1), echo=quiet)
    assert len(train_losses(tmp_path)) == 25
    lines = []
    summary = train_language_model(
        config(text_file, tmp_path, max_epochs=2, resume=True), echo=lines.append
    )
    assert lines[0].startswith("resuming from")
    assert train_losses(tmp_path) == train_losses(straight_run[0])
    assert history(tmp_path)["valid"] == history(straight_run[0])["valid"]
    assert summary["test"] == straight_run[1]["test"]


def test_resume_mid_epoch_after_time_budget_matches(straight_run, text_file, tmp_path):
    for step in (1, 2, 3):  # a tiny budget stops after one iteration each time
        summary = train_language_model(
            config(text_file, tmp_path, time_budget=1e-9, resume=step > 1), echo=quiet
        )
        assert summary["stopped_by"] == "time budget"
        assert load_checkpoint(tmp_path / "checkpoint.pt")["state"]["batch"] == step
    train_language_model(config(text_file, tmp_path, resume=True, time_budget=0), echo=quiet)
    assert train_losses(tmp_path) == train_losses(straight_run[0])


def test_checkpoint_every_saves_mid_epoch_and_resumes_exactly(
    straight_run, text_file, tmp_path, monkeypatch
):
    saves = []
    real_save = trainer.save_atomic

    def recording_save(obj, path):
        real_save(obj, path)
        saves.append(dict(obj["state"]))
        if obj["state"]["iteration"] == 35:  # mid-way through epoch 2
            shutil.copy(path, tmp_path / "at35.pt")

    monkeypatch.setattr(trainer, "save_atomic", recording_save)
    train_language_model(config(text_file, tmp_path / "a", checkpoint_every=7), echo=quiet)
    monkeypatch.undo()
    its = [(s["iteration"], s["epoch"], s["batch"]) for s in saves]
    assert its == [(7, 1, 7), (14, 1, 14), (21, 1, 21), (25, 2, 0), (28, 2, 3), (35, 2, 10)] + [
        (42, 2, 17),
        (49, 2, 24),
        (50, 3, 0),
    ]
    # Saving does not disturb training ...
    assert train_losses(tmp_path / "a") == train_losses(straight_run[0])
    # ... and a run resumed from the mid-epoch checkpoint continues exactly.
    (tmp_path / "b").mkdir()
    shutil.copy(tmp_path / "at35.pt", tmp_path / "b" / "checkpoint.pt")
    train_language_model(config(text_file, tmp_path / "b", resume=True), echo=quiet)
    assert train_losses(tmp_path / "b") == train_losses(straight_run[0])


def test_resume_refuses_flags_that_fix_the_run_and_applies_the_others(text_file, tmp_path):
    train_language_model(config(text_file, tmp_path, max_epochs=1), echo=quiet)
    before = (tmp_path / "checkpoint.pt").read_bytes()
    for flag, value in (("seed", 99), ("rnn_size", 512), ("level", "word"), ("batch_size", 8)):
        with pytest.raises(lm_trainer.ConfigError) as info:
            train_language_model(config(text_file, tmp_path, resume=True, **{flag: value}),
                                 echo=quiet)  # fmt: skip
        message = str(info.value)
        assert message.startswith(f"train: --{flag.replace('_', '-')} {value} differs from")
        assert "\n" not in message and "cannot change on --resume" in message
    assert (tmp_path / "checkpoint.pt").read_bytes() == before  # nothing written
    # the same value as stored is no change; a new learning rate applies from now on
    summary = train_language_model(
        config(text_file, tmp_path, resume=True, seed=0, learning_rate=0.1, lr_decay_start=9,
               max_epochs=2), echo=quiet)  # fmt: skip
    assert summary["epochs_completed"] == 2
    ckpt = load_checkpoint(tmp_path / "checkpoint.pt")
    assert [v["lr"] for v in ckpt["history"]["valid"]] == [0.002, 0.1]
    assert {r["lr"] for r in ckpt["history"]["train"][25:]} == {0.1}
    assert ckpt["config"]["learning_rate"] == 0.1 and ckpt["config"]["max_epochs"] == 2


def test_time_budget_stops_early_and_still_saves(text_file, tmp_path):
    lines = []
    summary = train_language_model(
        config(text_file, tmp_path, max_epochs=50, time_budget=1e-9), echo=lines.append
    )
    assert summary["stopped_by"] == "time budget"
    assert summary["iterations"] == 1 and summary["epochs_completed"] == 0
    assert "valid" in summary and "test" in summary
    ckpt = load_checkpoint(tmp_path / "checkpoint.pt")
    assert ckpt["state"]["iteration"] == 1 and ckpt["state"]["epoch"] == 1
    assert (tmp_path / "log.json").is_file()
    assert any("time budget" in line for line in lines)


def test_lr_decay_schedule(text_file, tmp_path):
    lr = 0.004
    train_language_model(
        config(
            text_file, tmp_path, max_epochs=4, learning_rate=lr, lr_decay_start=1,
            lr_decay_every=2, lr_decay_factor=0.5, sample_length=0, dropout=0.0,
        ),
        echo=quiet,
    )  # fmt: skip
    ckpt = load_checkpoint(tmp_path / "checkpoint.pt")
    assert [v["lr"] for v in ckpt["history"]["valid"]] == [lr, lr / 2, lr / 2, lr / 4]
    assert ckpt["state"]["lr"] == lr / 4
    assert all(g["lr"] == lr / 4 for g in ckpt["optimizer"]["param_groups"])


def test_word_level(tmp_path):
    data = tmp_path / "words.txt"
    data.write_text(word_text(120, seed=1))
    summary = train_language_model(
        config(data, tmp_path / "out", level="word", max_epochs=1, seq_length=8), echo=quiet
    )
    for split in ("valid", "test"):
        assert "bits_per_char" not in summary[split]
        assert summary[split]["perplexity"] == pytest.approx(math.exp(summary[split]["loss"]))
    ckpt = load_checkpoint(tmp_path / "out" / "checkpoint.pt")
    assert ckpt["vocab"]["level"] == "word"
    assert {"<unk>", "<eos>", "cat"} <= set(ckpt["vocab"]["tokens"])
    assert ckpt["model_config"]["vocab_size"] == len(WORDS) - 1 + 2  # "a" twice, + specials
    assert set(summary["sample"].split()) <= set(ckpt["vocab"]["tokens"])


def test_resume_when_the_data_changed_is_refused(text_file, tmp_path):
    data = tmp_path / "text.txt"
    shutil.copy(text_file, data)
    train_language_model(config(data, tmp_path, max_epochs=1), echo=quiet)
    before = (tmp_path / "checkpoint.pt").read_bytes()
    data.write_text(text_file.read_text().upper())  # the stored --data now has other characters
    with pytest.raises(CheckpointError, match="vocabulary"):
        train_language_model(config(data, tmp_path, resume=True), echo=quiet)
    assert (tmp_path / "checkpoint.pt").read_bytes() == before


def test_short_validation_split_fails_up_front_or_not_at_all(tmp_path, monkeypatch):
    data = tmp_path / "text.txt"
    data.write_text(word_text(34))  # ~1,000 chars: 900 to train on, only ~50 to validate
    steps = []
    real_build = lm_task.build_model

    def counting_build(*args, **kwargs):
        model = real_build(*args, **kwargs)
        model.register_forward_hook(lambda m, i, o: steps.append(1) if m.training else None)
        return model

    monkeypatch.setattr(lm_task, "build_model", counting_build)
    try:
        summary = train_language_model(config(data, tmp_path / "out", max_epochs=1), echo=quiet)
    except (lm_trainer.ConfigError, ValueError):
        assert steps == [], "refused only after training a whole epoch, whose work is lost"
        return
    assert summary["epochs_completed"] == 1
    assert (tmp_path / "out" / "checkpoint.pt").is_file()


def test_sigint_saves_a_loadable_checkpoint_and_exits_130(tmp_path):
    data = tmp_path / "big.txt"
    data.write_text(word_text(2500, seed=3))  # ~75,000 characters: about a second per epoch
    out = tmp_path / "out"
    cmd = [
        sys.executable, "-m", "rnnkit", "train", "--data", str(data), "--out-dir", str(out),
        "--rnn-size", "12", "--wordvec-size", "6", "--num-layers", "1", "--seq-length", "16",
        "--batch-size", "4", "--max-epochs", "1000", "--checkpoint-every", "0",
        "--no-progress", "--sample-length", "0",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    watchdog = threading.Timer(60, proc.kill)
    watchdog.start()
    try:
        seen = []
        for line in proc.stdout:  # the model line comes just before the loop starts
            seen.append(line)
            if line.startswith("model:"):
                break
        assert seen and seen[-1].startswith("model:"), "".join(seen) + proc.stderr.read()
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        rest, err = proc.communicate(timeout=30)
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    stdout = "".join(seen) + rest
    assert proc.returncode == 130, stdout + err
    assert "Traceback" not in err and "Traceback" not in stdout
    assert "interrupted (SIGINT)" in stdout
    ckpt = load_checkpoint(out / "checkpoint.pt")
    done = ckpt["state"]["iteration"]
    assert done >= 1
    assert len(ckpt["history"]["train"]) == done
    assert not (out / "log.json").exists()  # an interrupted run writes no final report
    # ... and training continues from it.
    summary = train_language_model(
        TrainConfig(out_dir=str(out), resume=True, time_budget=1e-9), echo=quiet
    )
    assert summary["iterations"] == done + 1


def test_resume_with_the_same_learning_rate_continues_the_decayed_schedule(text_file, tmp_path):
    # the first NCE PTB run was resumed with its own command line, and epoch 12 ran at the
    # initial rate again instead of the decayed one
    options = dict(learning_rate=0.004, lr_decay_start=1, lr_decay_every=1, lr_decay_factor=0.5)
    train_language_model(config(text_file, tmp_path, max_epochs=2, **options), echo=quiet)
    train_language_model(config(text_file, tmp_path, resume=True, max_epochs=3, **options),
                         echo=quiet)  # fmt: skip
    ckpt = load_checkpoint(tmp_path / "checkpoint.pt")
    straight = tmp_path / "straight"
    straight.mkdir()
    train_language_model(config(text_file, straight, max_epochs=3, **options), echo=quiet)
    expected = [v["lr"] for v in load_checkpoint(straight / "checkpoint.pt")["history"]["valid"]]
    assert [v["lr"] for v in ckpt["history"]["valid"]] == expected
    assert expected[2] < expected[0]  # the schedule did decay
