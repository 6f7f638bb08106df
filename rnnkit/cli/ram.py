"""``rnnkit ram``: flags generated from :class:`rnnkit.training.ram_trainer.RAMConfig`."""

from __future__ import annotations

import argparse
import dataclasses
import typing

from ..training.ram_trainer import RAMConfig, train_ram

EXIT_INTERRUPTED = 130


def _flag_type(f: dataclasses.Field):
    hint = typing.get_type_hints(RAMConfig)[f.name]
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    return args[0] if args else hint


def add_parser(sub) -> None:
    p = sub.add_parser(
        "ram",
        help="train a Recurrent Attention Model on MNIST",
        description="Train the Recurrent Attention Model (Mnih et al. 2014) on MNIST or "
        "translated MNIST with the original example's defaults; report the test error and "
        "plot the glimpse trajectories.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    for f in dataclasses.fields(RAMConfig):
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
                required=f.name == "data_dir",
                help=f.metadata["help"],
            )
    p.set_defaults(run=run)


def run(args) -> int:
    config = RAMConfig(**{f.name: getattr(args, f.name) for f in dataclasses.fields(RAMConfig)})
    summary = train_ram(config)
    return EXIT_INTERRUPTED if summary.get("interrupted") else 0
