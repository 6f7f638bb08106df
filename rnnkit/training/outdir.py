"""The run's folder: checked before any work, never replaced silently, cleaned of dead writes.

:func:`check_out_dir` runs before data is read or a model is built, so a folder that cannot
be written, or that holds another run, is found out at once rather than after the whole
time budget; it writes nothing. :func:`prepare_out_dir` runs once training is certain to
start: it removes what killed writes left behind and, with ``--overwrite``, the old run.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from .checkpoint import remove_temp_files
from .checks import ConfigError

RUN_FILES = ("checkpoint.pt", "best.pt", "log.json")  # their presence means: a run is here
OUTPUTS = RUN_FILES + ("train.csv", "epochs.csv")  # written atomically by every task


def _nearest_existing(path: Path) -> Path:
    for p in (path, *path.parents):
        if os.path.lexists(p):
            return p
    return Path(".")


def check_writable_dir(command: str, flag: str, folder: str | os.PathLike) -> None:
    """``folder`` is, or can be made, a folder this process can write in (nothing is written)."""
    folder = Path(folder)
    existing = _nearest_existing(folder.absolute())
    if not existing.is_dir():
        what = (
            "is a file"
            if existing == folder.absolute()
            else f"cannot be made: {existing} is a file"
        )
        raise ConfigError(f"{command}: {flag} {folder} {what}, not a folder")
    try:  # os.access is not enough (root, read-only mounts): try a file and remove it
        fd, probe = tempfile.mkstemp(prefix=".rnnkit-write-test-", dir=existing)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise ConfigError(
            f"{command}: {flag} {folder}: cannot write in {existing} ({e.strerror or e})"
        ) from None


def check_out_dir(command: str, out_dir: str | os.PathLike, *, resume: bool, overwrite: bool,
                  run_files: tuple[str, ...] = RUN_FILES) -> None:  # fmt: skip
    """Refuse, with one line, an out-dir that cannot be written or whose run would be replaced."""
    if resume and overwrite:
        raise ConfigError(f"{command}: --resume continues the run in --out-dir, --overwrite "
                          "replaces it: give one of them")  # fmt: skip
    check_writable_dir(command, "--out-dir", out_dir)
    found = [name for name in run_files if (Path(out_dir) / name).exists()]
    if found and not resume and not overwrite:
        raise ConfigError(
            f"{command}: {out_dir} already holds a run ({', '.join(found)}); use --resume to "
            "continue it, or --overwrite to replace it (or another --out-dir)"
        )


def prepare_out_dir(out_dir: str | os.PathLike, *, overwrite: bool,
                    outputs: tuple[str, ...] = OUTPUTS) -> list[Path]:  # fmt: skip
    """Make ``out_dir``; remove dead temporary files (and the old run with ``overwrite``).

    Returns what was removed. Dead temporary files are those of atomic writes (``.NAME.*.tmp``)
    and the staging folders of a corpus being prepared (``.corpus-*``) that a killed run left.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    removed = remove_temp_files(out_dir, outputs)
    for staging in out_dir.glob(".corpus-*"):
        if staging.is_dir():
            shutil.rmtree(staging, ignore_errors=True)
            removed.append(staging)
    if overwrite:
        for name in outputs:
            if (out_dir / name).is_file():
                (out_dir / name).unlink()
                removed.append(out_dir / name)
    return removed
