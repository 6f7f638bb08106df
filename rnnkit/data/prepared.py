"""Prepared corpora on disk: ``vocab.json``, ``{train,valid,test}.npy`` and ``meta.json``.

Replaces torch-rnn's ``scripts/preprocess.py`` (an HDF5 file of three index arrays plus a
JSON vocabulary) with plain numpy and UTF-8 JSON files. Splits are in file order as there:
characters at char level (vocabulary of every character of the text, as torch-rnn), lines at
word level (PTB-style words plus ``<eos>``; vocabulary from the training lines with
``<unk>`` for the rest). Every file is written atomically and ``meta.json`` last, so a folder
with a ``meta.json`` is complete.
"""

from __future__ import annotations

import io
import json
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from .errors import DataError
from .ptb import words_from_text
from .text import read_text, split_sizes, split_text, write_bytes_atomic
from .vocab import Vocab

SPLITS = ("train", "valid", "test")
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


def _npy_bytes(ids: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(ids, dtype=np.int32), allow_pickle=False)
    return buf.getvalue()


def prepare_corpus(
    text_or_path: str | os.PathLike,
    level: str = "char",
    out_dir: str | os.PathLike | None = None,
    valid_frac: float = 0.05,
    test_frac: float = 0.05,
    *,
    source: str | None = None,
) -> dict[str, Any]:
    """Encode a corpus and write it to ``out_dir``; returns the metadata also saved as meta.json.

    Args:
        text_or_path: the text itself, or a UTF-8 file (a ``Path``, or a one-line ``str`` that
            names a file or looks like a file name).
        level: ``"char"`` or ``"word"``.
        out_dir: the folder to write (created if needed; required).
        valid_frac, test_frac: held-out fractions (of characters or of lines), in file order.
        source: what to record as the source in meta.json (default: the path, or ``"<text>"``).

    Shape:
        ``train.npy`` / ``valid.npy`` / ``test.npy`` hold ``(L,)`` int32 arrays.
    """
    if out_dir is None:
        raise TypeError("prepare_corpus: out_dir is required")
    if level not in ("char", "word"):
        raise ValueError(f"prepare_corpus: expected level 'char' or 'word', got {level!r}")
    if _is_path(text_or_path):
        text = read_text(text_or_path)
        src = source or str(Path(text_or_path).resolve())
    else:
        text, src = str(text_or_path), source or "<text>"
    if not text:
        raise DataError("prepare_corpus: the text is empty")
    if level == "char":
        vocab = Vocab.from_text(text)
        parts = split_text(text, valid_frac, test_frac)
        ids = dict(zip(SPLITS, (vocab.encode_text(p) for p in parts)))
    else:
        lines = text.split("\n")
        if lines[-1] == "":
            lines.pop()
        n_train, n_valid, _ = split_sizes(len(lines), valid_frac, test_frac, unit="lines")
        chunks = (lines[:n_train], lines[n_train : n_train + n_valid], lines[n_train + n_valid :])
        words = [words_from_text("\n".join(c)) if c else [] for c in chunks]
        vocab = Vocab.from_words(words[0])
        ids = dict(zip(SPLITS, (vocab.encode_words(w) for w in words)))

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    meta_path = out / "meta.json"
    meta_path.unlink(missing_ok=True)  # the folder is incomplete until meta.json is back
    vocab.save(out / "vocab.json")
    for split in SPLITS:
        write_bytes_atomic(out / f"{split}.npy", _npy_bytes(ids[split]))
    meta = {
        "format": "rnnkit.prepared",
        "version": 1,
        "level": level,
        "source": src,
        "vocab_size": len(vocab),
        "counts": {s: int(len(ids[s])) for s in SPLITS},
        "valid_frac": valid_frac,
        "test_frac": test_frac,
    }
    write_bytes_atomic(meta_path, json.dumps(meta, ensure_ascii=False, indent=1).encode("utf-8"))
    return meta


def load_prepared(out_dir: str | os.PathLike) -> tuple[Vocab, dict[str, np.ndarray]]:
    """``(vocab, {'train': ids, 'valid': ids, 'test': ids})`` written by ``prepare_corpus``.

    Raises:
        DataError: naming the file that is missing, corrupt or inconsistent with meta.json.
    """
    out = Path(out_dir)
    if not out.is_dir():
        raise DataError(f"{out}: no such folder (run prepare_corpus / preprocess first)")
    meta_path = out / "meta.json"
    if not meta_path.is_file():
        raise DataError(f"{meta_path}: no such file (the folder is not a complete prepared corpus)")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        counts = {s: int(meta["counts"][s]) for s in SPLITS}
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise DataError(f"{meta_path}: corrupt metadata ({type(e).__name__}: {e})") from None
    vocab = Vocab.load(out / "vocab.json")
    if vocab.level != meta.get("level") or len(vocab) != meta.get("vocab_size"):
        raise DataError(
            f"{out / 'vocab.json'}: expected a {meta.get('level')} vocabulary of "
            f"{meta.get('vocab_size')} tokens (meta.json), got {vocab.level} with {len(vocab)}"
        )
    splits = {}
    for s in SPLITS:
        p = out / f"{s}.npy"
        if not p.is_file():
            raise DataError(f"{p}: no such file")
        try:
            ids = np.load(p, allow_pickle=False)
        except (OSError, ValueError, EOFError) as e:
            raise DataError(f"{p}: corrupt array file ({type(e).__name__}: {e})") from None
        if ids.dtype != np.int32 or ids.shape != (counts[s],):
            raise DataError(
                f"{p}: expected int32 of shape ({counts[s]},) (meta.json), "
                f"got {ids.dtype} of shape {ids.shape}"
            )
        if ids.size and (ids.min() < 0 or ids.max() >= len(vocab)):
            raise DataError(f"{p}: ids outside [0, {len(vocab)}) of the vocabulary")
        splits[s] = ids
    return vocab, splits
