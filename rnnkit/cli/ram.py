"""``rnnkit ram``: flags generated from :class:`rnnkit.training.ram_trainer.RAMConfig`."""

from __future__ import annotations

import argparse

from ..training.ram_trainer import RAMConfig, train_ram
from .config import DefaultsFormatter, add_config_flags, config_from_args, given_flags
from .train import exit_status


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "ram",
        help="train a Recurrent Attention Model on MNIST",
        description="Train the Recurrent Attention Model (Mnih et al. 2014) on MNIST or "
        "translated MNIST with the original example's defaults; report the test error and "
        "plot the glimpse trajectories. Exit status as `rnnkit train`'s.",
        formatter_class=DefaultsFormatter,
    )
    add_config_flags(p, RAMConfig, required=("data_dir",))
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    return exit_status(train_ram(config_from_args(RAMConfig, args), given=given_flags(args)))
