"""Issue 11: how `rnnkit train` ends — a NaN run, best.pt for evaluate/sample, CSV and
TensorBoard logs."""

import csv
import importlib.util
import json

import pytest
import torch

from rnnkit.cli import main
from rnnkit.training import run_log
from rnnkit.training.checkpoint import load_checkpoint
from rnnkit.training.run_log import RunLog

from .test_cli import TINY, text


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    path = tmp_path_factory.mktemp("outcomes") / "t.txt"
    path.write_text(text(6000))
    return path


def test_issue_11_a_nan_run_stops_keeps_its_last_good_checkpoint_and_writes_its_logs(
    data, tmp_path, capsys
):
    out = tmp_path / "nan"
    rc = main(["train", "--data", str(data), "--out-dir", str(out), "--optimizer", "sgd",
               "--learning-rate", "1e38", "--grad-clip", "0", "--max-epochs", "1",
               "--checkpoint-every", "1", *TINY[:-2], "--sample-length", "20"])  # fmt: skip
    captured = capsys.readouterr()
    assert rc == 3 and "Traceback" not in captured.err
    stops = [line for line in captured.out.splitlines() if "stopped at iteration" in line]
    assert len(stops) == 1 and stops[0].startswith("train: stopped at iteration ")
    log = json.loads((out / "log.json").read_text())
    assert log["summary"]["stopped_by"] == "non-finite"
    assert (out / "loss.png").read_bytes()[:4] == b"\x89PNG"
    n = log["summary"]["nonfinite_iteration"]
    rows = list(csv.DictReader((out / "train.csv").open()))
    assert len(rows) == n - 1  # every good iteration, and not the bad one
    if (out / "checkpoint.pt").exists():  # never non-finite weights
        ckpt = load_checkpoint(out / "checkpoint.pt")
        assert all(torch.isfinite(v).all() for v in ckpt["model"].values())
        assert ckpt["state"]["iteration"] == n - 1
        assert f"(iteration {n - 1}), is kept" in stops[0]


def test_issue_11_evaluate_and_sample_use_either_checkpoint(data, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--data", str(data), "--out-dir", str(out), "--max-epochs", "2",
                 *TINY]) == 0  # fmt: skip
    lines = capsys.readouterr().out.splitlines()
    log = json.loads((out / "log.json").read_text())
    best = log["summary"]["best_epoch"]
    assert best in (1, 2) and any(x.startswith("best valid_loss") for x in lines)
    for name in ("checkpoint.pt", "best.pt"):
        assert main(["evaluate", "--checkpoint", str(out / name), "--split", "valid", "--json",
                     "--no-progress"]) == 0  # fmt: skip
        loss = json.loads(capsys.readouterr().out)["loss"]
        epoch = best if name == "best.pt" else 2
        assert loss == pytest.approx(log["history"]["valid"][epoch - 1]["valid_loss"], rel=1e-6)
        assert main(["sample", "--checkpoint", str(out / name), "--length", "5"]) == 0
        assert len(capsys.readouterr().out) == 6


class FakeWriter:
    def __init__(self, purge_step):
        self.purge_step, self.scalars = purge_step, []

    def add_scalar(self, tag, value, step):
        self.scalars.append((tag, value, step))

    def flush(self):
        pass

    def close(self):
        pass


def test_tensorboard_scalars_and_a_resume_drops_what_came_after_the_checkpoint(tmp_path,
                                                                               monkeypatch):  # fmt: skip
    writers = []
    monkeypatch.setattr(run_log, "tensorboard_writer",
                        lambda folder, purge: writers.append(FakeWriter(purge)) or writers[-1])  # fmt: skip
    log = RunLog(tmp_path, tensorboard=str(tmp_path / "tb"))
    log.iteration({"iteration": 1, "epoch": 1, "lr": 0.1, "loss": 2.0})
    log.epoch({"epoch": 1, "iteration": 1, "lr": 0.1, "valid_loss": 1.5})
    assert writers[0].purge_step is None
    assert writers[0].scalars == [
        ("lr", 0.1, 1),
        ("train/loss", 2.0, 1),
        ("epoch/valid_loss", 1.5, 1),
    ]
    RunLog(tmp_path, log.history, tensorboard=str(tmp_path / "tb"))  # resumed after iteration 1
    assert writers[1].purge_step == 2


def test_tensorboard_needs_its_package(data, tmp_path, capsys):
    argv = ["train", "--data", str(data), "--out-dir", str(tmp_path / "run"), "--tensorboard",
            str(tmp_path / "tb"), "--max-epochs", "1", *TINY]  # fmt: skip
    if importlib.util.find_spec("tensorboard") is None:
        assert main(argv) == 2
        assert capsys.readouterr().err == ("rnnkit: error: train: --tensorboard needs the "
                                           "tensorboard package (pip install 'rnnkit[tensorboard]')\n")  # fmt: skip
        assert not (tmp_path / "run").exists() and not (tmp_path / "tb").exists()
        pytest.skip("tensorboard is not installed: its event files are not checked")
    assert main(argv) == 0
    assert any(p.name.startswith("events.out.tfevents") for p in (tmp_path / "tb").iterdir())
