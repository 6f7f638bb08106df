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

EXIT_ERROR, EXIT_NONFINITE, EXIT_INTERRUPTED = 2, 3, 130


class UsageError(Exception):
    """A command line argparse refused (the message names the command and the flag)."""


class Parser(argparse.ArgumentParser):
    """argparse, but a bad command line is one line ``rnnkit: error: COMMAND: …``."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("allow_abbrev", False)  # --resume --learn 0.1 must say what it means
        super().__init__(*args, **kwargs)

    def error(self, message: str):
        found = re.match(r"argument [^:]+: (--\S+ .*)", message)
        message = found.group(1) if found else message
        command = self.prog.split()[-1] if " " in self.prog else None
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


def main(argv: list[str] | None = None) -> int:
    # Imports happen inside, so that Ctrl-C while they load ends like any other interrupt.
    try:
        old = signal.signal(signal.SIGTERM, _interrupt)
    except ValueError:  # not the main thread
        old = None
    try:
        from ..data import DataError
        from ..training.checkpoint import CheckpointError
        from ..training.checks import ConfigError

        expected = (DataError, ConfigError, CheckpointError, UsageError, FileNotFoundError,
                    IsADirectoryError, NotADirectoryError, PermissionError)  # fmt: skip
        try:
            args = build_parser().parse_args(argv)
            return int(args.run(args) or 0)
        except SystemExit as e:  # --help, --version
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
