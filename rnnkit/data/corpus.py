"""Corpus: a vocabulary and train / valid / test token arrays, built from text by streaming.

Replaces torch-rnn's ``scripts/preprocess.py`` (which held the whole text and an int64
copy of it in memory and wrote an HDF5 file) with three passes over the text in blocks:
a cheap check that counts characters or lines (to place the split points), a pass over the
training split that counts tokens (the vocabulary, :meth:`Vocab.from_counts`), and a pass
that writes every token, in the smallest unsigned integer type that holds the vocabulary
(uint8 up to 256 tokens, uint16 up to 65,536, else uint32), to ``{train,valid,test}.npy``.
Memory stays flat whatever the size of the text; the arrays are read back memory-mapped.
The tokeniser and split rule are :mod:`rnnkit.data.tokenizer`'s.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from .arrays import Writer, check_ids, progress_bar
from .errors import DataError
from .text import write_bytes_atomic
from .tokenizer import TextSource, split_pieces, split_units, tokens
from .vocab import LEVELS, Vocab

if TYPE_CHECKING:
    from .batching import BPTTBatcher

SPLITS = ("train", "valid", "test")
FORMAT, VERSION = "rnnkit.prepared", 2


@dataclass
class Corpus:
    """A tokenised text: its vocabulary and its splits, memory-mapped when read from disk.

    Attributes:
        vocab: the :class:`Vocab`.
        splits: ``{'train', 'valid', 'test'}`` → ``(L,)`` unsigned integer token ids (a
            read-only ``np.memmap`` for a corpus on disk).
        meta: what ``meta.json`` holds: level, source, token counts, ``<unk>`` counts, …
        folder: where the corpus lives, or ``None`` when it is in memory.

    Example:
        >>> c = build_corpus("the cat sat\\nthe cat ran\\n" * 20, "word", valid_frac=0.1, test_frac=0.1)
        >>> c.vocab.tokens, c.splits["train"].dtype
        (['<unk>', '<eos>', 'cat', 'the', 'ran', 'sat'], dtype('uint8'))
        >>> c.vocab.decode(c.splits["test"][:5])
        'the cat sat\\nthe'
    """

    vocab: Vocab
    splits: dict[str, np.ndarray]
    meta: dict[str, Any] = field(default_factory=dict)
    folder: Path | None = None

    def batcher(
        self, split: str = "train", batch_size: int = 1, seq_length: int = 1, **kw: Any
    ) -> BPTTBatcher:
        """A :class:`BPTTBatcher` over one split (reads the memory map, copies nothing)."""
        from .batching import BPTTBatcher

        return BPTTBatcher(self.splits[split], batch_size, seq_length, **kw)

    def __repr__(self) -> str:
        sizes = ", ".join(f"{s}={len(self.splits[s]):,}" for s in SPLITS)
        where = f", folder={str(self.folder)!r}" if self.folder else ""
        return f"Corpus(level={self.vocab.level!r}, vocab={len(self.vocab)}, {sizes}{where})"


def _check_args(command: str, level: str, valid_frac: float, test_frac: float) -> None:
    if level not in LEVELS:
        raise ValueError(f"{command}: expected level 'char' or 'word', got {level!r}")
    for name, frac in (("valid_frac", valid_frac), ("test_frac", test_frac)):
        if not isinstance(frac, (int, float)) or not 0.0 <= frac < 1.0:
            raise ValueError(f"{command}: expected {name} in [0, 1), got {frac!r}")
    if valid_frac + test_frac >= 1.0:
        raise ValueError(
            f"{command}: expected valid_frac + test_frac < 1, got {valid_frac} + {test_frac}"
        )


def _count(source: TextSource, level: str, sizes: tuple[int, int, int], progress: bool) -> dict[str, int]:
    """Token counts of the training split (the vocabulary pass)."""
    bar = progress_bar(progress, source.n_bytes, "counting tokens")
    try:
        pieces = split_pieces(source, level, sizes, bar, stop_after=0)
        if level == "word":
            words: Counter = Counter()
            for _, piece in pieces:
                words.update(tokens(piece, level))
            return dict(words)
        per_cp = np.zeros(0x110000, dtype=np.int64)
        for _, piece in pieces:
            per_cp += np.bincount(tokens(piece, level), minlength=0x110000)
        return {chr(int(c)): int(per_cp[c]) for c in np.flatnonzero(per_cp)}
    finally:
        if bar is not None:
            bar.close()


def build_corpus(
    text_or_path: str | os.PathLike,
    level: str = "char",
    out_dir: str | os.PathLike | None = None,
    *,
    valid_frac: float = 0.05,
    test_frac: float = 0.05,
    min_count: int = 2,
    max_vocab: int | None = None,
    vocab: Vocab | None = None,
    is_path: bool | None = None,
    source: str | None = None,
    progress: bool = False,
    command: str = "build_corpus",
    extra_meta: dict[str, Any] | None = None,
) -> Corpus:
    """Tokenise a text, build its vocabulary and write its splits (streaming: flat memory).

    Args:
        text_or_path: a UTF-8 file (``Path``; a ``str`` that names an existing file) or text.
        level: ``"char"`` or ``"word"`` (see :mod:`rnnkit.data.tokenizer` for the rule).
        out_dir: the folder to write (``vocab.json``, ``{train,valid,test}.npy``,
            ``meta.json`` last); ``None`` keeps the arrays in memory.
        valid_frac, test_frac: held-out fractions, of characters or of lines, in file order.
        min_count, max_vocab: the vocabulary thresholds of :meth:`Vocab.from_counts`,
            counted on the training split only. The default ``min_count=2`` reads words (or
            characters) seen once as ``<unk>`` in training too, so the model learns how
            likely an unseen token is (Good–Turing: about as often as tokens seen once).
        vocab: encode with this vocabulary instead of building one (e.g. a model's).
        is_path: whether ``text_or_path`` is a path (default: guessed, see above).
        source: what ``meta["source"]`` records (default: the resolved path, or ``"<text>"``).
        progress: show a progress bar per pass (needs tqdm) on stderr.
        command: the command or function that error messages name.
        extra_meta: more entries for ``meta.json`` (e.g. what the corpus was built from).

    Raises:
        DataError: naming ``command`` and the file: unreadable, empty, binary, not UTF-8,
            too short to split, nothing left after the thresholds, or a single token type.
    """
    _check_args(command, level, valid_frac, test_frac)
    if is_path is None:
        is_path = isinstance(text_or_path, os.PathLike) or (
            isinstance(text_or_path, str) and "\n" not in text_or_path
            and os.path.isfile(text_or_path)
        )  # fmt: skip
    src = TextSource(text_or_path, is_path=is_path, command=command)
    bar = progress_bar(progress, src.n_bytes, f"checking {src.name}")
    try:
        sizes = split_units(src, level, valid_frac, test_frac, bar)
    finally:
        if bar is not None:
            bar.close()
    if vocab is None:
        vocab = Vocab.from_counts(
            _count(src, level, sizes, progress), level, min_count=min_count,
            max_vocab=max_vocab, command=command,
        )  # fmt: skip
        types = [t for t, c in zip(vocab.tokens, vocab.counts or ()) if c]  # from_counts sets them
        if len(types) < 2:
            raise DataError(
                f"{command}: the training split of {src.name} holds a single {level} type "
                f"({types[0]!r}) after the thresholds: a language model needs two or more "
                f"to choose between"
            )
        built = True
    elif vocab.level != level:
        raise DataError(
            f"{command}: expected a {level}-level vocabulary for {level}-level tokens, got a "
            f"{vocab.level}-level one"
        )
    else:
        built = False

    out = Path(out_dir) if out_dir is not None else None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "meta.json").unlink(missing_ok=True)  # incomplete until meta.json is back
    dtype = vocab.index_dtype
    writers = [Writer(out / f"{s}.npy" if out else None, dtype) for s in SPLITS]
    unk, oov = [0, 0, 0], [0, 0, 0]
    bar = progress_bar(progress, src.n_bytes, "writing tokens")
    try:
        for split, piece in split_pieces(src, level, sizes, bar):
            ids, n_unknown = vocab.lookup(tokens(piece, level))
            oov[split] += n_unknown
            if vocab.unk_index is not None:
                unk[split] += int(np.count_nonzero(ids == vocab.unk_index))
            writers[split].append(ids)
        arrays = [w.finish() for w in writers]
    except BaseException:
        for w in writers:
            w.abort()
        raise
    finally:
        if bar is not None:
            bar.close()
    meta = {
        "format": FORMAT, "version": VERSION, "level": level,
        "source": source or (str(Path(text_or_path).resolve()) if is_path else "<text>"),
        "vocab_size": len(vocab), "dtype": dtype.name,
        "counts": {s: w.n for s, w in zip(SPLITS, writers)},
        "unk_tokens": dict(zip(SPLITS, unk)), "oov_tokens": dict(zip(SPLITS, oov)),
        "split_unit": "characters" if level == "char" else "lines",
        "units": dict(zip(SPLITS, sizes)), "valid_frac": valid_frac, "test_frac": test_frac,
        "vocab_from": "train split" if built else "given",
        "min_count": min_count if built else None, "max_vocab": max_vocab if built else None,
        "bytes": src.n_bytes, **(extra_meta or {}),
    }  # fmt: skip
    if out is None:
        # Writers without a path return their arrays
        return Corpus(vocab, dict(zip(SPLITS, cast(list[np.ndarray], arrays))), meta)
    vocab.save(out / "vocab.json")
    text = json.dumps(meta, ensure_ascii=False, indent=1)
    write_bytes_atomic(out / "meta.json", text.encode("utf-8"))
    return open_corpus(out, command=command)


def open_corpus(folder: str | os.PathLike, *, command: str = "open_corpus") -> Corpus:
    """The corpus written by :func:`build_corpus` (or by an older ``rnnkit preprocess``).

    Splits are read-only memory maps. Folders of format version 1 (int32 arrays) load too.

    Raises:
        DataError: naming the file that is missing, corrupt or inconsistent with meta.json.
    """
    out = Path(folder)
    if not out.is_dir():
        raise DataError(f"{command}: {out}: no such folder (run rnnkit preprocess first)")
    meta_path = out / "meta.json"
    if not meta_path.is_file():
        raise DataError(
            f"{command}: {meta_path}: no such file (the folder is not a complete prepared corpus)"
        )
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        counts = {s: int(meta["counts"][s]) for s in SPLITS}
        version = int(meta.get("version", 1))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise DataError(
            f"{command}: {meta_path}: corrupt metadata ({type(e).__name__}: {e})"
        ) from None
    if meta.get("format") != FORMAT or version > VERSION:
        raise DataError(
            f"{command}: {meta_path}: expected format {FORMAT!r} version <= {VERSION}, got "
            f"{meta.get('format')!r} version {version}; re-run rnnkit preprocess"
        )
    try:
        vocab = Vocab.load(out / "vocab.json")
    except DataError as e:
        raise DataError(f"{command}: {e}") from None
    if vocab.level != meta.get("level") or len(vocab) != meta.get("vocab_size"):
        raise DataError(
            f"{command}: {out / 'vocab.json'}: expected a {meta.get('level')} vocabulary of "
            f"{meta.get('vocab_size')} tokens (meta.json), got {vocab.level} with {len(vocab)}"
        )
    expected = np.dtype(np.int32) if version == 1 else vocab.index_dtype
    splits = {}
    for s in SPLITS:
        p = out / f"{s}.npy"
        if not p.is_file():
            raise DataError(f"{command}: {p}: no such file")
        try:
            ids = np.load(p, mmap_mode="r", allow_pickle=False) if counts[s] else np.load(p)
        except (OSError, ValueError, EOFError) as e:
            raise DataError(
                f"{command}: {p}: corrupt array file ({type(e).__name__}: {e})"
            ) from None
        if ids.dtype != expected or ids.shape != (counts[s],):
            raise DataError(
                f"{command}: {p}: expected {expected} of shape ({counts[s]},) (meta.json), "
                f"got {ids.dtype} of shape {ids.shape}"
            )
        if counts[s]:
            check_ids(p, ids.offset, ids.dtype, counts[s], len(vocab), command)
        splits[s] = ids
    return Corpus(vocab, splits, meta, out)
