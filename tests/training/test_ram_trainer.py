"""RAM training loop: schedule, outputs, exact resume, checkpoint validation, clear errors."""

import json

import numpy as np
import pytest
import torch

from rnnkit.data.errors import DataError
from rnnkit.data.mnist import FILES, write_idx
from rnnkit.training.checkpoint import CheckpointError, save_atomic
from rnnkit.training.lm_trainer import ConfigError
from rnnkit.training.ram_trainer import (
    RAMConfig,
    learning_rate,
    load_ram_checkpoint,
    train_ram,
)


def write_mnist(folder, n_train=24, n_test=6):
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", n_train), ("test", n_test)):
        write_idx(folder / FILES[split][0], rng.integers(0, 256, (n, 28, 28), dtype=np.uint8))
        write_idx(folder / FILES[split][1], (np.arange(n) % 10).astype(np.uint8))
    return folder


def tiny(tmp_path, **kw):
    data = tmp_path / "mnist"
    if not data.is_dir():
        write_mnist(data)
    base = dict(data_dir=str(data), hidden_size=16, glimpse_hidden=8, locator_hidden=8,
                image_hidden=16, n_glimpses=2, batch_size=5, valid_size=4, max_epochs=2,
                progress=False, out_dir=str(tmp_path / "run"))  # fmt: skip
    return RAMConfig(**{**base, **kw})


def test_linear_learning_rate_decay():
    c = RAMConfig()
    assert learning_rate(c, 1) == pytest.approx(0.01)
    assert learning_rate(c, 401) == pytest.approx((0.01 + 1e-5) / 2)
    assert learning_rate(c, 801) == pytest.approx(1e-5)
    assert learning_rate(c, 2000) == pytest.approx(1e-5)


def test_trains_validates_tests_and_plots(tmp_path):
    lines = []
    summary = train_ram(tiny(tmp_path), echo=lines.append)
    assert summary["epochs_completed"] == 2 and summary["iterations"] == 8  # 20 train / 5
    assert 0 <= summary["test_error"] <= 1 and summary["best_epoch"] in (1, 2)
    run = tmp_path / "run"
    log = json.loads((run / "log.json").read_text())
    epochs = log["history"]["valid"]
    assert [h["epoch"] for h in epochs] == [1, 2]
    assert epochs[1]["lr"] < epochs[0]["lr"]
    assert {"train_nll", "train_error", "valid_error"} <= set(epochs[0])
    assert (run / "glimpses.png").read_bytes()[:4] == b"\x89PNG"
    assert (run / "errors.png").read_bytes()[:4] == b"\x89PNG"
    assert summary["curves"] == str(run / "errors.png")
    assert any("test error" in line for line in lines)
    ckpt = load_ram_checkpoint(run / "checkpoint.pt")
    assert ckpt["state"]["epoch"] == 3 and ckpt["config"]["hidden_size"] == 16


def test_resume_mid_epoch_is_exact(tmp_path):
    whole = train_ram(tiny(tmp_path, out_dir=str(tmp_path / "a")), echo=lambda s: None)
    first = train_ram(tiny(tmp_path, out_dir=str(tmp_path / "b"), time_budget=1e-9),
                      echo=lambda s: None)  # fmt: skip
    assert first["stopped_by"] == "time budget" and first["iterations"] == 1
    # the model's shape cannot change on resume: refused, naming the flag
    with pytest.raises(ConfigError, match="--hidden-size 99 differs from this run's 16"):
        train_ram(tiny(tmp_path, out_dir=str(tmp_path / "b"), resume=True, hidden_size=99),
                  echo=lambda s: None)  # fmt: skip
    resumed = train_ram(tiny(tmp_path, out_dir=str(tmp_path / "b"), resume=True, time_budget=0),
                        echo=lambda s: None)  # fmt: skip
    assert resumed["iterations"] == whole["iterations"]
    assert resumed["test_error"] == whole["test_error"]
    a = load_ram_checkpoint(tmp_path / "a" / "checkpoint.pt")["model"]
    b = load_ram_checkpoint(tmp_path / "b" / "checkpoint.pt")["model"]
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0)


def test_adam_optimizer_is_used_and_resumed(tmp_path):
    whole = train_ram(tiny(tmp_path, out_dir=str(tmp_path / "a"), optimizer="adam",
                           learning_rate=1e-3), echo=lambda s: None)  # fmt: skip
    state = load_ram_checkpoint(tmp_path / "a" / "checkpoint.pt")["optimizer"]["state"]
    assert all("exp_avg_sq" in s for s in state.values())  # Adam's moments, not SGD's buffer
    train_ram(tiny(tmp_path, out_dir=str(tmp_path / "b"), optimizer="adam", learning_rate=1e-3,
                   time_budget=1e-9), echo=lambda s: None)  # fmt: skip
    resumed = train_ram(tiny(tmp_path, out_dir=str(tmp_path / "b"), resume=True, time_budget=0),
                        echo=lambda s: None)  # fmt: skip
    assert resumed["test_error"] == whole["test_error"]
    a = load_ram_checkpoint(tmp_path / "a" / "checkpoint.pt")["model"]
    b = load_ram_checkpoint(tmp_path / "b" / "checkpoint.pt")["model"]
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0)


def test_translated_uses_the_canvas(tmp_path):
    summary = train_ram(
        tiny(tmp_path, translated=True, canvas=40, max_epochs=1), echo=lambda s: None
    )
    ckpt = load_ram_checkpoint(summary["checkpoint"])
    assert ckpt["model_config"]["image_size"] == 40


def test_checkpoint_errors(tmp_path):
    with pytest.raises(CheckpointError, match="no such file"):
        train_ram(tiny(tmp_path, resume=True), echo=lambda s: None)
    path = tmp_path / "run" / "checkpoint.pt"
    save_atomic({"format": "rnnkit-lm-1"}, path)
    with pytest.raises(CheckpointError, match="not an rnnkit attention-model checkpoint"):
        load_ram_checkpoint(path)
    save_atomic({"format": "rnnkit-ram-1", "model": {}}, path)
    with pytest.raises(CheckpointError, match="incomplete"):
        load_ram_checkpoint(path)
    path.write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="not a readable"):
        load_ram_checkpoint(path)


def test_data_and_config_errors(tmp_path):
    with pytest.raises(DataError, match="no such folder"):
        train_ram(tiny(tmp_path, data_dir=str(tmp_path / "missing")), echo=lambda s: None)
    with pytest.raises(ConfigError, match="--valid-size 24 leaves no training images"):
        train_ram(tiny(tmp_path, valid_size=24), echo=lambda s: None)
    with pytest.raises(ConfigError, match="--data-dir is required"):
        train_ram(RAMConfig(), echo=lambda s: None)
    with pytest.raises(ConfigError, match="--optimizer must be one of sgd, adam, got 'rmsprop'"):
        train_ram(tiny(tmp_path, optimizer="rmsprop"), echo=lambda s: None)
    with pytest.raises(ConfigError, match="--batch-size must be a positive integer"):
        train_ram(tiny(tmp_path, batch_size=0), echo=lambda s: None)
