"""A third training task in one short file: classify sequences with a GRU.

Everything but the data, the model, the loss and the scores comes from
``rnnkit.training.Trainer``: checkpoints, exact resume, best.pt, --early-stop, the time
budget, non-finite checks, the CSV/JSON/TensorBoard logs, torchrun, the command line.
The data is synthetic: each sequence is ``--length`` random tokens and its class is the
first one, so the network must carry it through the whole sequence.

    python examples/sequence_classifier.py --max-epochs 20 --out-dir runs/classifier
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

import rnnkit
from rnnkit.cli import task_main
from rnnkit.training.checks import POSITIVE_INT
from rnnkit.training.loop_config import LoopConfig, _opt
from rnnkit.training.task import Task


@dataclass
class ClassifierConfig(LoopConfig):
    n_classes: int = _opt(4, "classes (also the first tokens that name them)", check=POSITIVE_INT)
    vocab_size: int = _opt(8, "token types", check=POSITIVE_INT)
    length: int = _opt(12, "tokens per sequence", check=POSITIVE_INT)
    n_train: int = _opt(2000, "training sequences", check=POSITIVE_INT)
    n_eval: int = _opt(500, "validation and test sequences, each", check=POSITIVE_INT)
    hidden_size: int = _opt(32, "GRU width", check=POSITIVE_INT)
    batch_size: int = _opt(32, "sequences per batch", check=POSITIVE_INT)
    lr_schedule: str = _opt("constant", "learning-rate schedule", choices=("constant", "plateau"),
                            resume="applies")  # fmt: skip
    max_epochs: int = _opt(20, "number of epochs", check=POSITIVE_INT, resume="applies")
    out_dir: str = _opt("runs/classifier", "where the checkpoints and logs go", resume="invocation")


class Classifier(nn.Module):
    def __init__(self, vocab_size: int, hidden_size: int, n_classes: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, hidden_size)
        self.rnn = rnnkit.SeqGRU(hidden_size, hidden_size)
        self.out = nn.Linear(hidden_size, n_classes)

    def forward(self, tokens):  # (T, N) -> (N, n_classes)
        return self.out(self.rnn(self.embedding(tokens))[-1])


class SequenceClassifierTask(Task):
    command, format, kind = "sequence_classifier", "rnnkit-seqcls-1", "sequence-classifier"
    monitor, rate_unit = "valid_error", "seq/s"

    def setup(self, ckpt) -> str:
        c = self.config
        g = torch.Generator().manual_seed(c.seed)
        n = c.n_train + 2 * c.n_eval
        x = torch.randint(c.vocab_size, (c.length, n), generator=g)
        y = torch.randint(c.n_classes, (n,), generator=g)
        x[0] = y  # the first token names the class
        cut = (c.n_train, c.n_train + c.n_eval)
        self.data = {"train": (x[:, : cut[0]], y[: cut[0]]),
                     "valid": (x[:, cut[0] : cut[1]], y[cut[0] : cut[1]]),
                     "test": (x[:, cut[1] :], y[cut[1] :])}  # fmt: skip
        return f"synthetic sequences of {c.length} tokens, {c.n_classes} classes: {n} in all"

    def build_model(self, device: str) -> nn.Module:
        c, self.device = self.config, device
        self.model_config = {"vocab_size": c.vocab_size, "hidden_size": c.hidden_size,
                             "n_classes": c.n_classes}  # fmt: skip
        return Classifier(**self.model_config).to(device)

    def n_batches(self) -> int:
        return -(-self.config.n_train // self.config.batch_size)

    def batches(self, epoch: int, start: int):
        g = torch.Generator().manual_seed(self.config.seed * 100_003 + epoch)  # resumable order
        order = torch.randperm(self.config.n_train, generator=g)
        for b in range(start, self.n_batches()):
            yield order[b * self.config.batch_size : (b + 1) * self.config.batch_size]

    def train_step(self, model, index):
        index = np.array_split(index, self.procs.world_size)[self.procs.rank]  # this process's
        x, y = self.data["train"][0][:, index].to(self.device), self.data["train"][1][index]
        logits = model(x)
        wrong = int((logits.argmax(1).cpu() != y).sum())
        return F.cross_entropy(logits, y.to(self.device)), {"error": wrong, "n": len(y)}

    @torch.no_grad()
    def error(self, model, split: str) -> float:
        model.eval()
        x, y = self.data[split]
        wrong = int((model(x.to(self.device)).argmax(1).cpu() != y).sum())
        model.train()
        return wrong / len(y)

    def evaluate(self, model) -> dict:
        return {"valid_error": self.error(model, "valid")}

    def final_report(self, model, summary: dict, echo) -> dict:
        test = self.error(model, "test")
        echo(f"final test error {test:.2%}")
        return {"test_error": test}


def main(argv=None) -> int:
    """The command line; returns the exit status of ``rnnkit train`` (0: done)."""
    return task_main(ClassifierConfig, SequenceClassifierTask, argv, prog="sequence_classifier.py",
                     description=__doc__.splitlines()[0])  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
