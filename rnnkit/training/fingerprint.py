"""Data recognised by content: the SHA-256 of the files behind a data option.

A run stores, for each data option (``--data``, ``--data-dir``), its resolved path and the
size, modification time and SHA-256 of the files it reads. ``--resume`` and ``evaluate``
then find the data wherever it is: the same content at another path (or the same path
typed another way) is the same data; other content is refused. A file whose path, size and
modification time are unchanged is not hashed again.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from . import progress as _progress

BLOCK = 1 << 20


def sha256(path: Path, show: bool = False) -> str:
    h = hashlib.sha256()
    size = path.stat().st_size
    b = _progress.bar(show and size > 64 * BLOCK, size, f"checksum of {path.name}", "B",
                      unit_scale=True)  # fmt: skip
    with open(path, "rb") as f:
        while block := f.read(BLOCK):
            h.update(block)
            if b is not None:
                b.update(len(block))
    if b is not None:
        b.close()
    return h.hexdigest()


def fingerprint(
    paths: list[Path], known: list[dict] | None = None, show: bool = False
) -> list[dict]:
    """``[{"path", "size", "mtime_ns", "sha256"}]`` of ``paths`` (those that exist).

    The SHA-256 of an entry of ``known`` with the same path, size and modification time is
    reused instead of reading the file again.
    """
    reuse = {(k["path"], k["size"], k["mtime_ns"]): k["sha256"] for k in known or ()}
    out = []
    for p in paths:
        p = Path(p).resolve()
        if not p.is_file():
            continue
        st = p.stat()
        key = (str(p), st.st_size, st.st_mtime_ns)
        digest = reuse.get(key) or sha256(p, show)
        out.append({"path": key[0], "size": key[1], "mtime_ns": key[2], "sha256": digest})
    return out


def same_content(a: list[dict], b: list[dict]) -> bool:
    """The two fingerprints are of the same bytes, file for file (paths may differ)."""
    return [e["sha256"] for e in a] == [e["sha256"] for e in b]


def resolved(path: str | os.PathLike | None) -> str | None:
    """``path`` made absolute (symbolic links resolved), as a run stores it."""
    return None if path is None else str(Path(path).expanduser().resolve())
