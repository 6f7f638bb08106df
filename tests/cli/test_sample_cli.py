"""``rnnkit sample``: --top-k, --top-p, --num-samples, --start-file, --seed (issue 14)."""

import pytest

from rnnkit.cli import main

from .test_cli import TINY, assert_clean_error, text


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    root = tmp_path_factory.mktemp("sample")
    (root / "t.txt").write_text(text(2000))
    assert main(["train", "--data", str(root / "t.txt"), "--out-dir", str(root / "run"),
                 "--max-epochs", "1"] + TINY) == 0  # fmt: skip
    return root / "run" / "checkpoint.pt"


def sample(capsys, ckpt, *args):
    assert main(["sample", "--checkpoint", str(ckpt), "--length", "60", *args]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    return captured.out


def test_the_same_seed_gives_the_same_text(ckpt, capsys):
    flags = ["--top-k", "5", "--top-p", "0.9", "--seed", "3"]
    first, again = sample(capsys, ckpt, *flags), sample(capsys, ckpt, *flags)
    other = sample(capsys, ckpt, "--top-k", "5", "--top-p", "0.9", "--seed", "4")
    assert first == again and first != other


def test_top_k_1_and_a_tiny_top_p_are_argmax(ckpt, capsys):
    greedy = sample(capsys, ckpt, "--argmax", "--start-text", "to ")
    assert sample(capsys, ckpt, "--top-k", "1", "--seed", "1", "--start-text", "to ") == greedy
    assert sample(capsys, ckpt, "--top-p", "1e-6", "--seed", "2", "--start-text", "to ") == greedy
    hot = sample(capsys, ckpt, "--temperature", "3", "--seed", "1", "--start-text", "to ")
    assert hot != greedy  # the flags above did filter


def test_num_samples_prints_each_sample_under_a_header(ckpt, capsys):
    out = sample(capsys, ckpt, "--num-samples", "3", "--seed", "5", "--start-text", "be ")
    blocks = out.split("--- sample ")[1:]
    assert [b.split(" ---\n")[0] for b in blocks] == ["1 of 3", "2 of 3", "3 of 3"]
    bodies = [b.split(" ---\n", 1)[1].rstrip("\n") for b in blocks]
    assert all(b.startswith("be ") and len(b) == 3 + 60 for b in bodies)
    assert len(set(bodies)) == 3  # independent rows, not one sample three times
    assert sample(capsys, ckpt, "--num-samples", "3", "--seed", "5", "--start-text", "be ") == out


def test_start_file_is_the_same_prompt_as_start_text(ckpt, capsys, tmp_path):
    prompt = "that is\nthe "
    (tmp_path / "p.txt").write_text(prompt)
    from_file = sample(capsys, ckpt, "--start-file", str(tmp_path / "p.txt"), "--seed", "9")
    assert from_file == sample(capsys, ckpt, "--start-text", prompt, "--seed", "9")
    assert from_file.startswith(prompt)


@pytest.mark.parametrize("flags, message", [
    (["--start-text", "a", "--start-file", "F"], "sample: give either --start-text or "
     "--start-file, not both"),
    (["--start-file", "MISSING"], "sample: --start-file MISSING: no such file"),
    (["--top-k", "-1"], "sample: --top-k must be an integer >= 0, got -1"),
    (["--top-p", "0"], "sample: --top-p must be a number in (0, 1] (1: off), got 0"),
    (["--top-p", "1.5"], "sample: --top-p must be a number in (0, 1] (1: off), got 1.5"),
    (["--num-samples", "0"], "sample: --num-samples must be a positive integer, got 0"),
])  # fmt: skip
def test_bad_sampling_flags_are_one_line(ckpt, capsys, tmp_path, flags, message):
    (tmp_path / "F").write_text("x")
    names = {"F": str(tmp_path / "F"), "MISSING": str(tmp_path / "missing.txt")}
    argv = ["sample", "--checkpoint", str(ckpt), *[names.get(f, f) for f in flags]]
    assert_clean_error(main(argv), capsys, message.replace("MISSING", names["MISSING"]))


def test_a_start_file_that_is_not_utf8_is_one_line(ckpt, capsys, tmp_path):
    (tmp_path / "b.bin").write_bytes(b"\xff\xfe\x00abc")
    rc = main(["sample", "--checkpoint", str(ckpt), "--start-file", str(tmp_path / "b.bin")])
    assert_clean_error(rc, capsys, f"sample: --start-file {tmp_path / 'b.bin'}: is not UTF-8")
