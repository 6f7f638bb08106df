"""Validation of training options: one rule per kind of value, one message format for all.

Each configuration field names its rule in its metadata (``_opt(..., check=POSITIVE_INT)``);
:func:`check_config` applies them to a whole configuration (the Python API), and the command
line applies the same rules to each flag as it is parsed. Messages name the command, the
flag, what it expects and what it got: ``train: --rnn-size must be a positive integer, got 0``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any


class ConfigError(ValueError):
    """A configuration that cannot work (a bad value, or one that does not fit the data)."""


@dataclass(frozen=True)
class Check:
    """A rule for one value: ``test(value)`` is true for good values; ``expected`` says which."""

    test: Callable[[Any], bool]
    expected: str


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_real(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


POSITIVE_INT = Check(lambda v: _is_int(v) and v >= 1, "a positive integer")
NONNEG_INT = Check(lambda v: _is_int(v) and v >= 0, "an integer >= 0")
FINITE = Check(_is_real, "a finite number")
POSITIVE = Check(lambda v: _is_real(v) and v > 0, "a finite number > 0")
NONNEG = Check(lambda v: _is_real(v) and v >= 0, "a finite number >= 0")
FRACTION = Check(lambda v: _is_real(v) and 0 <= v < 1, "a number in [0, 1)")


def check_value(
    command: str, flag: str, value: Any, check: Check | None, choices: Collection[Any] | None = None
) -> None:
    """Raise :class:`ConfigError` unless ``value`` passes ``check`` and is one of ``choices``."""
    if value is None:
        return
    if choices is not None and value not in choices:
        raise ConfigError(
            f"{command}: {flag} must be one of {', '.join(map(str, choices))}, got {value!r}"
        )
    if check is not None and not check.test(value):
        raise ConfigError(f"{command}: {flag} must be {check.expected}, got {value!r}")


def flag_name(field_name: str) -> str:
    return "--" + field_name.replace("_", "-")


def check_config(config: Any, command: str) -> None:
    """Every field of the dataclass ``config`` against the rule and choices in its metadata."""
    for f in dataclasses.fields(config):
        check_value(command, flag_name(f.name), getattr(config, f.name), f.metadata.get("check"),
                    f.metadata.get("choices"))  # fmt: skip
        if f.metadata.get("device"):
            check_device(command, flag_name(f.name), getattr(config, f.name))


def check_device(command: str, flag: str, device: Any) -> None:
    """``device`` names a device this machine has (``cpu``, ``cuda``, ``cuda:1``, ``mps`` …)."""
    import torch

    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise ConfigError(
            f"{command}: {flag} must be a torch device such as cpu, cuda or cuda:1, got {device!r}"
        ) from None
    if dev.type == "cpu":
        return
    backend = getattr(torch, dev.type, None)
    if dev.type == "mps":
        backend = getattr(torch.backends, "mps", None)
    available = backend is not None and hasattr(backend, "is_available") and backend.is_available()
    if not available:
        raise ConfigError(f"{command}: {flag} {device}: this machine has no {dev.type} device")
    count = getattr(backend, "device_count", lambda: 1)()
    if dev.index is not None and dev.index >= count:
        raise ConfigError(
            f"{command}: {flag} {device}: this machine has {count} {dev.type} device(s)"
        )


TEMPERATURE = Check(NONNEG.test, "a finite number >= 0 (0: the most likely token)")
TOP_P = Check(lambda v: _is_real(v) and 0 < v <= 1, "a number in (0, 1] (1: off)")
