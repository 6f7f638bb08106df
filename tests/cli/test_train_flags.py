"""``rnnkit train --tie-weights``, ``--precision bf16`` and ``--compile`` (issue 14), end to end.

``--compile`` is tested with torch.compile's ``eager`` backend (dynamo traces the model, graph
breaks and all, but nothing is generated): inductor takes 10-25 s per model on a 2-core
machine. The test swaps ``torch.compile`` for one that adds ``backend="eager"``.
"""

import csv
import math

import pytest
import torch

from rnnkit.cli import main
from rnnkit.training.checkpoint import load_checkpoint

from .test_cli import assert_clean_error, text

SMALL = ["--rnn-size", "12", "--wordvec-size", "12", "--num-layers", "2", "--seq-length", "16",
         "--batch-size", "4", "--no-progress", "--sample-length", "0"]  # fmt: skip


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    path = tmp_path_factory.mktemp("flags") / "t.txt"
    path.write_text(text(1500))
    return path


def train(data, out, *flags):
    return main(["train", "--data", str(data), "--out-dir", str(out), *SMALL, *flags])


def losses(out):
    with open(out / "train.csv") as f:
        return [float(r["loss"]) for r in csv.DictReader(f)]


def test_tie_weights_survives_resume_sample_and_evaluate(data, tmp_path, capsys):
    out = tmp_path / "tied"
    assert train(data, out, "--tie-weights", "--max-epochs", "1") == 0
    ckpt = load_checkpoint(out / "checkpoint.pt")
    assert ckpt["model_config"]["tie_weights"] is True and ckpt["config"]["tie_weights"]
    assert torch.equal(ckpt["model"]["embedding.weight"], ckpt["model"]["decoder.weight"])
    assert train(data, out, "--resume", "--max-epochs", "2") == 0  # tie from the checkpoint
    ckpt = load_checkpoint(out / "checkpoint.pt")
    assert ckpt["state"]["epoch"] == 3
    assert torch.equal(ckpt["model"]["embedding.weight"], ckpt["model"]["decoder.weight"])
    capsys.readouterr()
    assert main(["sample", "--checkpoint", str(out / "checkpoint.pt"), "--length", "10"]) == 0
    assert main(["evaluate", "--checkpoint", str(out / "best.pt"), "--no-progress"]) == 0
    assert "test: loss" in capsys.readouterr().out
    rc = train(data, out, "--resume", "--no-tie-weights")
    assert_clean_error(rc, capsys, "train: --tie-weights False differs from this run's True")


@pytest.mark.parametrize("flags, message", [
    (["--wordvec-size", "8"], "train: --tie-weights needs --wordvec-size equal to --rnn-size, "
     "got --wordvec-size 8 and --rnn-size 12"),
    (["--output", "adaptive"], "train: --tie-weights works with --output softmax, nce or "
     "sampled, got adaptive"),
    (["--sparse"], "train: --tie-weights with --sparse needs --output nce or sampled"),
])  # fmt: skip
def test_tie_weights_refuses_what_cannot_share_a_weight(data, tmp_path, capsys, flags, message):
    assert_clean_error(train(data, tmp_path / "o", "--tie-weights", *flags), capsys, message)
    assert not (tmp_path / "o").exists()


def test_tie_weights_trains_with_nce(data, tmp_path):
    out = tmp_path / "nce"
    assert train(data, out, "--tie-weights", "--output", "nce", "--nce-k", "4",
                 "--max-epochs", "1") == 0  # fmt: skip
    ckpt = load_checkpoint(out / "checkpoint.pt")
    assert torch.equal(ckpt["model"]["embedding.weight"], ckpt["model"]["decoder.weight"])


def test_bf16_trains_with_finite_losses_close_to_fp32_and_fp32_checkpoints(data, tmp_path):
    runs = {}
    for precision in ("fp32", "bf16"):
        out = tmp_path / precision
        assert train(data, out, "--precision", precision, "--max-epochs", "1") == 0
        runs[precision] = losses(out)
        ckpt = load_checkpoint(out / "checkpoint.pt")
        assert {t.dtype for t in ckpt["model"].values()} == {torch.float32}
    fp32, bf16 = runs["fp32"], runs["bf16"]
    assert len(bf16) == len(fp32) >= 10 and all(math.isfinite(x) for x in bf16)
    assert bf16 != fp32  # bf16 did run: rounding changes the losses ...
    assert max(abs(a - b) for a, b in zip(fp32, bf16)) < 0.05  # ... a little (2 ** -8 relative)
    # stopped mid-epoch, the checkpoint holds the carried state: fp32 too
    assert train(data, tmp_path / "mid", "--precision", "bf16", "--time-budget", "1e-9") == 0
    carried = torch.utils._pytree.tree_leaves(load_checkpoint(tmp_path / "mid" / "checkpoint.pt")["carried"])
    assert len(carried) == 4 and {t.dtype for t in carried} == {torch.float32}  # (h, c) x 2


def test_compile_trains_and_saves_the_plain_modules_weights(data, tmp_path, monkeypatch, capsys):
    calls = []
    real = torch.compile

    def eager_compile(model, **kw):
        calls.append(type(model).__name__)
        return real(model, **{**kw, "backend": "eager"})

    monkeypatch.setattr(torch, "compile", eager_compile)
    out, plain = tmp_path / "compiled", tmp_path / "plain"
    assert train(data, out, "--compile", "--max-epochs", "1") == 0
    assert calls == ["LanguageModel"]  # compiled once, the training steps only
    assert train(data, plain, "--max-epochs", "1") == 0
    torch.testing.assert_close(losses(out), losses(plain))  # eager backend: the same math
    ckpt = load_checkpoint(out / "checkpoint.pt")
    assert not [k for k in ckpt["model"] if "_orig_mod" in k]
    assert set(ckpt["model"]) == set(load_checkpoint(plain / "checkpoint.pt")["model"])
    # the checkpoint works with or without --compile
    assert train(data, out, "--resume", "--max-epochs", "2") == 0
    assert train(data, plain, "--resume", "--max-epochs", "2", "--compile") == 0
    capsys.readouterr()
    assert main(["sample", "--checkpoint", str(out / "checkpoint.pt"), "--length", "5"]) == 0
    assert main(["evaluate", "--checkpoint", str(out / "checkpoint.pt"), "--no-progress"]) == 0


