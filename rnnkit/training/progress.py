"""Progress shown wherever a user waits: training epochs, loading, checksums, evaluation.

Bars go to stderr through tqdm (the ``[cli]`` extra) and only when stderr is a terminal, so
logs and captured output stay clean; without tqdm nothing is shown.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

_T = TypeVar("_T")


def bar(
    enabled: bool, total: int | None, desc: str, unit: str = "it", initial: int = 0, **kw: Any
) -> Any:
    """A tqdm bar, or ``None`` when disabled or tqdm is missing. ``total=None``: no end known."""
    if not enabled:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, initial=initial, desc=desc, unit=unit, leave=False,
                dynamic_ncols=True, disable=None, **kw)  # fmt: skip


@contextlib.contextmanager
def status(enabled: bool, desc: str) -> Iterator[None]:
    """A line that shows ``desc`` while work of unknown length runs (removed when it ends)."""
    b = bar(enabled, None, desc, bar_format="{desc} …")
    try:
        yield
    finally:
        if b is not None:
            b.close()


def iterate(
    enabled: bool, items: Iterable[_T], total: int | None, desc: str, unit: str = "it"
) -> Iterator[_T]:
    """``items``, advancing a bar of ``total`` steps as they are consumed."""
    b = bar(enabled, total, desc, unit)
    if b is None:
        yield from items
        return
    try:
        for item in items:
            yield item
            b.update(1)
    finally:
        b.close()
