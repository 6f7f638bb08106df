"""``rnnkit ram``: flags generated from :class:`rnnkit.training.ram_trainer.RAMConfig`."""

from __future__ import annotations

import argparse

from ..training.ram_trainer import RAMConfig, train_ram
from .config import add_config_flags, config_from_args
from .train import EXIT_INTERRUPTED


def add_parser(sub) -> None:
    p = sub.add_parser(
        "ram",
        help="train a Recurrent Attention Model on MNIST",
        description="Train the Recurrent Attention Model (Mnih et al. 2014) on MNIST or "
        "translated MNIST with the original example's defaults; report the test error and "
        "plot the glimpse trajectories.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add_config_flags(p, RAMConfig, required=("data_dir",))
    p.set_defaults(run=run)


def run(args) -> int:
    summary = train_ram(config_from_args(RAMConfig, args))
    return EXIT_INTERRUPTED if summary.get("interrupted") else 0
