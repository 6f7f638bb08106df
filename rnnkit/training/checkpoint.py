"""Checkpoints that survive interruption: written atomically, validated when read.

A checkpoint holds everything needed to continue exactly: model and optimiser state, the
resolved configuration, the position in the data (epoch, batch), the loop's state (learning
rate, best score, …), the history, every RNG state and what the task adds (a language
model's vocabulary and carried recurrent state). Every file is written to a temporary
``.NAME.XXXXXXXX.tmp`` in the same folder, then renamed over ``NAME``: a write killed half
way leaves the old file intact and a temporary file that :func:`remove_temp_files` removes.
"""

from __future__ import annotations

import os
import random
import shutil
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch

REQUIRED_KEYS = ("format", "model_config", "model", "vocab", "config")
FORMAT = "rnnkit-lm-1"


class CheckpointError(ValueError):
    """A checkpoint that cannot be read or does not hold what it should."""


def rng_state() -> dict:
    """Every RNG's state, as tensors and plain values (loadable with ``weights_only=True``)."""
    # the legacy tuple form (numpy's default), which numpy's stubs type as tuple | dict
    kind, keys, pos, has_gauss, cached = cast(tuple, np.random.get_state())
    return {
        "torch": torch.get_rng_state(),
        "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, cached],
        "python": random.getstate(),
    }


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    random.setstate(state["python"])


def _write_atomic(path: str | os.PathLike, write: Callable[[Any], None]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def save_atomic(obj: Any, path: str | os.PathLike) -> Path:
    """``torch.save`` to a temporary file in the same folder, then rename over ``path``."""
    return _write_atomic(path, lambda f: torch.save(obj, f))


def write_text_atomic(text: str, path: str | os.PathLike) -> Path:
    """Write ``text`` (UTF-8) to ``path`` through a temporary file and a rename."""
    return _write_atomic(path, lambda f: f.write(text.encode("utf-8")))


def link_atomic(source: str | os.PathLike, path: str | os.PathLike) -> Path:
    """Make ``path`` a copy of ``source`` (a hard link where the file system allows it).

    A checkpoint is always replaced by a rename, never rewritten in place, so a hard link
    keeps the content it had when linked: ``best.pt`` costs no second write.
    """
    source, path = Path(source), Path(path)
    tmp = Path(tempfile.mktemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        try:
            os.link(source, tmp)
        except OSError:  # no hard links here: copy
            shutil.copyfile(source, tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def remove_temp_files(folder: str | os.PathLike, names: tuple[str, ...]) -> list[Path]:
    """Remove the ``.NAME.*.tmp`` files that killed writes of ``NAME`` left in ``folder``."""
    folder = Path(folder)
    removed: list[Path] = []
    if not folder.is_dir():
        return removed
    for name in names:
        for tmp in folder.glob(f".{name}.*.tmp"):
            if tmp.is_file():
                tmp.unlink(missing_ok=True)
                removed.append(tmp)
    return removed


def load_checkpoint(
    path: str | os.PathLike,
    format: str = FORMAT,
    required: tuple[str, ...] = REQUIRED_KEYS,
    kind: str = "language-model",
) -> dict:
    """Read and validate a checkpoint; raise :class:`CheckpointError` with a one-line reason.

    ``format`` is the value its ``"format"`` entry must have, ``required`` the keys it must
    hold, ``kind`` how the error messages name it.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path}: no such file")
    try:
        # weights_only: a checkpoint is data, never code to run. A foreign pickle makes torch
        # warn about its protocol before failing; the one-line error below says it all.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Detected pickle protocol")
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types for a damaged file
        raise CheckpointError(
            f"checkpoint {path} is not a readable rnnkit checkpoint ({type(e).__name__})"
        ) from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != format:
        raise CheckpointError(f"checkpoint {path} is not an rnnkit {kind} checkpoint")
    missing = [k for k in required if k not in ckpt]
    if missing:
        raise CheckpointError(f"checkpoint {path} is incomplete (missing {', '.join(missing)})")
    return ckpt
