"""Issue 12 from the command line: one split rule, <unk>, evaluate/sample on any text, bad flags."""

import contextlib
import io
import json
import random

import numpy as np
import pytest
import torch

from rnnkit.cli import main
from rnnkit.data import Vocab, open_corpus
from rnnkit.training.checkpoint import load_checkpoint

from .test_cli import TINY, assert_clean_error

WORDS = [f"w{i}" for i in range(400)]


def zipf_text(n_lines, seed=0):
    rng = random.Random(seed)
    weights = [1 / (i + 1) for i in range(len(WORDS))]
    return "".join(" ".join(rng.choices(WORDS, weights, k=rng.randint(3, 9))) + "\n"
                   for _ in range(n_lines))  # fmt: skip


def quiet(argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(argv)
    return rc, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def word_run(tmp_path_factory):
    """``preprocess`` and ``train --data`` of the same word-level file (tiny model, one epoch)."""
    root = tmp_path_factory.mktemp("words")
    path = root / "words.txt"
    path.write_text(zipf_text(400))
    rc, out, err = quiet(["preprocess", "--input", str(path), "--output-dir", str(root / "prep"),
                          "--level", "word", "--no-progress"])  # fmt: skip
    assert rc == 0, err
    rc, out, err = quiet(["train", "--data", str(path), "--level", "word", "--out-dir",
                          str(root / "run"), "--max-epochs", "1"] + TINY)  # fmt: skip
    assert rc == 0, err
    return root, path, out


def test_preprocess_and_train_give_the_same_splits_and_vocabulary(word_run):
    root, _, _ = word_run
    prepared, trained = open_corpus(root / "prep"), open_corpus(root / "run" / "corpus")
    assert prepared.vocab == trained.vocab and prepared.vocab.counts == trained.vocab.counts
    for split in ("train", "valid", "test"):
        np.testing.assert_array_equal(prepared.splits[split], trained.splits[split])
    ckpt = load_checkpoint(root / "run" / "checkpoint.pt")
    assert Vocab.from_dict(ckpt["vocab"]) == prepared.vocab


def test_word_training_sees_unk_and_reports_perplexity_without_it(word_run):
    root, _, out = word_run
    vocab = Vocab.from_dict(load_checkpoint(root / "run" / "checkpoint.pt")["vocab"])
    assert vocab.counts[0] > 0  # words seen once are <unk> in training too (--min-count 2)
    assert "(min count 2); read as <unk>:" in out
    log = json.loads((root / "run" / "log.json").read_text())
    valid = log["summary"]["valid"]
    assert 0 < valid["unk_fraction"] < 0.2 and valid["perplexity_excluding_unk"] > 1


def test_a_second_run_reuses_the_prepared_corpus(word_run, tmp_path):
    root, path, _ = word_run
    before = (root / "run" / "corpus" / "train.npy").stat().st_mtime_ns
    rc, _, err = quiet(["train", "--data", str(path), "--level", "word", "--out-dir",
                        str(root / "run"), "--resume", "--max-epochs", "1"] + TINY)  # fmt: skip
    assert rc == 0, err
    assert (root / "run" / "corpus" / "train.npy").stat().st_mtime_ns == before


def test_evaluate_any_text_reads_unknown_words_as_unk(word_run, tmp_path):
    root, _, _ = word_run
    other = tmp_path / "other.txt"
    other.write_text("w0 w1 never seen w2\n" * 30)
    ckpt = str(root / "run" / "checkpoint.pt")
    rc, out, err = quiet(["evaluate", "--checkpoint", ckpt, "--data", str(other), "--split",
                          "all", "--batch-size", "1", "--json"])  # fmt: skip
    assert rc == 0, err
    m = json.loads(out)
    assert m["oov_tokens"] == 60 and m["unk_fraction"] == pytest.approx(60 / 179)
    assert err == ("evaluate: 60 of the 180 tokens of the all split (33.33%) are not in the "
                   "checkpoint's vocabulary and were read as <unk>\n")  # fmt: skip
    rc, out, _ = quiet(["evaluate", "--checkpoint", ckpt, "--data", str(other)])
    assert rc == 0 and out.startswith("test: loss ") and "are <unk>, perplexity without them" in out


def test_evaluate_refuses_only_the_other_level(word_run, tmp_path, capsys):
    root, path, _ = word_run
    rc = main(["preprocess", "--input", str(path), "--output-dir", str(tmp_path / "chars"),
               "--no-progress"])  # fmt: skip
    capsys.readouterr()
    ckpt = str(root / "run" / "checkpoint.pt")
    rc = main(["evaluate", "--checkpoint", ckpt, "--data-dir", str(tmp_path / "chars")])
    assert_clean_error(rc, capsys, "evaluate: the model is word-level, but", "holds char-level")
    # another word-level folder, another vocabulary: read with the model's
    rc = main(["preprocess", "--input", str(path), "--output-dir", str(tmp_path / "w5"),
               "--level", "word", "--min-count", "5", "--no-progress"])  # fmt: skip
    capsys.readouterr()
    assert (
        main(["evaluate", "--checkpoint", ckpt, "--data-dir", str(tmp_path / "w5"), "--json"]) == 0
    )
    assert json.loads(capsys.readouterr().out)["oov_tokens"] == 0  # its <unk>s are the model's


def test_sample_start_text_with_unknown_words(word_run, capsys):
    root, _, _ = word_run
    ckpt = str(root / "run" / "checkpoint.pt")
    assert main(["sample", "--checkpoint", ckpt, "--start-text", "w0 zzz", "--length", "3",
                 "--seed", "1"]) == 0  # fmt: skip
    captured = capsys.readouterr()
    assert captured.out.startswith("w0 zzz")
    assert "1 of the 2 words of --start-text are not in the checkpoint's vocabulary" in captured.err


def test_sample_refuses_unknown_characters_without_unk(tmp_path, capsys):
    """A checkpoint of an rnnkit before char-level <unk>: its vocabulary has none."""
    root = tmp_path
    (root / "c.txt").write_text("abcd efg\n" * 100)
    assert main(["train", "--data", str(root / "c.txt"), "--out-dir", str(root / "run"),
                 "--max-epochs", "1"] + TINY) == 0  # fmt: skip
    path = root / "run" / "checkpoint.pt"
    ckpt = torch.load(path, weights_only=True)
    tokens = ckpt["vocab"]["tokens"]
    ckpt["vocab"] = {**ckpt["vocab"], "tokens": ["\x01", *tokens[1:]], "counts": None}
    torch.save(ckpt, path)
    capsys.readouterr()
    rc = main(["sample", "--checkpoint", str(path), "--start-text", "aXb", "--length", "3"])
    assert_clean_error(rc, capsys, "sample: --start-text has characters", "'X'")


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (
            ["preprocess", "--min-count", "0"],
            "preprocess: --min-count must be a positive integer, got 0",
        ),
        (
            ["preprocess", "--level", "word", "--max-vocab", "2"],
            "preprocess: --max-vocab must be an integer >= 3",
        ),
        (
            ["preprocess", "--valid-frac", "1.5"],
            "preprocess: --valid-frac must be a number in [0, 1), got 1.5",
        ),
        (
            ["preprocess", "--min-count", "100000"],
            "preprocess: no token is left in the char vocabulary",
        ),
        (["train", "--min-count", "-1"], "train: --min-count must be a positive integer, got -1"),
        (
            ["train", "--valid-frac", "0.5", "--test-frac", "0.5"],
            "train: --valid-frac + --test-frac",
        ),
        (
            ["train", "--data-dir", "PREP", "--min-count", "3"],
            "was prepared with --min-count 2, not 3",
        ),
    ],
)
def test_bad_flag_values_are_one_line_errors_naming_the_command(
    word_run, tmp_path, capsys, argv, fragment
):
    root, path, _ = word_run
    argv = [str(root / "prep") if a == "PREP" else a for a in argv]
    if argv[0] == "preprocess":
        argv += ["--input", str(path), "--output-dir", str(tmp_path / "p"), "--no-progress"]
    elif "--data-dir" not in argv:
        argv += ["--data", str(path), "--out-dir", str(tmp_path / "r")] + TINY
    else:
        argv += ["--out-dir", str(tmp_path / "r")] + TINY
    rc = main(argv)
    assert_clean_error(rc, capsys, fragment)
    assert not (tmp_path / "p" / "meta.json").exists() and not (tmp_path / "r").exists()
