"""``rnnkit train``: flags generated from :class:`rnnkit.training.config.TrainConfig`."""

from __future__ import annotations

import argparse

from ..training.config import TrainConfig
from ..training.lm_trainer import train_language_model
from .config import add_config_flags, config_from_args

EXIT_INTERRUPTED = 130


def add_parser(sub) -> None:
    p = sub.add_parser(
        "train",
        help="train a character or word language model",
        description="Train a recurrent language model. With no --data/--data-dir it trains a "
        "character LSTM on the Python standard library's own source for a few minutes.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add_config_flags(p, TrainConfig)
    p.set_defaults(run=run)


def run(args) -> int:
    summary = train_language_model(config_from_args(TrainConfig, args))
    return EXIT_INTERRUPTED if summary.get("interrupted") else 0
