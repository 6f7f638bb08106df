"""SIGINT/SIGTERM during training: a flag the loop reads, so it can save before it stops."""

from __future__ import annotations

import signal
from types import FrameType


class StopRequest:
    """While active, SIGINT and SIGTERM set :attr:`signal` instead of stopping the process.

    The training loop looks at it after every iteration: it saves a checkpoint and returns.
    Outside (loading, final evaluation) the signals raise ``KeyboardInterrupt`` as usual,
    which the command line turns into exit status 130 without a traceback.
    """

    def __init__(self) -> None:
        self.signal: int | None = None
        self._old: dict = {}

    @property
    def name(self) -> str | None:
        return signal.Signals(self.signal).name if self.signal is not None else None

    def __enter__(self):
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self._old[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread: leave signals alone
                pass
        return self

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.signal = signum

    def __exit__(self, *exc: object) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)
