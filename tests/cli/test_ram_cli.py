"""``rnnkit ram``: flags generated from RAMConfig, a tiny run end to end, clear failures."""

import argparse

import numpy as np
import pytest

from rnnkit.cli import ram
from rnnkit.cli.config import config_from_args, given_flags
from rnnkit.data.errors import DataError
from rnnkit.data.mnist import FILES, write_idx
from rnnkit.training.ram_trainer import RAMConfig

TINY = ["--hidden-size", "8", "--glimpse-hidden", "4", "--locator-hidden", "4",
        "--image-hidden", "8", "--n-glimpses", "2", "--batch-size", "4", "--valid-size", "4",
        "--max-epochs", "1", "--no-progress"]  # fmt: skip


def parse(argv):
    parser = argparse.ArgumentParser(prog="rnnkit")
    ram.add_parser(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(["ram", *argv])


def write_mnist(folder, n_train=12, n_test=4):
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", n_train), ("test", n_test)):
        write_idx(folder / FILES[split][0], rng.integers(0, 256, (n, 28, 28), dtype=np.uint8))
        write_idx(folder / FILES[split][1], (np.arange(n) % 10).astype(np.uint8))
    return folder


def test_flags_cover_the_config_with_the_original_defaults(tmp_path):
    args = parse(["--data-dir", "d"])
    config = config_from_args(RAMConfig, args)
    assert config == RAMConfig(data_dir="d")
    assert (config.learning_rate, config.min_lr, config.saturate_epoch) == (0.01, 1e-5, 800)
    assert (config.momentum, config.batch_size, config.n_glimpses) == (0.9, 20, 7)
    assert parse(["--data-dir", "d", "--translated", "--lstm"]).translated is True
    assert given_flags(parse(["--data-dir", "d", "--max-tries", "5"])) == {"data_dir", "early_stop"}
    assert parse(["--data-dir", "d", "--max-tries", "5"]).early_stop == 5  # the original's name


def test_data_dir_is_required(capsys):
    with pytest.raises(SystemExit):
        parse([])
    assert "--data-dir" in capsys.readouterr().err


def test_tiny_run_writes_checkpoint_log_and_plot(tmp_path, capsys):
    data = write_mnist(tmp_path / "mnist")
    out = tmp_path / "run"
    args = parse(["--data-dir", str(data), "--out-dir", str(out), *TINY])
    assert args.run(args) == 0
    assert {"checkpoint.pt", "log.json", "glimpses.png", "errors.png"} <= {
        p.name for p in out.iterdir()
    }
    assert "test error" in capsys.readouterr().out


def test_missing_files_fail_with_the_file_name(tmp_path):
    data = write_mnist(tmp_path / "mnist")
    (data / FILES["test"][0]).unlink()
    args = parse(["--data-dir", str(data), "--out-dir", str(tmp_path / "run"), *TINY])
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte.gz: no such file"):
        ram.run(args)
