"""``rnnkit train``: flags generated from :class:`rnnkit.training.config.TrainConfig`."""

from __future__ import annotations

import argparse
import dataclasses
import typing

from ..training.config import TrainConfig, config_fields
from ..training.lm_trainer import train_language_model

EXIT_INTERRUPTED = 130


def _flag_type(f: dataclasses.Field):
    hint = typing.get_type_hints(TrainConfig)[f.name]
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    return args[0] if args else hint


def add_parser(sub) -> None:
    p = sub.add_parser(
        "train",
        help="train a character or word language model",
        description="Train a recurrent language model. With no --data/--data-dir it trains a "
        "character LSTM on the Python standard library's own source for a few minutes.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    for f in config_fields():
        flag = "--" + f.name.replace("_", "-")
        kind = _flag_type(f)
        if kind is bool:
            p.add_argument(
                flag,
                action=argparse.BooleanOptionalAction,
                default=f.default,
                help=f.metadata["help"],
            )
        else:
            p.add_argument(
                flag,
                type=kind,
                default=f.default,
                choices=f.metadata.get("choices"),
                help=f.metadata["help"],
            )
    p.set_defaults(run=run)


def run(args) -> int:
    config = TrainConfig(**{f.name: getattr(args, f.name) for f in config_fields()})
    summary = train_language_model(config)
    return EXIT_INTERRUPTED if summary.get("interrupted") else 0
