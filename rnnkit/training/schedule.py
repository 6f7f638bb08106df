"""The optimiser, and the learning-rate schedules applied at each epoch's end (after validation).

- ``step`` (torch-rnn, Zaremba et al.): multiply by ``lr_decay_factor`` after epoch
  ``lr_decay_start`` and every ``lr_decay_every`` epochs from then on. Made for long runs:
  halving every 5 epochs leaves a 150-second run on a small file at 4e-6 by epoch 49.
- ``plateau``: multiply by ``lr_decay_factor`` when ``lr_patience`` epochs in a row brought
  no better validation score, whatever their number: it fits runs of any length.
- ``linear`` (the RAM example, dp's): from ``learning_rate`` at epoch 1 down to ``min_lr``
  at epoch ``saturate_epoch``, then constant.
- ``constant``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

from .sparse_grads import LazyAdam


def make_optimizer(
    config: Any, params: Iterable[nn.Parameter], sparse: Iterable[nn.Parameter] = ()
) -> torch.optim.Optimizer | LazyAdam:
    """Adam, or SGD with dpnn's momentum (the gradient enters the buffer damped by it).

    ``sparse``: the parameters with sparse gradients; with Adam they get ``SparseAdam``
    (:class:`~rnnkit.training.sparse_grads.LazyAdam`), SGD takes them as they are.
    """
    if config.optimizer == "adam":
        if sparse:
            return LazyAdam(params, sparse, lr=config.learning_rate)
        return torch.optim.Adam(params, lr=config.learning_rate)
    return torch.optim.SGD(params, lr=config.learning_rate, momentum=config.momentum,
                           dampening=config.momentum)  # fmt: skip


def linear_lr(lr0: float, min_lr: float, saturate_epoch: int, epoch: int) -> float:
    """dp's linear decay: ``lr0`` at epoch 1, minus ``(lr0 - min_lr) / saturate_epoch`` per epoch."""
    return max(min_lr, lr0 + (min_lr - lr0) * (epoch - 1) / saturate_epoch)


def next_lr(config: Any, state: dict, epoch: int, improved: bool) -> float:
    """The learning rate of epoch ``epoch + 1``, after epoch ``epoch`` ended.

    ``state`` holds ``lr`` (this epoch's) and ``plateau_bad`` (epochs in a row without a
    better validation score, updated here).
    """
    lr, kind = state["lr"], config.lr_schedule
    if kind == "step":
        start, every = config.lr_decay_start, config.lr_decay_every
        if epoch >= start and (epoch - start) % every == 0:
            lr *= config.lr_decay_factor
    elif kind == "plateau":
        state["plateau_bad"] = 0 if improved else state.get("plateau_bad", 0) + 1
        if state["plateau_bad"] >= config.lr_patience:
            lr *= config.lr_decay_factor
            state["plateau_bad"] = 0
    elif kind == "linear":
        lr = linear_lr(config.learning_rate, config.min_lr, config.saturate_epoch, epoch + 1)
    elif kind != "constant":
        raise ValueError(f"unknown learning-rate schedule {kind!r}")
    return lr


def first_lr(config: Any, epoch: int) -> float:
    """The learning rate of ``epoch`` for a run that starts there, or resumes with a new one."""
    if config.lr_schedule == "linear":
        return linear_lr(config.learning_rate, config.min_lr, config.saturate_epoch, epoch)
    return config.learning_rate
