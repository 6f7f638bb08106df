"""Token arrays on disk: a sequential ``.npy`` writer, block-wise checks and counts, progress bars.

The helpers that keep :mod:`rnnkit.data.corpus` in flat memory: arrays are written block by
block through a file (never a writable memory map, whose dirty pages would count in the
resident memory of the process) and checked or counted by reading blocks, never whole.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from .errors import DataError
from .text import usual_mode

_HEADER_BYTES = 128  # a fixed .npy header, rewritten with the final length at the end
BLOCK = 1 << 22


def progress_bar(enabled: bool, total: int, desc: str) -> Any:
    """A tqdm bar of ``total`` bytes, or ``None`` when disabled or tqdm is not installed."""
    if not enabled:
        return None
    try:
        from tqdm import tqdm
    except ImportError:  # tqdm is the [cli] extra: no bar without it
        return None
    # disable=None: no bar when stderr is not a terminal (logs and error output stay clean)
    return tqdm(total=total, desc=desc, unit="B", unit_scale=True, leave=False,
                dynamic_ncols=True, disable=None)  # fmt: skip


class Writer:
    """Appends id blocks to ``(L,)`` arrays: a .npy file written sequentially, or memory."""

    def __init__(self, path: Path | None, dtype: np.dtype) -> None:
        self.path, self.dtype, self.n = path, dtype, 0
        if path is None:
            self.parts: list[np.ndarray] = []
            return
        fd, self.tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        usual_mode(fd)
        self.f = os.fdopen(fd, "wb")
        self.f.write(b"\0" * _HEADER_BYTES)

    def append(self, ids: np.ndarray) -> None:
        ids = ids.astype(self.dtype, copy=False)
        self.n += len(ids)
        if self.path is None:
            self.parts.append(ids)
        else:
            self.f.write(ids.tobytes())

    def finish(self) -> np.ndarray | None:
        if self.path is None:
            return np.concatenate(self.parts) if self.parts else np.zeros(0, self.dtype)
        d = f"{{'descr': '{self.dtype.str}', 'fortran_order': False, 'shape': ({self.n},), }}"
        header = d.ljust(_HEADER_BYTES - 11) + "\n"  # magic 6 + version 2 + length 2 + newline
        self.f.seek(0)
        self.f.write(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode())
        self.f.flush()
        os.fsync(self.f.fileno())
        self.f.close()
        os.replace(self.tmp, self.path)
        return None

    def abort(self) -> None:
        if self.path is not None and not self.f.closed:
            self.f.close()
            Path(self.tmp).unlink(missing_ok=True)


def check_ids(path: Path, offset: int, dtype: np.dtype, n: int, size: int, command: str) -> None:
    """Every id of a .npy file is below ``size``: read in blocks, never mapped (flat memory)."""
    if np.iinfo(dtype).max < size:
        return  # the type cannot hold an id out of range
    with open(path, "rb") as f:
        f.seek(offset)
        for start in range(0, n, BLOCK):
            ids = np.fromfile(f, dtype=dtype, count=min(BLOCK, n - start))
            if ids.size and (ids.min() < 0 or ids.max() >= size):
                raise DataError(f"{command}: {path}: ids outside [0, {size}) of the vocabulary")


def token_counts(ids: np.ndarray, size: int) -> np.ndarray:
    """``(size,)`` int64 counts of every id in ``ids``, read in blocks (for memory maps)."""
    out = np.zeros(size, dtype=np.int64)
    for start in range(0, len(ids), 1 << 24):
        out += np.bincount(np.asarray(ids[start : start + (1 << 24)]), minlength=size)[:size]
    return out
