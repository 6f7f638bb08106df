"""Training under torchrun: two processes train exactly what one process trains on the whole batch."""

import os
import random
import subprocess
import sys

import numpy as np
import pytest
import torch

from rnnkit.data.mnist import FILES, write_idx
from rnnkit.training.checkpoint import CheckpointError, load_checkpoint
from rnnkit.training.config import TrainConfig
from rnnkit.training.distributed import Processes
from rnnkit.training.lm_trainer import ConfigError, train_language_model
from rnnkit.training.ram_trainer import RAMConfig, load_ram_checkpoint, train_ram

WORDS = "the cat sat on a mat and a dog ran far away from it".split()
SETTINGS = dict(rnn_size=12, wordvec_size=6, num_layers=1, seq_length=8, batch_size=4,
                max_epochs=1, sample_length=0, dropout=0.0, checkpoint_every=0)  # fmt: skip
FLAGS = [part for key, value in SETTINGS.items()
         for part in (f"--{key.replace('_', '-')}", str(value))] + ["--no-progress"]  # fmt: skip


def in_process(out_dir, data, **kw):
    """The reference: one process, the whole batch, called in this interpreter."""
    config = TrainConfig(data=str(data), out_dir=str(out_dir), progress=False, **{**SETTINGS, **kw})
    train_language_model(config, echo=lambda line: None)
    return load_checkpoint(out_dir / "checkpoint.pt")


@pytest.fixture(scope="module")
def text_file(tmp_path_factory):
    rng = random.Random(0)
    lines = (" ".join(rng.choice(WORDS) for _ in range(8)) for _ in range(30))
    path = tmp_path_factory.mktemp("data") / "text.txt"
    path.write_text("".join(line + "\n" for line in lines))
    return path


def failure(result) -> str:
    """The start (worker errors) and the end (torchrun's summary) of a failed launch."""
    return f"{result.stderr[:3000]}\n…\n{result.stderr[-1500:]}"


def rnnkit_train(out_dir, data, processes, *extra):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("WORLD_SIZE", None)
    launcher = [sys.executable, "-m", "rnnkit"]
    if processes > 1:
        launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone",
                    f"--nproc-per-node={processes}", "-m", "rnnkit"]  # fmt: skip
    cmd = [*launcher, "train", "--data", str(data), "--out-dir", str(out_dir), *FLAGS, *extra]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)


@pytest.fixture(scope="module")
def runs(text_file, tmp_path_factory):
    """Two processes stopped after one iteration (a 1 ns budget), then resumed to the end."""
    root = tmp_path_factory.mktemp("runs")
    stop = rnnkit_train(root / "two", text_file, 2, "--time-budget", "1e-9")
    assert stop.returncode == 0, failure(stop)
    stopped = load_checkpoint(root / "two" / "checkpoint.pt")
    resumed = rnnkit_train(root / "two", text_file, 2, "--resume", "--time-budget", "0")
    assert resumed.returncode == 0, failure(resumed)
    return root, stopped, resumed


def test_two_processes_train_what_one_process_trains(runs, text_file):
    root, _, _ = runs
    a = in_process(root / "one", text_file)
    b = load_checkpoint(root / "two" / "checkpoint.pt")
    assert b["world_size"] == 2 and len(b["rng"]) == 2
    assert a["state"]["iteration"] == b["state"]["iteration"] > 5
    for key, value in a["model"].items():  # gradient averaging = the whole batch's mean loss
        torch.testing.assert_close(b["model"][key], value, rtol=1e-4, atol=1e-5)
    losses_a = torch.tensor([r["loss"] for r in a["history"]["train"]])
    losses_b = torch.tensor([r["loss"] for r in b["history"]["train"]])
    torch.testing.assert_close(losses_b, losses_a, rtol=1e-4, atol=1e-5)


def test_each_process_carries_the_state_of_its_own_streams(runs, text_file, tmp_path):
    _, stopped, _ = runs
    reference = in_process(tmp_path, text_file, time_budget=1e-9)
    assert stopped["state"]["iteration"] == reference["state"]["iteration"] == 1
    assert len(stopped["carried"]) == 2
    for layer, whole in enumerate(reference["carried"]):
        for i, tensor in enumerate(whole):
            halves = [per_rank[layer][i] for per_rank in stopped["carried"]]
            torch.testing.assert_close(torch.cat(halves, dim=-2), tensor, rtol=1e-4, atol=1e-5)


def test_only_the_first_process_prints_and_writes(runs):
    root, _, resumed = runs
    assert resumed.stdout.count("final test") == 1
    assert resumed.stdout.count("resuming from") == 1
    assert {p.name for p in (root / "two").iterdir()} >= {"checkpoint.pt", "log.json", "loss.png"}


def test_resume_with_another_number_of_processes_is_refused(runs, text_file):
    root, _, _ = runs
    config = TrainConfig(data=str(text_file), out_dir=str(root / "two"), resume=True,
                         progress=False)  # fmt: skip
    with pytest.raises(
        CheckpointError, match=r"written by 2 process\(es\); resume it with as many, not 1"
    ):
        train_language_model(config, echo=lambda line: None)


def test_batch_must_divide_among_the_processes(monkeypatch, text_file, tmp_path):
    monkeypatch.setattr(Processes, "from_env", classmethod(lambda cls, device: cls(0, 3, device)))
    config = TrainConfig(data=str(text_file), out_dir=str(tmp_path), batch_size=4, progress=False)
    with pytest.raises(ConfigError, match="--batch-size 4 must be a multiple of the 3 processes"):
        train_language_model(config, echo=lambda line: None)


def test_one_process_is_not_distributed():
    procs = Processes.from_env("cpu")
    assert not procs.distributed and procs.is_main
    assert procs.shard(6) == slice(0, 6) and procs.agree_stop("SIGINT") == "SIGINT"
    assert procs.mean(2.5) == 2.5
    assert procs.gather([torch.ones(2)])[0][0].tolist() == [1.0, 1.0]
    model = torch.nn.Linear(2, 2)
    assert procs.wrap(model) is model


def test_ram_trains_under_torchrun(tmp_path):
    rng = np.random.default_rng(0)
    data = tmp_path / "mnist"
    data.mkdir()
    for split, n in (("train", 24), ("test", 6)):
        write_idx(data / FILES[split][0], rng.integers(0, 256, (n, 28, 28), dtype=np.uint8))
        write_idx(data / FILES[split][1], (np.arange(n) % 10).astype(np.uint8))
    flags = ["--data-dir", str(data), "--out-dir", str(tmp_path / "run"), "--hidden-size", "16",
             "--glimpse-hidden", "8", "--locator-hidden", "8", "--image-hidden", "16",
             "--n-glimpses", "2", "--batch-size", "6", "--valid-size", "6", "--max-epochs", "2",
             "--no-progress"]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2",
           "-m", "rnnkit", "ram", *flags]  # fmt: skip
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, failure(result)
    assert result.stdout.count("test error") == 1  # only the first process reports
    ckpt = load_ram_checkpoint(tmp_path / "run" / "checkpoint.pt")
    assert ckpt["world_size"] == 2 and len(ckpt["rng"]) == 2
    assert ckpt["state"]["iteration"] == 6  # 18 images / 6 per batch, 2 epochs
    assert [h["epoch"] for h in ckpt["history"]["valid"]] == [1, 2]
    config = RAMConfig(**{**ckpt["config"], "resume": True, "progress": False})
    with pytest.raises(CheckpointError, match=r"written by 2 process\(es\)"):
        train_ram(config, echo=lambda line: None)
