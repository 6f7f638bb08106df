"""``prepare_corpus`` / ``load_prepared``: the prepared-folder API of earlier rnnkit versions.

Replaces torch-rnn's ``scripts/preprocess.py`` (an HDF5 file of three index arrays plus a
JSON vocabulary). Both are now thin wrappers of :func:`rnnkit.data.build_corpus` and
:func:`rnnkit.data.open_corpus`, which stream the text and memory-map the arrays; a folder
written by an earlier version (int32 arrays, format version 1) still loads.
"""

from __future__ import annotations

import os
import re
from typing import Any

import numpy as np

from .corpus import build_corpus, open_corpus
from .vocab import Vocab

_LOOKS_LIKE_FILE = re.compile(r"\S+\.[A-Za-z0-9]{1,8}")


def _is_path(text_or_path: str | os.PathLike) -> bool:
    """Paths are ``os.PathLike``, or one-line strs naming a file or shaped like a file name."""
    if isinstance(text_or_path, os.PathLike):
        return True
    if not isinstance(text_or_path, str):
        raise TypeError(
            f"prepare_corpus: expected text (str) or a path, got {type(text_or_path).__name__}"
        )
    s = text_or_path
    if "\n" in s or len(s) > 4096 or not s.strip():
        return False
    return os.path.isfile(s) or "/" in s or os.sep in s or bool(_LOOKS_LIKE_FILE.fullmatch(s))


def prepare_corpus(
    text_or_path: str | os.PathLike,
    level: str = "char",
    out_dir: str | os.PathLike | None = None,
    valid_frac: float = 0.05,
    test_frac: float = 0.05,
    *,
    source: str | None = None,
    min_count: int = 2,
    max_vocab: int | None = None,
    progress: bool = False,
    command: str = "prepare_corpus",
) -> dict[str, Any]:
    """Encode a corpus and write it to ``out_dir``; returns the metadata also saved as meta.json.

    Args:
        text_or_path: the text itself, or a UTF-8 file (a ``Path``, or a one-line ``str`` that
            names a file or looks like a file name).
        level: ``"char"`` or ``"word"``.
        out_dir: the folder to write (created if needed; required).
        valid_frac, test_frac: held-out fractions (of characters or of lines), in file order.
        source: what to record as the source in meta.json (default: the path, or ``"<text>"``).
        min_count, max_vocab, progress, command: as for :func:`rnnkit.data.build_corpus`.

    Shape:
        ``train.npy`` / ``valid.npy`` / ``test.npy`` hold ``(L,)`` arrays of the smallest
        unsigned integer type that holds the vocabulary.
    """
    if out_dir is None:
        raise TypeError(f"{command}: out_dir is required")
    corpus = build_corpus(
        text_or_path, level, out_dir, valid_frac=valid_frac, test_frac=test_frac,
        min_count=min_count, max_vocab=max_vocab, is_path=_is_path(text_or_path),
        source=source, progress=progress, command=command,
    )  # fmt: skip
    return corpus.meta


def load_prepared(out_dir: str | os.PathLike) -> tuple[Vocab, dict[str, np.ndarray]]:
    """``(vocab, {'train': ids, 'valid': ids, 'test': ids})`` written by ``prepare_corpus``.

    The id arrays are read-only memory maps.

    Raises:
        DataError: naming the file that is missing, corrupt or inconsistent with meta.json.
    """
    corpus = open_corpus(out_dir, command="load_prepared")
    return corpus.vocab, corpus.splits
