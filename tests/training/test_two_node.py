"""TWO-NODE TEST: ``rnnkit train`` as a two-machine ``torchrun`` job, both "machines" this one.

Two ``torchrun`` launches (``--nnodes 2 --nproc-per-node 1 --node-rank 0/1``) meet at
127.0.0.1 on a free port, with gloo, exactly as two hosts would meet at the first one's
address (docs/distributed.md). The job must train what one process trains on the same
global batch: the same parameters, to float rounding.
"""

import os
import random
import socket
import subprocess
import sys

import pytest
import torch
import torch.distributed as dist

from rnnkit.training.checkpoint import load_checkpoint
from rnnkit.training.config import TrainConfig
from rnnkit.training.lm_trainer import train_language_model

pytestmark = pytest.mark.skipif(
    not (dist.is_available() and dist.is_gloo_available()),
    reason="torch.distributed with the gloo backend is not available in this torch build",
)

WORDS = "the cat sat on a mat and a dog ran far away from it".split()
# the global batch: 4 streams, 2 per node; one epoch of 8-step chunks
SETTINGS = dict(rnn_size=12, wordvec_size=6, num_layers=1, seq_length=8, batch_size=4,
                max_epochs=1, sample_length=0, dropout=0.0, checkpoint_every=0)  # fmt: skip
FLAGS = [part for key, value in SETTINGS.items()
         for part in (f"--{key.replace('_', '-')}", str(value))] + ["--no-progress"]  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch_node(node_rank: int, port: int, data, out_dir, log) -> subprocess.Popen:
    """One "machine" of the job: ``torchrun`` with one training process on it, output to ``log``
    (a file, not a pipe: a node blocked on a full pipe would stall the other at a barrier)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for name in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(name, None)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "2",
           "--nproc-per-node", "1", "--node-rank", str(node_rank),
           "--master-addr", "127.0.0.1", "--master-port", str(port),
           "-m", "rnnkit", "train", "--data", str(data), "--out-dir", str(out_dir),
           *FLAGS]  # fmt: skip
    with open(log, "w") as out:
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)


@pytest.fixture(scope="module")
def text_file(tmp_path_factory):
    rng = random.Random(0)
    lines = (" ".join(rng.choice(WORDS) for _ in range(8)) for _ in range(30))
    path = tmp_path_factory.mktemp("data") / "text.txt"
    path.write_text("".join(line + "\n" for line in lines))
    return path


def test_two_node_job_trains_what_one_process_trains(text_file, tmp_path):
    port = free_port()
    logs = [tmp_path / f"node{rank}.log" for rank in (0, 1)]
    nodes = [launch_node(rank, port, text_file, tmp_path / "two", logs[rank]) for rank in (0, 1)]
    try:
        # the reference, one process on the whole batch, trained while the nodes start up
        config = TrainConfig(data=str(text_file), out_dir=str(tmp_path / "one"), progress=False,
                             **SETTINGS)  # fmt: skip
        train_language_model(config, echo=lambda line: None)
        codes = [node.wait(timeout=120) for node in nodes]
    finally:
        for node in nodes:
            if node.poll() is None:
                node.kill()
    output = [log.read_text() for log in logs]
    for rank, code in enumerate(codes):
        assert code == 0, f"node {rank} failed:\n{output[rank][:3000]}\n…\n{output[rank][-1500:]}"
    assert output[0].count("final test") == 1 and "final test" not in output[1]

    one = load_checkpoint(tmp_path / "one" / "checkpoint.pt")
    two = load_checkpoint(tmp_path / "two" / "checkpoint.pt")
    assert two["world_size"] == 2 and len(two["carried"]) == 2
    assert one["state"]["iteration"] == two["state"]["iteration"] > 5
    assert one["model"].keys() == two["model"].keys()
    for key, value in one["model"].items():  # averaged gradients = the global batch's mean loss
        torch.testing.assert_close(two["model"][key], value, rtol=0, atol=1e-6)
