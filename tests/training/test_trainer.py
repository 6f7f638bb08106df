"""The one training loop, through the third task (examples/sequence_classifier.py): best.pt,
early stopping, exact resume, non-finite losses and weights, logs, and the task protocol."""

import csv
import importlib.util
import json
import math
import sys
from pathlib import Path

import pytest
import torch

from rnnkit.training import trainer as trainer_module
from rnnkit.training.checkpoint import load_checkpoint
from rnnkit.training.trainer import Trainer

REPO = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location(
    "examples_sequence_classifier", REPO / "examples" / "sequence_classifier.py"
)
example = sys.modules[spec.name] = importlib.util.module_from_spec(spec)
spec.loader.exec_module(example)


def quiet(_line):
    pass


def config(out_dir, **kw):
    base = dict(out_dir=str(out_dir), n_train=96, n_eval=64, length=6, hidden_size=12,
                batch_size=16, max_epochs=3, progress=False, learning_rate=0.05)  # fmt: skip
    return example.ClassifierConfig(**{**base, **kw})


def fit(out_dir, echo=quiet, given=None, **kw):
    return Trainer(example.SequenceClassifierTask(config(out_dir, **kw)), echo, given).fit()


def load(path):
    task = example.SequenceClassifierTask
    return load_checkpoint(path, task.format, task.required_keys)


def weights(path):
    return load(path)["model"]


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    out = tmp_path_factory.mktemp("straight")
    lines = []
    return out, fit(out, lines.append), lines


def test_the_third_task_learns_and_reports(straight):
    out, summary, lines = straight
    assert summary["iterations"] == 18 and summary["epochs_completed"] == 3
    log = json.loads((out / "log.json").read_text())
    errors = [e["valid_error"] for e in log["history"]["valid"]]
    assert errors[-1] < 0.75 * errors[0]  # it learns to carry the first token
    assert 0 <= summary["test_error"] <= 1 and any("final test error" in x for x in lines)
    assert {"checkpoint.pt", "best.pt", "log.json", "train.csv", "epochs.csv"} <= {
        p.name for p in out.iterdir()
    }


def test_issue_11_best_checkpoint_holds_the_best_epoch(straight):
    out, summary, lines = straight
    history = load(out / "checkpoint.pt")["history"]["valid"]
    best = min(history, key=lambda e: e["valid_error"])
    assert summary["best_epoch"] == best["epoch"] and summary["best"] == best["valid_error"]
    assert summary["best_checkpoint"] == str(out / "best.pt")
    ckpt = load(out / "best.pt")
    assert ckpt["state"]["epoch"] == best["epoch"] + 1  # written at the end of that epoch
    task = example.SequenceClassifierTask(config(out))
    task.setup(None)
    model = task.build_model("cpu")
    model.load_state_dict(ckpt["model"])
    assert task.error(model, "valid") == best["valid_error"]
    assert any(line.startswith(f"best valid_error {best['valid_error']:.4f}") for line in lines)


def test_issue_11_early_stop(tmp_path, monkeypatch):
    # the validation error never improves after epoch 1: stop after --early-stop 2 more epochs
    scores = iter([0.5, 0.6, 0.6, 0.4, 0.3])
    monkeypatch.setattr(example.SequenceClassifierTask, "evaluate",
                        lambda self, model: {"valid_error": next(scores)})  # fmt: skip
    lines = []
    summary = fit(tmp_path, lines.append, max_epochs=10, early_stop=2)
    assert summary["stopped_by"] == "early stop" and summary["epochs_completed"] == 3
    assert summary["best_epoch"] == 1
    assert "stopped: no better valid_error for 2 epochs (--early-stop 2)" in "\n".join(lines)
    assert load(tmp_path / "best.pt")["state"]["epoch"] == 2


def test_resume_mid_epoch_is_exact_and_logs_have_no_duplicates(straight, tmp_path):
    fit(tmp_path, time_budget=1e-9)  # stops after one iteration
    fit(tmp_path, resume=True, time_budget=0)
    a, b = weights(straight[0] / "checkpoint.pt"), weights(tmp_path / "checkpoint.pt")
    for key in a:
        torch.testing.assert_close(b[key], a[key], rtol=0, atol=0)
    rows = list(csv.DictReader((tmp_path / "train.csv").open()))
    assert [int(r["iteration"]) for r in rows] == list(range(1, 19))
    assert set(rows[0]) >= {"iteration", "epoch", "lr", "loss", "grad_norm", "error"}
    epochs = list(csv.DictReader((tmp_path / "epochs.csv").open()))
    assert [int(e["epoch"]) for e in epochs] == [1, 2, 3]
    assert {"train_loss", "train_error", "valid_error", "lr"} <= set(epochs[0])


