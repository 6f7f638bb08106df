"""Issue 11, in real processes: a kill during a checkpoint write, then a resume that cleans up
and continues exactly; Ctrl-C or SIGTERM during start-up exits 130 without a traceback."""

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rnnkit.training.lm_trainer import train_language_model
from tests.training.test_lm_trainer import config, quiet, train_losses, word_text

REPO = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
DIE_IN_THIRD_SAVE = """
import json, os, signal, sys
from rnnkit.training import checkpoint
from rnnkit.training.config import TrainConfig
from rnnkit.training.lm_trainer import train_language_model

real, calls = checkpoint.torch.save, []

def save(obj, f, *args, **kwargs):
    calls.append(1)
    if len(calls) == 3:  # half a checkpoint on disk, then killed: no cleanup code runs
        f.write(b"PK\\x03\\x04 half a checkpoint")
        f.flush()
        os.kill(os.getpid(), signal.SIGKILL)
    real(obj, f, *args, **kwargs)

checkpoint.torch.save = save
train_language_model(TrainConfig(**json.loads(sys.argv[1])), echo=lambda line: None)
"""


def test_issue_11_a_kill_during_a_write_then_a_resume_that_cleans_up(tmp_path):
    data = tmp_path / "text.txt"
    data.write_text(word_text(60))  # as test_lm_trainer's: 25 iterations per epoch
    straight = tmp_path / "straight"
    train_language_model(config(data, straight), echo=quiet)
    out = tmp_path / "run"
    settings = dataclasses.asdict(config(data, out, checkpoint_every=7))
    result = subprocess.run([sys.executable, "-c", DIE_IN_THIRD_SAVE, json.dumps(settings)],
                            cwd=REPO, env=ENV, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert result.returncode == -signal.SIGKILL, result.stderr
    temps = [p.name for p in out.iterdir() if p.name.endswith(".tmp")]
    assert len(temps) == 1 and temps[0].startswith(".checkpoint.pt.")  # what a kill leaves
    (out / ".corpus-deadbeef").mkdir()  # and a corpus being prepared when a run was killed
    train_language_model(config(data, out, resume=True, checkpoint_every=7, time_budget=0),
                         echo=quiet)  # fmt: skip
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp") or p.name.startswith(".")]
    assert train_losses(out) == train_losses(straight)  # resumed from iteration 14, exactly


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_issue_11_an_interrupt_during_start_up_exits_130_without_a_traceback(tmp_path, sig):
    data = tmp_path / "big.txt"
    line = "the quick brown fox jumps over the lazy dog and runs far away\n"
    data.write_text(line * (20_000_000 // len(line)))  # 20 MB: seconds of preparation
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "rnnkit", "train", "--data", str(data), "--out-dir", str(out),
           "--no-progress"]  # fmt: skip
    # A shell's background job (`pytest … &`) starts with SIGINT ignored, which Python and
    # the child inherit (Python then installs no KeyboardInterrupt handler): undo that.
    proc = subprocess.Popen(cmd, cwd=REPO, env=ENV, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not (out.is_dir() and any(p.name.startswith(".corpus-") for p in out.iterdir())):
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
            time.sleep(0.01)
        proc.send_signal(sig)  # while the corpus is being prepared
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, stderr
    assert stderr == "rnnkit: interrupted\n" and "data:" not in stdout
    assert not out.exists()  # the staged corpus is removed, and the folder made for it
