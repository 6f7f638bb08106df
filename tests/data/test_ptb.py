"""PTB reading: words + <eos> per line, vocabulary from train with PTB's own <unk>."""

import numpy as np
import pytest

from rnnkit.data import DataError, load_ptb, read_words, words_from_text


def test_words_from_text_appends_eos_per_line():
    assert words_from_text(" a b\n c\n") == ["a", "b", "<eos>", "c", "<eos>"]
    assert words_from_text(" a\n\n b") == ["a", "<eos>", "<eos>", "b", "<eos>"]


def _write_ptb(folder, train, valid, test):
    for name, text in (("train", train), ("valid", valid), ("test", test)):
        (folder / f"ptb.{name}.txt").write_text(text, encoding="utf-8")


def test_small_ptb_maps_unk_to_the_vocab_unk(tmp_path):
    _write_ptb(tmp_path, " the <unk> cat\n the dog\n", " the cow\n", " <unk> cat\n")
    assert read_words(tmp_path / "ptb.train.txt") == "the <unk> cat <eos> the dog <eos>".split()
    vocab, train, valid, test = load_ptb(tmp_path)
    assert vocab.tokens == ["<unk>", "<eos>", "the", "cat", "dog"]
    assert train.dtype == np.int32 and train.tolist() == [2, 0, 3, 1, 2, 4, 1]
    assert valid.tolist() == [2, 0, 1]  # 'cow' is not in train
    assert vocab.decode(test) == "<unk> cat\n"


def test_missing_split_names_the_file(tmp_path):
    (tmp_path / "ptb.train.txt").write_text(" a\n")
    with pytest.raises(DataError, match=r"ptb\.valid\.txt: no such file"):
        load_ptb(tmp_path)


def test_real_ptb_counts(shared_data):
    vocab, train, valid, test = load_ptb(shared_data / "ptb")
    assert (len(train), len(valid), len(test)) == (929589, 73760, 82430)
    assert len(vocab) == 10000 and vocab.tokens[:2] == ["<unk>", "<eos>"]
    assert vocab.tokens.count("<unk>") == 1
    assert int((train == vocab.index("<eos>")).sum()) == 42068  # one per line
    assert int((valid == vocab.index("<eos>")).sum()) == 3370
    assert vocab.decode(train[:5]).startswith("aer banknote berlitz")
