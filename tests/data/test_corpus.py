"""build_corpus / open_corpus: memory-mapped = in memory, thresholds and <unk>, dtypes, bad input."""

import random
from collections import Counter

import numpy as np
import pytest
import torch

from rnnkit.data import BPTTBatcher, DataError, Vocab, build_corpus, open_corpus, token_counts
from rnnkit.data import tokenizer as tk


def word_text(n_lines=300, n_types=40, seed=0):
    rng = random.Random(seed)
    vocab = [f"w{i}" for i in range(n_types)]
    weights = [1 / (i + 1) for i in range(n_types)]  # Zipf: some words seen once or never
    return "".join(" ".join(rng.choices(vocab, weights, k=rng.randint(1, 12))) + "\n"
                   for _ in range(n_lines))  # fmt: skip


@pytest.mark.parametrize("level", ["char", "word"])
def test_memory_mapped_corpus_gives_the_same_batches_as_in_memory(tmp_path, level, monkeypatch):
    text = word_text() + "héllo 😀 wörld\n" * 3
    path = tmp_path / "corpus.txt"
    path.write_text(text, encoding="utf-8")
    monkeypatch.setattr(tk, "BLOCK_BYTES", 97)  # many blocks, many split points inside them
    on_disk = build_corpus(path, level, tmp_path / "out")
    monkeypatch.undo()
    in_memory = build_corpus(text, level)
    assert on_disk.vocab == in_memory.vocab and on_disk.meta["counts"] == in_memory.meta["counts"]
    reopened = open_corpus(tmp_path / "out")
    for split in ("train", "valid", "test"):
        mm = reopened.splits[split]
        assert isinstance(mm, np.memmap) and mm.dtype == np.uint8
        np.testing.assert_array_equal(mm, in_memory.splits[split])
    a = BPTTBatcher(reopened.splits["train"], 4, 7)
    b = BPTTBatcher(torch.as_tensor(in_memory.splits["train"].astype(np.int64)), 4, 7)
    assert len(a) == len(b)
    for (x1, y1), (x2, y2) in zip(a, b):
        assert x1.dtype == torch.long and torch.equal(x1, x2) and torch.equal(y1, y2)
    assert np.shares_memory(a.streams, reopened.splits["train"])  # a view of the file, no copy


def test_min_count_reads_rare_words_as_unk_in_training_too():
    text = word_text(n_types=400)
    corpus = build_corpus(text, "word", valid_frac=0.1, test_frac=0.1, min_count=3)
    lines = text.splitlines(keepends=True)
    n_train = len(lines) - 2 * int(0.1 * len(lines))
    train_counts = Counter(tk.tokens("".join(lines[:n_train]), "word"))
    kept = {w for w, c in train_counts.items() if c >= 3}
    vocab = corpus.vocab
    assert set(vocab.tokens[2:]) == kept - {"<eos>"} and vocab.tokens[:2] == ["<unk>", "<eos>"]
    rare = sum(c for w, c in train_counts.items() if c < 3)
    assert rare > 0 and vocab.counts[0] == rare == corpus.meta["oov_tokens"]["train"]
    np.testing.assert_array_equal(token_counts(corpus.splits["train"], len(vocab)), vocab.counts)
    counts = [vocab.counts[vocab.index(w)] for w in vocab.tokens[2:]]
    assert counts == sorted(counts, reverse=True)  # most frequent first


def test_max_vocab_counts_the_specials():
    corpus = build_corpus(word_text(), "word", max_vocab=10, min_count=1)
    assert len(corpus.vocab) == 10 and corpus.meta["max_vocab"] == 10
    assert corpus.splits["train"].max() == 9


def test_vocabulary_comes_from_the_training_split_only():
    text = "the cat sat\n" * 18 + "a zebra\n" + "the dog\n"
    corpus = build_corpus(text, "word", valid_frac=0.05, test_frac=0.05, min_count=1)
    assert "zebra" not in corpus.vocab and "dog" not in corpus.vocab
    assert corpus.meta["oov_tokens"] == {"train": 0, "valid": 2, "test": 1}
    assert corpus.vocab.decode(corpus.splits["test"]) == "the <unk>\n"


@pytest.mark.parametrize("n_types, dtype", [(250, np.uint8), (300, np.uint16)])
def test_smallest_unsigned_dtype(tmp_path, n_types, dtype):
    text = " ".join(f"w{i} w{i}" for i in range(n_types)) + "\n" + "w0 w1\n" * 100
    corpus = build_corpus(text, "word", tmp_path, valid_frac=0.02, test_frac=0.02)
    assert corpus.splits["train"].dtype == dtype == corpus.vocab.index_dtype
    bytes_per_token = (tmp_path / "train.npy").stat().st_size / len(corpus.splits["train"])
    assert bytes_per_token < np.dtype(dtype).itemsize + 0.5


def test_char_level_unk_for_rare_and_unseen_characters():
    text = "abababab\n" * 30 + "z" + "abab\n" * 5 + "ab€\n"
    corpus = build_corpus(text, "char", valid_frac=0.02, test_frac=0.02)
    vocab = corpus.vocab
    assert vocab.tokens[0] == "<unk>" and "z" not in vocab and "€" not in vocab
    assert corpus.meta["oov_tokens"]["train"] == 1  # 'z', seen once: <unk> in training too
    assert corpus.meta["oov_tokens"]["test"] == 1  # '€'
    assert vocab.decode(corpus.splits["test"]).endswith("ab\ufffd\n")


def test_empty_after_thresholds_names_the_command():
    with pytest.raises(
        DataError, match="preprocess: no token is left .*min_count is 5000; lower it"
    ):
        build_corpus(word_text(), "word", min_count=5000, command="preprocess")


def test_a_single_type_is_refused_and_one_word_plus_eos_works():
    with pytest.raises(
        DataError, match="train: the training split of <text> holds a single char type"
    ):
        build_corpus("a" * 100, "char", command="train")
    corpus = build_corpus("buffalo buffalo\n" * 40, "word")
    assert corpus.vocab.tokens == ["<unk>", "<eos>", "buffalo"]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"level": "byte"}, "expected level 'char' or 'word'"),
        ({"valid_frac": 1.5}, r"expected valid_frac in \[0, 1\), got 1.5"),
        (
            {"valid_frac": 0.5, "test_frac": 0.5},
            r"expected valid_frac \+ test_frac < 1, got 0.5 \+ 0.5",
        ),
        ({"min_count": 0}, "expected min_count an integer >= 1, got 0"),
        ({"max_vocab": 2, "level": "word"}, "expected max_vocab an integer >= 3 at word level"),
    ],
)
def test_argument_errors_name_the_function(kwargs, match):
    with pytest.raises(ValueError, match=f"build_corpus: {match}"):
        build_corpus(word_text(), **{"level": "word", **kwargs})


def test_a_given_vocabulary_of_the_other_level_is_refused():
    with pytest.raises(DataError, match="expected a char-level vocabulary"):
        build_corpus("abc\n" * 50, "char", vocab=Vocab.from_words(["a"]))


def test_too_short_to_split_names_the_file(tmp_path):
    path = tmp_path / "short.txt"
    path.write_text("one line\n")
    with pytest.raises(DataError, match=r"preprocess: .*short.txt: text of 1 lines is too short"):
        build_corpus(path, "word", command="preprocess")
