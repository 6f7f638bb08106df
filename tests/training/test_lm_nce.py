"""Language models trained with noise-contrastive estimation: `--nce-k` in the trainer and CLI."""

import json
import math
import random

import numpy as np
import pytest
import torch

from rnnkit.cli import main
from rnnkit.data import Vocab
from rnnkit.models.language_model import LanguageModel
from rnnkit.nce.module import NCEModule
from rnnkit.training.checkpoint import load_checkpoint
from rnnkit.training.config import TrainConfig
from rnnkit.training.lm_data import load_lm_data
from rnnkit.training.lm_trainer import ConfigError, train_language_model

WORDS = "the cat sat on a mat and a dog ran far away from it".split()


@pytest.fixture(scope="module")
def words_file(tmp_path_factory):
    rng = random.Random(1)
    path = tmp_path_factory.mktemp("nce") / "words.txt"
    # a skewed unigram distribution, so the noise table is not uniform
    path.write_text("".join(" ".join(rng.choice(WORDS[: rng.randint(3, 14)]) for _ in range(8))
                            + "\n" for _ in range(150)))  # fmt: skip
    return path


def config(data, out_dir, **kw):
    base = dict(data=str(data), out_dir=str(out_dir), level="word", rnn_size=16, wordvec_size=8,
                num_layers=1, seq_length=8, batch_size=4, max_epochs=3, progress=False,
                sample_length=5, nce_k=5, init_range=0.1, learning_rate=1e-2)  # fmt: skip
    return TrainConfig(**{**base, **kw})


@pytest.fixture(scope="module")
def nce_run(words_file, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    lines = []
    summary = train_language_model(config(words_file, out), echo=lines.append)
    return out, summary, lines


def test_the_model_has_an_nce_output_layer_with_the_training_unigrams(nce_run, words_file):
    out, _, _ = nce_run
    ckpt = load_checkpoint(out / "checkpoint.pt")
    assert ckpt["model_config"]["nce_k"] == 5
    model = LanguageModel(**ckpt["model_config"])
    model.load_state_dict(ckpt["model"])
    assert isinstance(model.decoder, NCEModule) and model.decoder.k == 5
    # noise = training counts ** 0.75 (the tokens are those of the training split)
    data = load_lm_data(config(words_file, out))
    assert Vocab.from_dict(ckpt["vocab"]) == data.vocab
    counts = np.bincount(data.splits["train"], minlength=len(data.vocab)).astype(np.float64)
    q = np.where(counts > 0, counts**0.75, 0)
    expected = torch.from_numpy(q / q.sum()).float()
    torch.testing.assert_close(model.decoder.log_noise_probs.exp(), expected)


def test_nce_training_learns_and_reports_full_softmax_perplexity(nce_run):
    out, summary, lines = nce_run
    ckpt = load_checkpoint(out / "checkpoint.pt")
    vocab_size, history = ckpt["model_config"]["vocab_size"], ckpt["history"]
    valid = [v["valid_loss"] for v in history["valid"]]
    assert valid[-1] < valid[0] < math.log(vocab_size)  # better than uniform, and improving
    for split in ("valid", "test"):
        assert summary[split]["perplexity"] == pytest.approx(math.exp(summary[split]["loss"]))
        assert summary[split]["perplexity"] < vocab_size
    train = [r["loss"] for r in history["train"]]
    assert train[-1] < train[0]  # the NCE loss falls
    assert (out / "loss.png").is_file() and len(summary["sample"].split()) >= 1


def test_resume_mid_epoch_is_exact(words_file, nce_run, tmp_path):
    out, _, _ = nce_run
    train_language_model(config(words_file, tmp_path, time_budget=1e-9), echo=lambda s: None)
    train_language_model(config(words_file, tmp_path, resume=True, time_budget=0),
                         echo=lambda s: None)  # fmt: skip
    a = load_checkpoint(out / "checkpoint.pt")["model"]
    b = load_checkpoint(tmp_path / "checkpoint.pt")["model"]
    for key in a:
        torch.testing.assert_close(b[key], a[key], rtol=0, atol=0)


def test_evaluate_and_sample_commands_read_nce_checkpoints(nce_run, capsys):
    out, summary, _ = nce_run
    assert main(["evaluate", "--checkpoint", str(out / "checkpoint.pt"), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["loss"] == pytest.approx(summary["test"]["loss"], rel=1e-6)
    assert main(["sample", "--checkpoint", str(out / "checkpoint.pt"), "--length", "4"]) == 0
    assert capsys.readouterr().out.strip()


def test_model_api_and_errors():
    model = LanguageModel(20, wordvec_size=4, rnn_size=8, num_layers=1, nce_k=3)
    tokens, targets = torch.randint(20, (5, 2)), torch.randint(20, (5, 2))
    log_probs = model(tokens)
    torch.testing.assert_close(log_probs.exp().sum(-1), torch.ones(5, 2))
    out = model(tokens, targets)
    assert out.model_target.shape == (5, 2) and out.model_noise.shape == (5, 2, 3)
    assert LanguageModel(**model.config()).config() == model.config()
    with pytest.raises(
        ValueError, match="targets are only taken by a model with an 'nce', 'sampled' or 'adaptive'"
    ):
        LanguageModel(20, wordvec_size=4, rnn_size=8)(tokens, targets)
    with pytest.raises(ValueError, match="nce_k to be an int >= 0"):
        LanguageModel(20, nce_k=-1)
    with pytest.raises(ConfigError, match="train: --nce-k must be an integer >= 0, got -2"):
        train_language_model(TrainConfig(nce_k=-2), echo=lambda s: None)
