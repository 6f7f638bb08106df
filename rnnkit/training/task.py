"""The task protocol: what one kind of training adds to :class:`~rnnkit.training.trainer.Trainer`.

The trainer owns what every training needs (seeding, resume, optimiser and schedule,
clipping, progress, checkpoints, the best model, early stopping, the time budget, several
processes, non-finite values, logs); a task says what differs: the data, the model, the
batches and their loss, the validation score, what else a checkpoint holds, and the final
report. Subclass :class:`Task`, set its class attributes and implement the methods that
raise ``NotImplementedError``; the others have defaults that do nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch
from torch import nn


class Task:
    """One kind of training. ``self.config`` is its configuration (a ``LoopConfig`` subclass).

    Attributes:
        command: how messages name the command (``train: …``).
        format: the checkpoint's ``"format"`` entry; ``required_keys`` what it must hold.
        kind: how messages name the checkpoint (``"language-model"``).
        monitor: the entry of :meth:`evaluate`'s result that ``best.pt``, ``--early-stop`` and
            the plateau schedule follow (lower is better).
        rate_unit: what the progress bar counts per second (:meth:`batch_items`).
        outputs: the files :meth:`plots` writes in ``out_dir`` (``--overwrite`` removes them).
    """

    command = "train"
    format = "rnnkit-task-1"
    required_keys: tuple[str, ...] = ("format", "model_config", "model", "config")
    kind = "training"
    monitor = "loss"
    rate_unit = "items/s"
    outputs: tuple[str, ...] = ()

    def __init__(self, config) -> None:
        self.config = config
        self.model_config: dict = {}
        self.procs = None  # set by the trainer: this process's place among the processes

    # -- before any work -------------------------------------------------------------
    def check(self) -> None:
        """Checks across options (each option's own rule is checked by the trainer)."""

    def data_files(self, config) -> dict[str, list[Path]]:
        """Per data option (a field name), the files whose content identifies the data."""
        return {}

    def time_budget(self) -> float:
        """Seconds of training this invocation may take (0: no limit)."""
        return self.config.time_budget or 0.0

    # -- set-up ----------------------------------------------------------------------
    def setup(self, ckpt: dict | None) -> str:
        """Load the data (``ckpt``: the checkpoint resumed from); return a one-line description."""
        raise NotImplementedError

    def build_model(self, device: str) -> nn.Module:
        """The model, initialised (the RNGs are seeded); set ``self.model_config``."""
        raise NotImplementedError

    # -- training --------------------------------------------------------------------
    def n_batches(self) -> int:
        """Batches per epoch."""
        raise NotImplementedError

    def batches(self, epoch: int, start: int) -> Iterable:
        """The batches of ``epoch`` from number ``start`` on (the same after a resume)."""
        raise NotImplementedError

    def start_epoch(self, model: nn.Module, epoch: int, start: int) -> None:
        """Called before the batches of an epoch (or the rest of one, ``start > 0``)."""
        model.train()

    def train_step(self, model: nn.Module, batch) -> tuple[torch.Tensor, dict[str, float]]:
        """``(loss, stats)`` of ``batch`` with ``model`` (wrapped for several processes).

        ``stats`` holds sums over this process's share of the batch, e.g. ``{"nll": …,
        "error": …, "n": …}``: the trainer adds them over the processes and reports
        ``sum / n`` per iteration and per epoch (``n`` defaults to 1 per process).
        """
        raise NotImplementedError

    def undo_step(self, model: nn.Module) -> None:
        """Undo what a skipped (non-finite) batch changed besides the weights."""

    def after_update(self, model: nn.Module) -> None:
        """Called after each optimiser step (e.g. a max-norm constraint)."""

    def batch_items(self, batch) -> int:
        """How many items (tokens, images) this process's share of ``batch`` holds."""
        return 1

    # -- epoch ends and checkpoints ----------------------------------------------------
    def evaluate(self, model: nn.Module) -> dict:
        """The validation metrics after an epoch; ``self.monitor`` must be among them."""
        raise NotImplementedError

    def describe_epoch(self, record: dict) -> str:
        """The line printed after an epoch (``record``: the epoch's history entry)."""
        return (f"epoch {record['epoch']}: train loss {record['train_loss']:.4f}, {self.monitor} "
                f"{record[self.monitor]:.4g} (lr {record['lr']:.4g})")  # fmt: skip

    def state_entries(self, model: nn.Module) -> dict[str, Any]:
        """What else a checkpoint holds (called in every process: it may gather)."""
        return {}

    def restore(self, model: nn.Module, ckpt: dict) -> None:
        """Restore what :meth:`state_entries` stored (the weights are already loaded)."""

    # -- the end ---------------------------------------------------------------------
    def final_report(self, model: nn.Module, summary: dict, echo) -> dict:
        """Final metrics (test split, a sample …) to add to the summary; printed with ``echo``."""
        return {}

    def plots(self, model: nn.Module | None, history: dict, summary: dict) -> list[Path]:
        """Write the plots (``model`` is ``None`` when its weights are not finite)."""
        return []
