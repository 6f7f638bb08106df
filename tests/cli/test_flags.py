"""Issue 11: every bad flag, on every subcommand, is one line ``rnnkit: error: …``, exit status 2,
before any work and with nothing written; an out-dir that cannot be used, or holds a run, too."""

import os

import pytest

from rnnkit.cli import main

from .test_cli import TINY, assert_clean_error, text


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A finished tiny run, for sample/evaluate and for the out-dir checks."""
    root = tmp_path_factory.mktemp("flags")
    (root / "t.txt").write_text(text())
    assert main(["train", "--data", str(root / "t.txt"), "--out-dir", str(root / "run"),
                 "--max-epochs", "1"] + TINY) == 0  # fmt: skip
    return root


TRAIN_BAD = [
    # (flags, the message's end): the 17 of issue 11, then more of the same kinds
    (["--valid-frac", "1.5"], "--valid-frac must be a number in [0, 1), got 1.5"),
    (["--valid-frac", "-0.1"], "--valid-frac must be a number in [0, 1), got -0.1"),
    (["--valid-frac", "0.99"], "--valid-frac + --test-frac must be below 1"),
    (["--learning-rate", "nan"], "--learning-rate must be a finite number > 0, got nan"),
    (["--learning-rate", "inf"], "--learning-rate must be a finite number > 0, got inf"),
    (["--device", "bogus"], "--device must be a torch device such as cpu, cuda or cuda:1"),
    (["--temperature", "nan"], "--temperature must be a finite number >= 0"),
    (["--checkpoint-every", "-3"], "--checkpoint-every must be an integer >= 0, got -3"),
    (["--grad-clip", "nan"], "--grad-clip must be a finite number >= 0, got nan"),
    (["--grad-clip", "-1"], "--grad-clip must be a finite number >= 0, got -1"),
    (["--init-range", "nan"], "--init-range must be a finite number >= 0, got nan"),
    (["--lr-decay-factor", "-0.5"], "--lr-decay-factor must be a finite number > 0, got -0.5"),
    (["--time-budget", "-5"], "--time-budget must be a finite number >= 0, got -5"),
    (["--eval-batch-size", "0"], "--eval-batch-size must be a positive integer, got 0"),
    (["--rnn-size", "abc"], "--rnn-size must be a positive integer, got 'abc'"),
    (["--dropout", "1"], "--dropout must be a number in [0, 1), got 1"),
    (["--max-epochs", "0"], "--max-epochs must be a positive integer, got 0"),
    (["--early-stop", "-1"], "--early-stop must be an integer >= 0, got -1"),
    (["--skip-nonfinite", "-1"], "--skip-nonfinite must be an integer >= 0, got -1"),
    (["--lr-patience", "0"], "--lr-patience must be a positive integer, got 0"),
    (["--lr-schedule", "cosine"], "--lr-schedule must be one of step, plateau, got 'cosine'"),
    (["--seed", "-1"], "--seed must be an integer in [0, 2**32), got -1"),
    (["--nce-alpha", "inf"], "--nce-alpha must be a finite number >= 0, got inf"),
    (["--resume", "--overwrite"], "give one of them"),
    (["--data-dir", "x"], "give either --data or --data-dir, not both"),
    (["--learn", "0.1"], "unrecognized arguments: --learn 0.1"),  # no abbreviations
]


@pytest.mark.parametrize("flags, message", TRAIN_BAD, ids=[" ".join(f) for f, _ in TRAIN_BAD])
def test_issue_11_bad_train_flags(run, tmp_path, capsys, flags, message):
    out = tmp_path / "out"
    rc = main(["train", "--data", str(run / "t.txt"), "--out-dir", str(out), *TINY, *flags])
    assert_clean_error(rc, capsys, "train: ", message)
    assert not out.exists()  # nothing written


@pytest.mark.parametrize("device", ["cuda", "mps", "cuda:7"])
def test_issue_11_absent_devices_are_refused_on_every_command(run, tmp_path, capsys, device):
    import torch

    if device.startswith("cuda") and torch.cuda.device_count() > int(device.partition(":")[2] or 0):
        pytest.skip(f"this machine has {device}")
    if device == "mps" and torch.backends.mps.is_available():
        pytest.skip("this machine has mps")
    ckpt = str(run / "run" / "checkpoint.pt")
    for argv in (["train", "--data", str(run / "t.txt"), "--out-dir", str(tmp_path / "o")],
                 ["sample", "--checkpoint", ckpt], ["evaluate", "--checkpoint", ckpt]):  # fmt: skip
        assert_clean_error(main([*argv, "--device", device]), capsys, f"--device {device}: this "
                           f"machine has")  # fmt: skip
    assert not (tmp_path / "o").exists()


OTHER_BAD = [
    (["preprocess", "--input", "T", "--output-dir", "OUT", "--valid-frac", "2"],
     "preprocess: --valid-frac must be a number in [0, 1), got 2"),
    (["sample", "--checkpoint", "CKPT", "--temperature", "nan"], "sample: --temperature must be"),
    (["sample", "--checkpoint", "CKPT", "--temperature", "-1"], "sample: --temperature must be"),
    (["sample", "--checkpoint", "CKPT", "--length", "0"], "sample: --length must be a positive"),
    (["evaluate", "--checkpoint", "CKPT", "--batch-size", "0"], "evaluate: --batch-size must be"),
    (["evaluate", "--checkpoint", "CKPT", "--seq-length", "-1"], "evaluate: --seq-length must be"),
    (["ram", "--data-dir", "D", "--out-dir", "OUT", "--location-std", "0"],
     "ram: --location-std must be a finite number > 0, got 0"),
    (["ram", "--data-dir", "D", "--out-dir", "OUT", "--momentum", "nan"],
     "ram: --momentum must be a number in [0, 1), got nan"),
    (["ram", "--out-dir", "OUT"], "ram: the following arguments are required: --data-dir"),
]  # fmt: skip


@pytest.mark.parametrize(
    "argv, message", OTHER_BAD, ids=[" ".join(a[:1] + a[-2:]) for a, _ in OTHER_BAD]
)
def test_issue_11_bad_flags_of_the_other_commands(run, tmp_path, capsys, argv, message):
    values = {"T": str(run / "t.txt"), "OUT": str(tmp_path / "out"), "D": str(tmp_path),
              "CKPT": str(run / "run" / "checkpoint.pt")}  # fmt: skip
    assert_clean_error(main([values.get(a, a) for a in argv]), capsys, message)
    assert not (tmp_path / "out").exists()


def test_issue_11_out_dir_that_cannot_be_used(run, tmp_path, capsys):
    (tmp_path / "afile").write_text("x")
    for out, message in ((tmp_path / "afile", "is a file, not a folder"),
                         (tmp_path / "afile" / "sub", "is a file, not a folder")):  # fmt: skip
        rc = main(["train", "--data", str(run / "t.txt"), "--out-dir", str(out)] + TINY)
        assert_clean_error(rc, capsys, f"train: --out-dir {out}", message)
    assert os.listdir(tmp_path) == ["afile"]


def test_issue_11_an_existing_run_is_never_replaced_silently(run, tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["train", "--data", str(run / "t.txt"), "--out-dir", str(out), "--max-epochs", "1"]
    assert main(argv + TINY) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    capsys.readouterr()
    assert_clean_error(main(argv + TINY), capsys, f"train: {out} already holds a run",
                       "use --resume to continue it, or --overwrite to replace it")  # fmt: skip
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before
    # --overwrite replaces it: a run with no complete epoch leaves no best.pt of the old one
    assert main(argv + TINY + ["--overwrite", "--time-budget", "1e-9"]) == 0
    assert "best.pt" not in os.listdir(out)
    assert {"checkpoint.pt", "log.json", "train.csv"} <= set(os.listdir(out))


def test_the_resume_table_of_the_docs_is_the_options_rules():
    import dataclasses
    import re
    from pathlib import Path

    from rnnkit.training.config import TrainConfig
    from rnnkit.training.loop_config import resume_rule
    from rnnkit.training.ram_trainer import RAMConfig

    doc = (Path(__file__).resolve().parents[2] / "docs" / "cli.md").read_text()
    rows = [line for line in doc.splitlines() if line.startswith("| ")
            and ("may change" in line or "compared by content" in line or "refused when" in line)]  # fmt: skip

    def rule_sets(cls):
        out: dict = {}
        for f in dataclasses.fields(cls):
            out.setdefault(resume_rule(f), set()).add("--" + f.name.replace("_", "-"))
        return out

    cells = [[set(re.findall(r"`(--[a-z-]+)`", c)) for c in row.split("|")[2:4]] for row in rows]
    train, ram = rule_sets(TrainConfig), rule_sets(RAMConfig)
    assert [c[0] for c in cells] == [train["applies"], train["data"], train["fixed"]]
    ram_flags = set().union(*ram.values())
    assert ram["applies"] == (train["applies"] & ram_flags) | cells[0][1]
    assert ram["data"] == cells[1][1]