def poison(monkeypatch, at: set[int]):
    """Make the loss NaN at the given iterations (counted over the whole run)."""
    real, count = example.SequenceClassifierTask.train_step, [0]

    def step(self, model, index):
        loss, stats = real(self, model, index)
        count[0] += 1
        return (loss * float("nan") if count[0] in at else loss), stats

    monkeypatch.setattr(example.SequenceClassifierTask, "train_step", step)


def test_issue_11_nonfinite_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    poison(monkeypatch, {8})
    lines = []
    summary = fit(tmp_path, lines.append, checkpoint_every=5)
    assert summary["stopped_by"] == "non-finite" and summary["nonfinite_iteration"] == 8
    message = [x for x in lines if "stopped at iteration 8" in x]
    assert len(message) == 1 and "the loss is nan" in message[0]
    assert f"{tmp_path / 'checkpoint.pt'} (iteration 6)" in message[0]  # epoch 1's end
    ckpt = load(tmp_path / "checkpoint.pt")
    assert all(torch.isfinite(v).all() for v in ckpt["model"].values())
    log = json.loads((tmp_path / "log.json").read_text())  # strict JSON: no NaN literal
    assert log["summary"]["stopped_by"] == "non-finite"
    assert log["history"]["skipped"] == [
        {"iteration": 8, "epoch": 2, "loss": "nan", "grad_norm": "nan"}
    ]
    assert "test_error" not in summary  # no final evaluation of a broken model


def test_issue_11_skip_nonfinite_counts_skipped_batches(straight, tmp_path, monkeypatch):
    poison(monkeypatch, {3, 11})
    summary = fit(tmp_path, skip_nonfinite=2)
    assert summary["stopped_by"] is None and summary["skipped_nonfinite"] == 2
    history = load(tmp_path / "checkpoint.pt")["history"]
    assert [s["iteration"] for s in history["skipped"]] == [3, 11]
    assert len(history["train"]) == 16  # 18 batches, 2 skipped without an update
    poison(monkeypatch, {3, 11})
    assert fit(tmp_path / "b", skip_nonfinite=1)["stopped_by"] == "non-finite"


def test_issue_11_a_nonfinite_weight_is_never_saved(tmp_path, monkeypatch):
    def after_update(self, model):
        if self.procs is not None and len(self.__dict__.setdefault("_n", [])) == 3:
            with torch.no_grad():
                model.out.bias.fill_(math.inf)
        self._n.append(1)

    monkeypatch.setattr(example.SequenceClassifierTask, "after_update", after_update)
    saves = []
    real = trainer_module.save_atomic
    monkeypatch.setattr(
        trainer_module, "save_atomic", lambda obj, p: saves.append(1) or real(obj, p)
    )
    lines = []
    summary = fit(tmp_path, lines.append, checkpoint_every=2)
    assert summary["stopped_by"] == "non-finite"
    assert len(saves) == 1  # at iteration 2; at 4 a weight was infinite
    assert any("a weight is not finite" in x for x in lines)
    assert load(tmp_path / "checkpoint.pt")["state"]["iteration"] == 2


def test_plateau_schedule_decays_when_validation_stops_improving(tmp_path, monkeypatch):
    scores = iter([0.5, 0.4, 0.45, 0.42, 0.3])
    monkeypatch.setattr(example.SequenceClassifierTask, "evaluate",
                        lambda self, model: {"valid_error": next(scores)})  # fmt: skip
    fit(tmp_path, max_epochs=5, lr_schedule="plateau", lr_patience=2, lr_decay_factor=0.1)
    lrs = [e["lr"] for e in load(tmp_path / "checkpoint.pt")
           ["history"]["valid"]]  # fmt: skip
    assert lrs == pytest.approx([0.05, 0.05, 0.05, 0.05, 0.005])


def test_command_line_of_a_task(tmp_path, capsys):
    argv = ["--out-dir", str(tmp_path), "--n-train", "32", "--n-eval", "16", "--max-epochs", "1",
            "--no-progress"]  # fmt: skip
    assert example.task_main(example.ClassifierConfig, example.SequenceClassifierTask, argv,
                             prog="sequence_classifier.py") == 0  # fmt: skip
    assert "final test error" in capsys.readouterr().out
    rc = example.task_main(example.ClassifierConfig, example.SequenceClassifierTask,
                           argv + ["--hidden-size", "0"], prog="sequence_classifier.py")  # fmt: skip
    err = capsys.readouterr().err
    assert rc == 2 and err == (
        "rnnkit: error: sequence_classifier.py: --hidden-size must be a positive integer, got 0\n"
    )
