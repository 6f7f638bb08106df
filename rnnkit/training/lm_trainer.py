"""Train a language model without a command line: ``train_language_model(TrainConfig(...))``.

The loop is :class:`~rnnkit.training.trainer.Trainer`'s, the language-model part
:class:`~rnnkit.training.lm_task.LanguageModelTask`'s; the names here are the stable entry
points (the evaluation helpers live in :mod:`rnnkit.training.lm_eval`).
"""

from __future__ import annotations

from collections.abc import Callable

from .checks import ConfigError
from .config import TrainConfig
from .lm_eval import EVAL_LOGITS, describe, evaluate_loss, evaluate_split, metrics
from .lm_task import DEFAULT_CORPUS_BUDGET_S, LanguageModelTask, build_model
from .trainer import Trainer

__all__ = [
    "ConfigError", "DEFAULT_CORPUS_BUDGET_S", "EVAL_LOGITS", "LanguageModelTask",
    "build_model", "describe", "evaluate_loss", "evaluate_split", "metrics",
    "train_language_model",
]  # fmt: skip


def train_language_model(config: TrainConfig, echo: Callable[[str], None] = print,
                         given: set[str] | None = None) -> dict:  # fmt: skip
    """Train (or resume) a language model as ``config`` says; return a summary dict.

    ``given``: the options the caller set (default: those that differ from the defaults);
    with ``resume=True`` they apply or are refused (see :mod:`rnnkit.training.resume`).
    Under ``torchrun`` (several processes) each process trains on its share of the batch's
    streams, ``DistributedDataParallel`` averages the gradients, and the first process
    prints and writes the files; the result equals one process training the whole batch.
    """
    return Trainer(LanguageModelTask(config), echo, given).fit()
