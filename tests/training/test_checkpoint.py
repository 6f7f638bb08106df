"""Checkpoints: atomic writes (temp file + rename) and validated, one-line-error reads."""

import os
import pickle
import random

import numpy as np
import pytest
import torch

from rnnkit.training import checkpoint
from rnnkit.training.checkpoint import (
    FORMAT,
    CheckpointError,
    load_checkpoint,
    rng_state,
    save_atomic,
    set_rng_state,
)


def minimal_checkpoint(**extra):
    return {
        "format": FORMAT,
        "model_config": {"vocab_size": 3},
        "model": {"w": torch.arange(6.0)},
        "vocab": {"level": "char", "tokens": ["a", "b", "c"]},
        "config": {"seed": 0},
        **extra,
    }


def test_save_then_load_round_trips(tmp_path):
    path = save_atomic(minimal_checkpoint(note="x"), tmp_path / "sub" / "checkpoint.pt")
    assert path == tmp_path / "sub" / "checkpoint.pt"
    ckpt = load_checkpoint(path)
    assert ckpt["note"] == "x"
    assert torch.equal(ckpt["model"]["w"], torch.arange(6.0))
    assert os.listdir(tmp_path / "sub") == ["checkpoint.pt"]  # no temporary file left


def test_save_writes_a_temp_file_in_the_same_folder_then_renames(tmp_path, monkeypatch):
    target = tmp_path / "checkpoint.pt"
    target.write_bytes(b"old")
    replaced = []
    real_replace = os.replace

    def spy(src, dst):
        # At rename time the old file is still intact and the new one is complete.
        assert target.read_bytes() == b"old"
        assert torch.load(src, weights_only=False)["format"] == FORMAT
        replaced.append((os.fspath(src), os.fspath(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(checkpoint.os, "replace", spy)
    save_atomic(minimal_checkpoint(), target)
    assert len(replaced) == 1
    src, dst = replaced[0]
    assert dst == os.fspath(target)
    assert os.path.dirname(src) == os.fspath(tmp_path) and src != dst
    assert not os.path.exists(src)
    assert load_checkpoint(target)["format"] == FORMAT


@pytest.mark.parametrize("exc", [RuntimeError("disk full"), KeyboardInterrupt()])
def test_failed_save_leaves_the_old_file_intact(tmp_path, monkeypatch, exc):
    target = tmp_path / "checkpoint.pt"
    save_atomic(minimal_checkpoint(version=1), target)
    old = target.read_bytes()

    def partial_save(obj, f, *args, **kwargs):
        f.write(b"PK\x03\x04 half a checkpoint")
        f.flush()
        raise exc

    monkeypatch.setattr(checkpoint.torch, "save", partial_save)
    with pytest.raises(type(exc)):
        save_atomic(minimal_checkpoint(version=2), target)
    monkeypatch.undo()
    assert target.read_bytes() == old
    assert load_checkpoint(target)["version"] == 1
    assert os.listdir(tmp_path) == ["checkpoint.pt"]  # the partial temp file is gone


def test_failed_first_save_leaves_nothing(tmp_path, monkeypatch):
    def failing_save(obj, f, *args, **kwargs):
        f.write(b"partial")
        raise OSError("no space left on device")

    monkeypatch.setattr(checkpoint.torch, "save", failing_save)
    with pytest.raises(OSError):
        save_atomic(minimal_checkpoint(), tmp_path / "checkpoint.pt")
    assert os.listdir(tmp_path) == []


def assert_one_line_error(path, match):
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    message = str(info.value)
    assert "\n" not in message
    assert str(path) in message
    assert match in message
    assert isinstance(info.value, ValueError)


def test_missing_file(tmp_path):
    assert_one_line_error(tmp_path / "nope.pt", "no such file")


def test_directory_is_not_a_checkpoint(tmp_path):
    assert_one_line_error(tmp_path, "no such file")


@pytest.mark.parametrize(
    "content",
    [b"", b"this is not a checkpoint\n", bytes(range(256)) * 4, b"PK\x03\x04" + b"\0" * 100],
    ids=["empty", "text", "binary", "fake-zip"],
)
def test_garbage_file(tmp_path, content):
    path = tmp_path / "checkpoint.pt"
    path.write_bytes(content)
    assert_one_line_error(path, "not a readable rnnkit checkpoint")


def test_truncated_checkpoint(tmp_path):
    path = tmp_path / "checkpoint.pt"
    save_atomic(minimal_checkpoint(big=torch.zeros(10_000)), path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    assert_one_line_error(path, "not a readable rnnkit checkpoint")


def test_plain_pickle_is_not_loaded(tmp_path):
    path = tmp_path / "checkpoint.pt"
    path.write_bytes(pickle.dumps([1, 2, 3]))
    with pytest.raises(CheckpointError, match="checkpoint"):
        load_checkpoint(path)


@pytest.mark.parametrize(
    "obj",
    [torch.zeros(3), {"model": {}}, {"format": "something-else", "model": {}}, [FORMAT]],
    ids=["tensor", "dict-without-format", "other-format", "list"],
)
def test_non_rnnkit_torch_file(tmp_path, obj):
    path = tmp_path / "other.pt"
    torch.save(obj, path)
    assert_one_line_error(path, "not an rnnkit language-model checkpoint")


def test_incomplete_checkpoint_names_the_missing_keys(tmp_path):
    path = tmp_path / "checkpoint.pt"
    ckpt = minimal_checkpoint()
    del ckpt["vocab"], ckpt["model"]
    torch.save(ckpt, path)
    assert_one_line_error(path, "missing model, vocab")


def test_rng_state_round_trip():
    random.seed(1)
    np.random.seed(1)
    torch.manual_seed(1)
    state = rng_state()
    expected = (random.random(), np.random.rand(), torch.rand(1).item())
    random.seed(2)
    np.random.seed(2)
    torch.manual_seed(2)
    set_rng_state(state)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == expected
