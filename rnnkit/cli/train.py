"""``rnnkit train``: flags generated from :class:`rnnkit.training.config.TrainConfig`."""

from __future__ import annotations

import argparse

from ..training.config import TrainConfig
from ..training.lm_trainer import train_language_model
from . import EXIT_INTERRUPTED, EXIT_NONFINITE
from .config import DefaultsFormatter, add_config_flags, config_from_args, given_flags


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "train",
        help="train a character or word language model",
        description="Train a recurrent language model. With no --data/--data-dir it trains a "
        "character LSTM on the Python standard library's own source for a few minutes. "
        "Exit status: 0 done, 2 bad input, 3 stopped on a non-finite loss, 130 interrupted.",
        formatter_class=DefaultsFormatter,
    )
    add_config_flags(p, TrainConfig)
    p.set_defaults(run=run)


def exit_status(summary: dict) -> int:
    """130 after an interrupt, 3 after a non-finite loss or gradient, else 0."""
    if summary.get("interrupted"):
        return EXIT_INTERRUPTED
    return EXIT_NONFINITE if summary.get("stopped_by") == "non-finite" else 0


def run(args: argparse.Namespace) -> int:
    config = config_from_args(TrainConfig, args)
    return exit_status(train_language_model(config, given=given_flags(args)))
