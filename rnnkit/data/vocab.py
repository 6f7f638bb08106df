"""Vocab: the token <-> index table of a character or word corpus.

Replaces torch-rnn's ``token_to_idx`` / ``idx_to_token`` JSON (``scripts/preprocess.py``) and
the word dictionary of the original rnn package's ``dl.loadPTB``. Indices are 0-based.
:meth:`Vocab.from_counts` is the rule every rnnkit corpus uses: ``<unk>`` (and ``<eos>`` at
word level) first, then the tokens seen at least ``min_count`` times, most frequent first, at
most ``max_vocab`` entries in all; the rest are read as ``<unk>``.
Characters are Unicode code points (a ``str`` element), so an emoji or any other character
outside the BMP is one token, never two surrogate halves (torch-rnn issue #29); the JSON file
is UTF-8 with the characters written as themselves.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from itertools import repeat
from typing import Any

import numpy as np

from .errors import DataError
from .text import write_bytes_atomic

UNK, EOS = "<unk>", "<eos>"
REPLACEMENT = "\ufffd"  # how a char-level <unk> is decoded
LEVELS = ("char", "word")


class Vocab:
    """An ordered list of distinct tokens; a token's index is its position.

    Args:
        tokens: the tokens in index order. At char level each is one code point, except an
            optional ``"<unk>"``.
        level: ``"char"`` or ``"word"``.
        counts: optionally, each token's count in the training text (index order).

    Attributes:
        unk_index: the index of ``"<unk>"``, or ``None`` when there is none.
        counts: the ``counts`` given (a list of ints), or ``None``.

    Shape:
        ``encode_text`` / ``encode_words`` return ``(L,)`` int32 arrays; ``decode`` takes ``(L,)``.

    Example:
        >>> v = Vocab.from_text("hello 😀")
        >>> v.tokens
        [' ', 'e', 'h', 'l', 'o', '😀']
        >>> v.encode_text("hell😀").tolist()
        [2, 1, 3, 3, 5]
        >>> v.decode([2, 1, 3, 3, 5])
        'hell😀'
    """

    def __init__(self, tokens: list[str], level: str, counts: list[int] | None = None) -> None:
        if level not in LEVELS:
            raise ValueError(f"Vocab: expected level 'char' or 'word', got {level!r}")
        tokens = list(tokens)
        if not tokens:
            raise ValueError("Vocab: expected at least one token, got none")
        for t in tokens:
            if not isinstance(t, str) or not t:
                raise ValueError(f"Vocab: expected non-empty str tokens, got {t!r}")
            if level == "char" and len(t) != 1 and t != UNK:
                raise ValueError(f"Vocab: a char-level token is one code point, got {t!r}")
        index = {t: i for i, t in enumerate(tokens)}
        if len(index) != len(tokens):
            dup = next(t for t, c in Counter(tokens).items() if c > 1)
            raise ValueError(f"Vocab: expected distinct tokens, got {dup!r} more than once")
        if counts is not None:
            counts = [int(c) for c in counts]
            if len(counts) != len(tokens) or min(counts) < 0:
                raise ValueError(
                    f"Vocab: expected {len(tokens)} counts >= 0 (one per token), got "
                    f"{len(counts)} with minimum {min(counts, default=None)}"
                )
        self.tokens: list[str] = tokens
        self.level: str = level
        self.counts: list[int] | None = counts
        self.unk_index: int | None = index.get(UNK)
        self._index = index
        # Char level: code points with their indices, for vectorised encoding.
        chars = sorted((ord(t), i) for t, i in index.items() if len(t) == 1)
        self._cps = np.array([c for c, _ in chars], dtype=np.uint32)
        self._cp_ids = np.array([i for _, i in chars], dtype=np.int32)
        self._table: np.ndarray | None = None

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_text(cls, text: str) -> Vocab:
        """A char-level vocabulary of every distinct code point of ``text``, sorted."""
        if not text:
            raise DataError("cannot build a char vocabulary from empty text")
        return cls(sorted(set(text)), "char")

    @classmethod
    def from_words(cls, words: Iterable[str], specials: Iterable[str] = (UNK, EOS)) -> Vocab:
        """A word-level vocabulary: ``specials`` first, then words by descending count, ties A-Z.

        A special that also occurs in ``words`` (PTB's own ``<unk>``) keeps its single entry.
        """
        specials = list(specials)
        counts = Counter(words)
        for s in specials:
            counts.pop(s, None)
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        return cls(specials + [w for w, _ in ranked], "word")

    @classmethod
    def from_counts(
        cls,
        counts: dict[str, int],
        level: str,
        *,
        min_count: int = 1,
        max_vocab: int | None = None,
        command: str = "Vocab.from_counts",
    ) -> Vocab:
        """The vocabulary rule of rnnkit corpora, from token counts of a training text.

        Specials first: ``<unk>``, and ``<eos>`` at word level. Then every other token counted
        at least ``min_count`` times, by descending count (ties in code point order), keeping
        at most ``max_vocab`` entries in all (specials included). ``counts`` gives ``<unk>``
        the count of the dropped tokens (plus any literal ``<unk>``, as PTB has).

        Raises:
            DataError: when no token but the specials is left (thresholds too high).

        Example:
            >>> v = Vocab.from_counts({"a": 3, "b": 1, "c": 2, "<eos>": 2}, "word", min_count=2)
            >>> v.tokens, v.counts
            (['<unk>', '<eos>', 'a', 'c'], [1, 2, 3, 2])
        """
        if level not in LEVELS:
            raise ValueError(f"{command}: expected level 'char' or 'word', got {level!r}")
        specials = [UNK, EOS] if level == "word" else [UNK]
        if isinstance(min_count, bool) or not isinstance(min_count, int) or min_count < 1:
            raise ValueError(f"{command}: expected min_count an integer >= 1, got {min_count!r}")
        if max_vocab is not None and (
            isinstance(max_vocab, bool) or not isinstance(max_vocab, int)
            or max_vocab < len(specials) + 1
        ):  # fmt: skip
            raise ValueError(
                f"{command}: expected max_vocab an integer >= {len(specials) + 1} at {level} "
                f"level ({', '.join(specials)} and at least one token), got {max_vocab!r}"
            )
        ranked = sorted(
            ((t, c) for t, c in counts.items() if t not in specials and c > 0),
            key=lambda tc: (-tc[1], tc[0]),
        )
        room = len(ranked) if max_vocab is None else max_vocab - len(specials)
        kept = [(t, c) for t, c in ranked[:room] if c >= min_count]
        if not kept:
            top = f", the most frequent seen {ranked[0][1]} times" if ranked else ""
            seen = f"{len(ranked)} other distinct tokens{top}"
            raise DataError(
                f"{command}: no token is left in the {level} vocabulary besides "
                f"{' and '.join(specials)}: the training text has {seen}, and min_count is "
                f"{min_count}; lower it"
            )
        dropped = sum(c for _, c in ranked) - sum(c for _, c in kept)
        special = [counts.get(UNK, 0) + dropped] + [counts.get(EOS, 0)] * (level == "word")
        return cls(specials + [t for t, _ in kept], level, special + [c for _, c in kept])

    @property
    def index_dtype(self) -> np.dtype:
        """The smallest unsigned integer type that holds every index (uint8, uint16 or uint32)."""
        for dtype in (np.uint8, np.uint16, np.uint32):
            if len(self) - 1 <= np.iinfo(dtype).max:
                return np.dtype(dtype)
        raise ValueError(f"Vocab: {len(self)} tokens do not fit in 32 bits")  # pragma: no cover

    # ------------------------------------------------------------------ lookup
    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, token: object) -> bool:
        return token in self._index

    def index(self, token: str) -> int:
        """The index of ``token``; ``KeyError`` if absent."""
        return self._index[token]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Vocab):
            return NotImplemented
        return self.level == other.level and self.tokens == other.tokens

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Vocab(level={self.level!r}, size={len(self)}, unk_index={self.unk_index})"

    # ------------------------------------------------------------------ encode / decode
    def lookup(self, tokens: np.ndarray | Sequence[str]) -> tuple[np.ndarray, int]:
        """``(ids, n_unknown)``: the ``(L,)`` int32 indices of ``tokens`` and how many were unknown.

        ``tokens`` are what :func:`rnnkit.data.tokenizer.tokens` gives: ``(L,)`` code points at
        char level, a list of words at word level. Unknown tokens map to ``<unk>``; without
        one in the vocabulary they raise ``DataError`` naming the first.
        """
        if self.level == "char":
            cps = np.asarray(tokens, dtype=np.uint32)  # (L,)
            if self._table is None:  # one int32 per code point (4.4 MB): a gather per block
                self._table = np.full(0x110000, -1, dtype=np.int32)
                self._table[self._cps] = self._cp_ids
            ids = self._table[cps]  # (L,)
            unknown = ids < 0
            n_unknown = int(np.count_nonzero(unknown))
            if n_unknown:
                if self.unk_index is None:
                    bad = chr(int(cps[np.argmax(unknown)]))
                    raise DataError(
                        f"Vocab.encode_text: character {bad!r} (U+{ord(bad):04X}) is not in the "
                        f"vocabulary of {len(self)} tokens, which has no '<unk>'"
                    )
                ids[unknown] = self.unk_index
            return ids, n_unknown
        get, unk = self._index.get, self.unk_index
        ids = np.fromiter(map(get, tokens, repeat(-2)), dtype=np.int32, count=len(tokens))
        unknown = ids == -2
        n_unknown = int(np.count_nonzero(unknown))
        if n_unknown:
            if unk is None:
                w = tokens[int(np.argmax(unknown))]
                raise DataError(
                    f"Vocab.encode_words: word {w!r} is not in the vocabulary of {len(self)} "
                    f"tokens, which has no '<unk>'"
                )
            ids[unknown] = unk
        return ids, n_unknown

    def encode_text(self, text: str) -> np.ndarray:
        """Char-level indices of ``text``, shape ``(L,)`` int32, one per code point.

        Unknown characters map to ``<unk>`` when the vocabulary has one, else ``ValueError``.
        """
        if self.level != "char":
            raise ValueError("Vocab.encode_text: this is a word-level vocabulary; use encode_words")
        return self.lookup(np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4"))[0]

    def encode_words(self, words: Iterable[str]) -> np.ndarray:
        """Indices of ``words``, shape ``(L,)`` int32; unknown words map to ``<unk>``."""
        if self.level != "word":
            raise ValueError("Vocab.encode_words: this is a char-level vocabulary; use encode_text")
        return self.lookup(list(words))[0]

    def decode(self, ids: Any) -> str:
        """Text of ``ids`` (a ``(L,)`` sequence, array or tensor of indices).

        Char level: tokens joined, ``<unk>`` shown as U+FFFD (``"\ufffd"``, the Unicode
        replacement character: one character for one token). Word level: tokens joined by
        spaces, ``<eos>`` as a newline.
        """
        if hasattr(ids, "tolist"):
            ids = ids.tolist()
        ids = [ids] if isinstance(ids, int) else list(ids)
        n = len(self.tokens)
        for i in ids:
            if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < n:
                raise ValueError(f"Vocab.decode: expected indices in [0, {n}), got {i!r}")
        if self.level == "char":
            return "".join(REPLACEMENT if i == self.unk_index else self.tokens[i] for i in ids)
        parts: list[str] = []
        for i in ids:
            tok = self.tokens[i]
            if tok == EOS:
                parts.append("\n")
            else:
                parts.append(tok if not parts or parts[-1] == "\n" else " " + tok)
        return "".join(parts)

    # ------------------------------------------------------------------ persistence
    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict, e.g. for a checkpoint; ``Vocab.from_dict`` inverts it."""
        d = {"format": "rnnkit.vocab", "version": 1, "level": self.level, "tokens": self.tokens}
        if self.counts is not None:
            d["counts"] = self.counts
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Vocab:
        """The vocabulary stored by ``to_dict``; ``ValueError`` if ``d`` is not one."""
        if not isinstance(d, dict) or "level" not in d or not isinstance(d.get("tokens"), list):
            got = sorted(d) if isinstance(d, dict) else type(d).__name__
            raise ValueError(
                f"Vocab.from_dict: expected a dict with 'level' and 'tokens', got {got}"
            )
        return cls(d["tokens"], d["level"], d.get("counts"))

    def save(self, path: str | os.PathLike) -> None:
        """Write the vocabulary as UTF-8 JSON (characters as themselves), atomically."""
        text = json.dumps(self.to_dict(), ensure_ascii=False, indent=0)
        write_bytes_atomic(path, text.encode("utf-8"))

    @classmethod
    def load(cls, path: str | os.PathLike) -> Vocab:
        """The vocabulary written by ``save``; ``DataError`` naming the file if it is unusable."""
        try:
            with open(path, encoding="utf-8") as f:
                d = json.load(f)
            return cls.from_dict(d)
        except FileNotFoundError:
            raise DataError(f"{path}: no such file") from None
        except (OSError, ValueError) as e:
            raise DataError(f"{path}: not a valid vocabulary file ({e})") from None
