"""load_lm_data (the trainer's data) and perplexity with and without <unk> targets."""

import math
import random

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from rnnkit.data import DataError, Vocab, build_corpus
from rnnkit.models.language_model import LanguageModel
from rnnkit.training.config import TrainConfig
from rnnkit.training.lm_data import load_lm_data
from rnnkit.training.lm_trainer import describe, evaluate_split, metrics


def words(n_lines, seed=0):
    rng = random.Random(seed)
    vocab = [f"w{i}" for i in range(60)]
    return "".join(" ".join(rng.choices(vocab, [1 / (i + 1) for i in range(60)], k=8)) + "\n"
                   for _ in range(n_lines))  # fmt: skip


@pytest.fixture
def text_file(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text(words(200))
    return path


def test_a_text_file_is_prepared_staged_then_committed_and_reused(text_file, tmp_path):
    config = TrainConfig(data=str(text_file), level="word")
    cache = tmp_path / "run" / "corpus"
    data = load_lm_data(config, cache=cache)
    assert not cache.exists() and len(list((tmp_path / "run").iterdir())) == 1  # staged
    data.commit()
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["corpus"]
    same = build_corpus(text_file, "word", min_count=2)
    assert data.vocab == same.vocab
    np.testing.assert_array_equal(data.splits["valid"], same.splits["valid"])
    assert "min count 2" in data.description and "uint8 tokens in" in data.description
    again = load_lm_data(config, cache=cache)  # same file, same options: the cache is read
    assert again._staged is None and again.vocab == data.vocab
    other = load_lm_data(TrainConfig(data=str(text_file), level="word", min_count=5), cache=cache)
    assert other._staged is not None and len(other.vocab) < len(data.vocab)
    other.discard()
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["corpus"]


def test_discard_removes_the_folders_it_made(text_file, tmp_path):
    data = load_lm_data(TrainConfig(data=str(text_file)), cache=tmp_path / "a" / "b" / "corpus")
    data.discard()
    assert list(tmp_path.iterdir()) == [text_file]


def test_the_embedded_corpus_and_a_given_vocabulary():
    config = TrainConfig(max_corpus_bytes=20_000)
    data = load_lm_data(config)
    assert data.vocab.tokens[0] == "<unk>" and data.vocab.level == "char"
    assert "char types" in data.description
    again = load_lm_data(config, vocab=data.vocab)
    for s in ("train", "valid", "test"):
        np.testing.assert_array_equal(again.splits[s], data.splits[s])


def test_bad_vocabulary_options_name_the_command(text_file):
    for kw, match in (({"min_count": 0}, "train: --min-count must be an integer >= 1, got 0"),
                      ({"max_vocab": 2}, "train: --max-vocab must be an integer >= 3, got 2"),
                      ({"valid_frac": 0.6, "test_frac": 0.5}, "train: --valid-frac \\+ --test-frac")):  # fmt: skip
        with pytest.raises(DataError, match=match):
            load_lm_data(TrainConfig(data=str(text_file), level="word", **kw))


def test_ptb_folder_keeps_every_type_by_default(tmp_path):
    for split, text in (("train", " a b a <unk>\n b c\n"), ("valid", " a d\n"), ("test", " c\n")):
        (tmp_path / f"ptb.{split}.txt").write_text(text)
    data = load_lm_data(TrainConfig(data_dir=str(tmp_path), level="word"))
    assert data.vocab.tokens == ["<unk>", "<eos>", "a", "b", "c"]  # 'c' seen once is kept
    assert data.oov == {"train": 0, "valid": 1, "test": 0}
    with pytest.raises(
        DataError, match="evaluate: the model is char-level, but .* holds word-level"
    ):
        load_lm_data(TrainConfig(data_dir=str(tmp_path)), vocab=Vocab(["<unk>", "a"], "char"),
                     command="evaluate")  # fmt: skip


def test_perplexity_with_and_without_unk_targets():
    torch.manual_seed(0)
    vocab_size = 7
    model = LanguageModel(vocab_size, model_type="lstm", wordvec_size=4, rnn_size=6, num_layers=1)
    ids = np.random.default_rng(0).integers(0, vocab_size, size=301).astype(np.uint8)
    ids[::5] = 0  # <unk> at index 0
    result = evaluate_split(model, ids, batch_size=1, seq_length=300, device="cpu", unk_index=0)
    with torch.no_grad():
        model.forget()
        logits = model(torch.as_tensor(ids[:-1], dtype=torch.long).view(-1, 1))[:, 0]  # (T, V)
        losses = F.cross_entropy(
            logits, torch.as_tensor(ids[1:], dtype=torch.long), reduction="none"
        )
    keep = torch.as_tensor(ids[1:] != 0)
    assert result["targets"] == 300 and result["unk_targets"] == int((~keep).sum())
    assert result["loss"] == pytest.approx(losses.mean().item(), rel=1e-5)
    assert result["loss_excluding_unk"] == pytest.approx(losses[keep].mean().item(), rel=1e-5)
    m = metrics(result, "word")
    assert m["perplexity_excluding_unk"] == pytest.approx(
        math.exp(losses[keep].mean().item()), rel=1e-5
    )
    assert m["unk_fraction"] == pytest.approx(int((~keep).sum()) / 300)
    assert (
        f"{100 * m['unk_fraction']:.2f}% of targets are <unk>, perplexity without them"
        in describe(m)
    )
    assert set(metrics({"loss": 1.0, "targets": 3}, "char")) == {
        "loss",
        "perplexity",
        "bits_per_char",
    }
