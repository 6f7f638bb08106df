"""Reading, splitting and atomically writing text corpora.

Replaces the file handling of torch-rnn's ``scripts/preprocess.py`` (read the whole input,
split it **in file order** into train / valid / test with ``int(frac * total)`` items for
the two held-out splits) with char-rnn's usual 90/5/5 fractions as the default. Text is
decoded as strict UTF-8 and kept as a ``str``, i.e. a sequence of Unicode code points, so a
character outside the BMP is never split into surrogate halves (torch-rnn issue #29).
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TypeVar, cast

from .errors import DataError

S = TypeVar("S", bound=Sequence)


def read_text(path: str | os.PathLike) -> str:
    """The contents of a UTF-8 text file (a leading byte-order mark is dropped).

    Raises:
        DataError: naming the file, when it does not exist, is a directory, cannot be read,
            is empty, contains NUL bytes or is not valid UTF-8.
    """
    p = Path(path)
    if not p.exists():
        raise DataError(f"{p}: no such file")
    if p.is_dir():
        raise DataError(f"{p}: is a directory, expected a UTF-8 text file")
    try:
        data = p.read_bytes()
    except OSError as e:
        raise DataError(f"{p}: cannot be read ({e.strerror or e})") from e
    if not data:
        raise DataError(f"{p}: is empty, expected UTF-8 text")
    if b"\0" in data:
        raise DataError(f"{p}: is a binary file (contains NUL bytes), expected UTF-8 text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        bad = data[e.start : e.start + 1].hex()
        raise DataError(
            f"{p}: is not valid UTF-8 text (byte 0x{bad} at offset {e.start}); is it a binary file?"
        ) from None


def split_sizes(
    total: int, valid_frac: float = 0.05, test_frac: float = 0.05, unit: str = "characters"
) -> tuple[int, int, int]:
    """Sizes ``(n_train, n_valid, n_test)`` of a file-order split of ``total`` items.

    ``n_valid = int(valid_frac * total)`` and ``n_test = int(test_frac * total)`` as in
    torch-rnn; train gets the rest. A fraction of 0 asks for an empty split; any other
    split that would come out empty raises ``DataError``.

    Example:
        >>> split_sizes(1000)
        (900, 50, 50)
    """
    for name, frac in (("valid_frac", valid_frac), ("test_frac", test_frac)):
        if not 0.0 <= frac < 1.0:
            raise ValueError(f"split_text: expected {name} in [0, 1), got {frac}")
    if valid_frac + test_frac >= 1.0:
        raise ValueError(
            f"split_text: expected valid_frac + test_frac < 1, got {valid_frac} + {test_frac}"
        )
    n_valid, n_test = int(valid_frac * total), int(test_frac * total)
    n_train = total - n_valid - n_test
    if n_train < 1 or (valid_frac > 0 and n_valid < 1) or (test_frac > 0 and n_test < 1):
        need = max([3] + [math.ceil(1.0 / f) for f in (valid_frac, test_frac) if f > 0])
        raise DataError(
            f"text of {total} {unit} is too short to split with valid_frac={valid_frac} and "
            f"test_frac={test_frac} (each split needs at least one; about {need} {unit} are "
            f"needed)"
        )
    return n_train, n_valid, n_test


def split_text(text: S, valid_frac: float = 0.05, test_frac: float = 0.05) -> tuple[S, S, S]:
    """Split ``text`` (or any sequence, e.g. a list of lines) into train, valid, test in file order.

    Example:
        >>> split_text("abcdefghijklmnopqrst")
        ('abcdefghijklmnopqr', 's', 't')
    """
    n_train, n_valid, _ = split_sizes(len(text), valid_frac, test_frac)
    parts = text[:n_train], text[n_train : n_train + n_valid], text[n_train + n_valid :]
    return cast(tuple[S, S, S], parts)  # a slice of a str, list or array has its type


def usual_mode(fd: int) -> None:
    """Give a ``mkstemp`` file (mode 0600) the mode a plain ``open`` would: 0666 minus the umask."""
    mask = os.umask(0o022)
    os.umask(mask)
    os.fchmod(fd, 0o666 & ~mask)


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and ``os.replace``.

    A reader never sees a half-written file, and a crash leaves the old file (if any) intact.
    """
    p = Path(path)
    fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=f".{p.name}.", suffix=".tmp")
    usual_mode(fd)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, p)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
