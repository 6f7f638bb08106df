"""Where a language-model run's tokens come from: a text file, a prepared folder, PTB, or the embedded corpus."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data import (
    DataError,
    Vocab,
    default_corpus_description,
    default_corpus_text,
    load_prepared,
    load_ptb,
    read_text,
    split_text,
)


@dataclass
class LMData:
    vocab: Vocab
    splits: dict[str, np.ndarray]  # 'train', 'valid', 'test' → token ids
    description: str


def _from_text(text: str, level: str, valid_frac: float, test_frac: float, what: str) -> LMData:
    train, valid, test = split_text(text, valid_frac, test_frac)
    if level == "char":
        vocab = Vocab.from_text(text)
        encode = vocab.encode_text
    else:

        def words(t):
            return [w for line in t.splitlines() for w in (*line.split(), "<eos>")]

        vocab = Vocab.from_words(words(train))

        def encode(t):
            return vocab.encode_words(words(t))

    splits = {"train": encode(train), "valid": encode(valid), "test": encode(test)}
    return LMData(vocab, splits, f"{what}; {len(vocab):,} {level} types")


def load_lm_data(config) -> LMData:
    """The vocabulary and token splits described by a :class:`TrainConfig`."""
    if config.data and config.data_dir:
        raise DataError("give either --data or --data-dir, not both")
    if config.data_dir:
        folder = Path(config.data_dir)
        if (folder / "ptb.train.txt").is_file():
            vocab, train, valid, test = load_ptb(folder)
            return LMData(
                vocab, {"train": train, "valid": valid, "test": test}, f"Penn Treebank in {folder}"
            )
        vocab, splits = load_prepared(folder)
        return LMData(vocab, splits, f"prepared corpus in {folder}")
    if config.data:
        text = read_text(config.data)
        what = f"{config.data}: {len(text):,} characters"
        return _from_text(text, config.level, config.valid_frac, config.test_frac, what)
    text = default_corpus_text(config.max_corpus_bytes)
    return _from_text(
        text, "char", config.valid_frac, config.test_frac, default_corpus_description()
    )
