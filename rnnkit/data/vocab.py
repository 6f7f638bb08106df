"""Vocab: the token <-> index table of a character or word corpus.

Replaces torch-rnn's ``token_to_idx`` / ``idx_to_token`` JSON (``scripts/preprocess.py``) and
the word dictionary of the original rnn package's ``dl.loadPTB``. Indices are 0-based.
Characters are Unicode code points (a ``str`` element), so an emoji or any other character
outside the BMP is one token, never two surrogate halves (torch-rnn issue #29); the JSON file
is UTF-8 with the characters written as themselves.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable
from typing import Any

import numpy as np

from .errors import DataError
from .text import write_bytes_atomic

UNK, EOS = "<unk>", "<eos>"
LEVELS = ("char", "word")


class Vocab:
    """An ordered list of distinct tokens; a token's index is its position.

    Args:
        tokens: the tokens in index order. At char level each is one code point, except an
            optional ``"<unk>"``.
        level: ``"char"`` or ``"word"``.

    Attributes:
        unk_index: the index of ``"<unk>"``, or ``None`` when there is none.

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

    def __init__(self, tokens: list[str], level: str) -> None:
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
        self.tokens: list[str] = tokens
        self.level: str = level
        self.unk_index: int | None = index.get(UNK)
        self._index = index
        # Char level: code points sorted, with their indices, for vectorised encoding.
        chars = sorted((ord(t), i) for t, i in index.items() if len(t) == 1)
        self._cps = np.array([c for c, _ in chars], dtype=np.uint32)
        self._cp_ids = np.array([i for _, i in chars], dtype=np.int32)

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
    def encode_text(self, text: str) -> np.ndarray:
        """Char-level indices of ``text``, shape ``(L,)`` int32, one per code point.

        Unknown characters map to ``<unk>`` when the vocabulary has one, else ``ValueError``.
        """
        if self.level != "char":
            raise ValueError("Vocab.encode_text: this is a word-level vocabulary; use encode_words")
        cps = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")  # (L,)
        if len(self._cps):
            pos = np.minimum(np.searchsorted(self._cps, cps), len(self._cps) - 1)
            known = self._cps[pos] == cps
            ids = self._cp_ids[pos]
        else:  # only '<unk>'
            known, ids = np.zeros(len(cps), dtype=bool), np.zeros(len(cps), dtype=np.int32)
        if not known.all():
            if self.unk_index is None:
                bad = chr(int(cps[np.argmin(known)]))
                raise DataError(
                    f"Vocab.encode_text: character {bad!r} (U+{ord(bad):04X}) is not in the "
                    f"vocabulary of {len(self)} tokens, which has no '<unk>'"
                )
            ids = np.where(known, ids, self.unk_index)
        return ids.astype(np.int32, copy=False)

    def encode_words(self, words: Iterable[str]) -> np.ndarray:
        """Indices of ``words``, shape ``(L,)`` int32; unknown words map to ``<unk>``."""
        index, unk = self._index, self.unk_index
        out = []
        for w in words:
            i = index.get(w, unk)
            if i is None:
                raise DataError(
                    f"Vocab.encode_words: word {w!r} is not in the vocabulary of {len(self)} "
                    f"tokens, which has no '<unk>'"
                )
            out.append(i)
        return np.array(out, dtype=np.int32)

    def decode(self, ids: Any) -> str:
        """Text of ``ids`` (a ``(L,)`` sequence, array or tensor of indices).

        Char level: tokens joined. Word level: tokens joined by spaces, ``<eos>`` as a newline.
        """
        if hasattr(ids, "tolist"):
            ids = ids.tolist()
        ids = [ids] if isinstance(ids, int) else list(ids)
        n = len(self.tokens)
        for i in ids:
            if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < n:
                raise ValueError(f"Vocab.decode: expected indices in [0, {n}), got {i!r}")
        if self.level == "char":
            return "".join(self.tokens[i] for i in ids)
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
        return {"format": "rnnkit.vocab", "version": 1, "level": self.level, "tokens": self.tokens}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Vocab:
        """The vocabulary stored by ``to_dict``; ``ValueError`` if ``d`` is not one."""
        if not isinstance(d, dict) or "level" not in d or not isinstance(d.get("tokens"), list):
            got = sorted(d) if isinstance(d, dict) else type(d).__name__
            raise ValueError(
                f"Vocab.from_dict: expected a dict with 'level' and 'tokens', got {got}"
            )
        return cls(d["tokens"], d["level"])

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
