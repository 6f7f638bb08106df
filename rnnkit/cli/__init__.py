"""The ``rnnkit`` command line: ``preprocess``, ``train``, ``sample``, ``evaluate``, ``ram``.

Argument parsing and wiring only; the work is done by :mod:`rnnkit.training` and
:mod:`rnnkit.data`. Exit statuses:

- 0: done (also when stopped by the time budget or early stopping);
- 2: a bad command line, bad data, an out-dir that cannot be used, a damaged checkpoint:
  one line ``rnnkit: error: …``, before anything is written, never a traceback;
- 3: training stopped because a loss or gradient was not finite (the last good checkpoint
  is kept; log.json and the plots are written);
- 130: interrupted (Ctrl-C or SIGTERM), at any moment: without a traceback; during
  training after saving a checkpoint to resume from.
"""

from __future__ import annotations

import argparse
import re
import signal
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:  # the command line imports the training machinery only when a command runs
    from ..training.task import Task

EXIT_ERROR, EXIT_NONFINITE, EXIT_INTERRUPTED = 2, 3, 130


class UsageError(Exception):
    """A command line argparse refused (the message names the command and the flag)."""


class Parser(argparse.ArgumentParser):
    """argparse, but a bad command line is one line ``rnnkit: error: COMMAND: …``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)  # --resume --learn 0.1 must say what it means
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        found = re.match(r"argument [^:]+: (--\S+ .*)", message)
        message = found.group(1) if found else message
        command = self.prog.split()[-1] if self.prog != "rnnkit" else None
        raise UsageError(f"{command}: {message}" if command else message)


def build_parser() -> argparse.ArgumentParser:
    from . import evaluate, preprocess, ram, sample, train

    parser = Parser(
        prog="rnnkit",
        description="Train, sample and evaluate recurrent language models; train the recurrent "
        "attention model. Exit status: 0 done, 2 bad input (one line, nothing written), 3 "
        "training stopped on a non-finite loss or gradient, 130 interrupted.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (preprocess, train, sample, evaluate, ram):
        module.add_parser(sub)
    return parser


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def guarded(work: Callable[[], int]) -> int:
    """Run ``work()`` under the command line's rules: expected errors are one line and exit
    status 2, Ctrl-C and SIGTERM exit 130 without a traceback. Returns the exit status."""
    try:
        old = signal.signal(signal.SIGTERM, _interrupt)
    except ValueError:  # not the main thread
        old = None
    try:
        # Imports happen in here, so that Ctrl-C while they load ends like any other interrupt.
        from ..data import DataError
        from ..training.checkpoint import CheckpointError
        from ..training.checks import ConfigError

        expected = (DataError, ConfigError, CheckpointError, UsageError, FileNotFoundError,
                    IsADirectoryError, NotADirectoryError, PermissionError)  # fmt: skip
        try:
            return int(work() or 0)
        except SystemExit as e:  # --help
            return e.code if isinstance(e.code, int) else (0 if e.code is None else EXIT_ERROR)
        except expected as e:
            print(f"rnnkit: error: {e}", file=sys.stderr)
            return EXIT_ERROR
    except KeyboardInterrupt:
        print("rnnkit: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        if old is not None:
            signal.signal(signal.SIGTERM, old)


def main(argv: list[str] | None = None) -> int:
    def work() -> int:
        args, extra = build_parser().parse_known_args(argv)
        if extra:
            raise UsageError(f"{args.command}: unrecognized arguments: {' '.join(extra)}")
        return args.run(args)

    return guarded(work)


def task_main(config_cls: type, task_cls: type[Task], argv: list[str] | None = None, *, prog: str,
              description: str = "") -> int:  # fmt: skip
    """A whole command line for any task: flags from ``config_cls``, checked as parsed, then
    ``Trainer(task_cls(config)).fit()``, with the exit statuses of ``rnnkit train``."""

    def work() -> int:
        from ..training.trainer import Trainer
        from .config import DefaultsFormatter, add_config_flags, config_from_args, given_flags
        from .train import exit_status

        parser = Parser(prog=prog, description=description,
                        formatter_class=DefaultsFormatter)  # fmt: skip
        add_config_flags(parser, config_cls)
        args = parser.parse_args(argv)
        task = task_cls(config_from_args(config_cls, args))
        return exit_status(Trainer(task, given=given_flags(args)).fit())

    return guarded(work)
