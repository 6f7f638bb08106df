"""The task protocol: what one kind of training adds to :class:`~rnnkit.training.trainer.Trainer`.

The trainer owns what every training needs (seeding, resume, optimiser and schedule,
clipping, progress, checkpoints, the best model, early stopping, the time budget, several
processes, non-finite values, logs); a task says what differs: the data, the model, the
batches and their loss, the validation score, what else a checkpoint holds, and the final
report. Subclass :class:`Task`, set its class attributes and implement the methods that
raise ``NotImplementedError``; the others have defaults that do nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Generic, TypeVar

import torch
from torch import nn

_M = TypeVar("_M", bound=nn.Module)  # the kind of model a task trains


class Task(Generic[_M]):
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

    def __init__(self, config: Any) -> None:
        self.config = config
        self.model_config: dict = {}
        # set by the trainer before any other call: this process's place among the processes
        self.procs: Any = None

    # -- before any work -------------------------------------------------------------
    def check(self) -> None:
        """Checks across options (each option's own rule is checked by the trainer)."""

    def data_files(self, config: Any) -> dict[str, list[Path]]:
        """Per data option (a field name), the files whose content identifies the data."""
        return {}

    def time_budget(self) -> float:
        """Seconds of training this invocation may take (0: no limit)."""
        return self.config.time_budget or 0.0

    # -- set-up ----------------------------------------------------------------------
    def setup(self, ckpt: dict | None) -> str:
        """Load the data (``ckpt``: the checkpoint resumed from); return a one-line description."""
        raise NotImplementedError

    def build_model(self, device: str) -> _M:
        """The model, initialised (the RNGs are seeded); set ``self.model_config``."""
        raise NotImplementedError

    # -- training --------------------------------------------------------------------
    def n_batches(self) -> int:
        """Batches per epoch."""
        raise NotImplementedError

    def batches(self, epoch: int, start: int) -> Iterable:
        """The batches of ``epoch`` from number ``start`` on (the same after a resume)."""
        raise NotImplementedError

    def start_epoch(self, model: _M, epoch: int, start: int) -> None:
        """Called before the batches of an epoch (or the rest of one, ``start > 0``)."""
        model.train()

    def train_step(self, model: _M, batch: Any) -> tuple[torch.Tensor, dict[str, float]]:
        """``(loss, stats)`` of ``batch`` with ``model`` (wrapped for several processes).

        ``stats`` holds sums over this process's share of the batch, e.g. ``{"nll": …,
        "error": …, "n": …}``: the trainer adds them over the processes and reports
        ``sum / n`` per iteration and per epoch (``n`` defaults to 1 per process).
        """
        raise NotImplementedError

    def undo_step(self, model: _M) -> None:
        """Undo what a skipped (non-finite) batch changed besides the weights."""

    def after_update(self, model: _M) -> None:
        """Called after each optimiser step (e.g. a max-norm constraint)."""

    def batch_items(self, batch: Any) -> int:
        """How many items (tokens, images) this process's share of ``batch`` holds."""
        return 1

    # -- epoch ends and checkpoints ----------------------------------------------------
    def evaluate(self, model: _M) -> dict:
        """The validation metrics after an epoch; ``self.monitor`` must be among them."""
        raise NotImplementedError

    def describe_epoch(self, record: dict) -> str:
        """The line printed after an epoch (``record``: the epoch's history entry)."""
        return (f"epoch {record['epoch']}: train loss {record['train_loss']:.4f}, {self.monitor} "
                f"{record[self.monitor]:.4g} (lr {record['lr']:.4g})")  # fmt: skip

    def state_entries(self, model: _M) -> dict[str, Any]:
        """What else a checkpoint holds (called in every process: it may gather)."""
        return {}

    def restore(self, model: _M, ckpt: dict) -> None:
        """Restore what :meth:`state_entries` stored (the weights are already loaded)."""

    # -- the end ---------------------------------------------------------------------
    def final_report(self, model: _M, summary: dict, echo: Callable[[str], None]) -> dict:
        """Final metrics (test split, a sample …) to add to the summary; printed with ``echo``."""
        return {}

    def plots(self, model: _M | None, history: dict, summary: dict) -> list[Path | None]:
        """Write the plots (``model`` is ``None`` when its weights are not finite).

        The paths written; ``None`` for a plot not drawn (matplotlib is not installed).
        """
        return []
