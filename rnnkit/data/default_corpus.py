"""The embedded default corpus: the Python standard library's own source files.

char-rnn demonstrated character models on the Linux kernel source; rnnkit's default corpus for
a run with no ``--input`` is, in the same spirit, the ``.py`` files of the standard library of
the Python running it -- real, large, always present and needing no download. It stands in for
the ``data/tiny-shakespeare.txt`` default of torch-rnn's ``scripts/preprocess.py``. The text is
deterministic for a given Python installation: files in sorted path order, each preceded by a
``# file: <relative path>`` header line, cut at ``max_bytes`` UTF-8 bytes.
"""

from __future__ import annotations

import os
import sys
import sysconfig
from pathlib import Path

from .errors import DataError

SKIP_DIRS = frozenset(
    {"site-packages", "dist-packages", "test", "tests", "idlelib", "lib2to3", "__pycache__"}
)


def stdlib_dir() -> Path:
    """The folder of the running Python's standard library."""
    return Path(sysconfig.get_paths()["stdlib"])


def _source_files(root: Path) -> list[str]:
    """Relative POSIX paths of the ``.py`` files under ``root``, skipped folders left out, sorted."""
    found: list[str] = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS and not d.startswith(".")]
        rel = Path(folder).relative_to(root)
        found.extend((rel / f).as_posix() for f in files if f.endswith(".py"))
    return sorted(found)


def _collect(max_bytes: int) -> tuple[str, int, Path]:
    """``(text, number of files used, root)`` of the default corpus."""
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 1:
        raise ValueError(f"default_corpus_text: expected max_bytes >= 1, got {max_bytes!r}")
    root = stdlib_dir()
    if not root.is_dir():
        raise DataError(f"{root}: no such folder (the Python standard library was not found)")
    parts: list[str] = []
    used = n_files = 0
    for rel in _source_files(root):
        try:
            data = (root / rel).read_bytes()
            if b"\0" in data:
                continue
            source = data.decode("utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if not source.strip():
            continue
        piece = f"# file: {rel}\n{source}" + ("" if source.endswith("\n") else "\n")
        raw = piece.encode("utf-8")
        n_files += 1
        if used + len(raw) >= max_bytes:
            # Cut at a character boundary so the result is valid text of <= max_bytes bytes.
            parts.append(raw[: max_bytes - used].decode("utf-8", errors="ignore"))
            break
        parts.append(piece)
        used += len(raw)
    if not n_files:
        raise DataError(f"{root}: no readable UTF-8 .py files found for the default corpus")
    return "".join(parts), n_files, root


def default_corpus_text(max_bytes: int = 2_000_000) -> str:
    """The default corpus: standard-library sources concatenated up to ``max_bytes`` UTF-8 bytes.

    Skips ``site-packages``, ``dist-packages``, ``test``, ``tests``, ``idlelib`` and ``lib2to3``
    folders and any file that is not valid UTF-8.

    Example:
        >>> default_corpus_text(60)[:8]
        '# file: '
    """
    return _collect(max_bytes)[0]


def default_corpus_description(max_bytes: int = 2_000_000) -> str:
    """One line saying where the default corpus comes from and how big it is."""
    text, n_files, root = _collect(max_bytes)
    v = sys.version_info
    return (
        f"Python {v.major}.{v.minor} standard library sources in {root}: {n_files} files, "
        f"{len(text)} characters ({len(text.encode('utf-8'))} bytes, max_bytes={max_bytes})"
    )
