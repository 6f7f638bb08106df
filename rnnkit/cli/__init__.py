"""The ``rnnkit`` command line: ``preprocess``, ``train``, ``sample``, ``evaluate``, ``ram``.

Argument parsing and wiring only; the work is done by :mod:`rnnkit.training` and
:mod:`rnnkit.data`. Expected failures (bad data, bad options, a damaged checkpoint) end
with a one-line ``rnnkit: error: …`` and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys

from ..data import DataError
from ..training.checkpoint import CheckpointError
from ..training.lm_trainer import ConfigError
from . import evaluate, preprocess, ram, sample, train

COMMANDS = {
    "preprocess": preprocess,
    "train": train,
    "sample": sample,
    "evaluate": evaluate,
    "ram": ram,
}
EXPECTED_ERRORS = (DataError, ConfigError, CheckpointError, FileNotFoundError, IsADirectoryError)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rnnkit",
        description="Train, sample and evaluate recurrent language models; train the recurrent attention model.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMANDS.values():
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except EXPECTED_ERRORS as e:
        print(f"rnnkit: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rnnkit: interrupted", file=sys.stderr)
        return 130
