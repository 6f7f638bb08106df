"""The one tokeniser and split rule: blocks never cut a word or a character, lines never split."""

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnkit.data import DataError, tokens, words_from_text
from rnnkit.data import tokenizer as tk
from rnnkit.data.text import split_sizes


def source(tmp_path, data: bytes, block_bytes=tk.BLOCK_BYTES, name="t.txt"):
    path = tmp_path / name
    path.write_bytes(data)
    src = tk.TextSource(path, is_path=True, command="preprocess")
    src.block_bytes = block_bytes
    return src


def joined_pieces(src, level, fracs=(0.1, 0.1)):
    sizes = tk.split_units(src, level, *fracs)
    parts = ["", "", ""]
    for split, piece in tk.split_pieces(src, level, sizes):
        parts[split] += piece
    return sizes, parts


TEXT = "\ufeffthe cat sat\r\non the mat 😀\n\nalpha32 beta\u3000gamma\n" + "x" * 40 + " end"


@pytest.mark.parametrize("block_bytes", [1, 3, 7, 64, tk.BLOCK_BYTES])
def test_blocks_are_the_text_cut_at_whitespace_whatever_their_size(tmp_path, block_bytes):
    src = source(tmp_path, TEXT.encode())
    src.block_bytes = block_bytes
    blocks = list(src.blocks())
    assert "".join(blocks) == TEXT[1:]  # the byte-order mark is dropped
    for b in blocks[:-1]:
        assert b[-1] in " \t\r\n\x0b\x0c"  # never inside a word or a character


@pytest.mark.parametrize("block_bytes", [5, tk.BLOCK_BYTES])
def test_word_tokens_are_the_ptb_rule_whatever_the_blocks(tmp_path, block_bytes):
    src = source(tmp_path, TEXT.encode(), block_bytes)
    _, parts = joined_pieces(src, "word", (0.0, 0.0))
    assert tokens(parts[0], "word") == words_from_text(TEXT[1:])
    assert words_from_text(TEXT[1:])[-3:] == ["x" * 40, "end", "<eos>"]  # last line, no "\n"


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(["ab", "c", "😀é", " ", "\n", "\r\n", "\t"]), min_size=30, max_size=200),
       st.integers(1, 40))  # fmt: skip
def test_word_splits_are_whole_lines_in_file_order(tmp_path_factory, pieces, block_bytes):
    text = "".join(pieces)
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    try:
        n_train, n_valid, n_test = split_sizes(len(lines), 0.1, 0.1, unit="lines")
    except DataError:
        return
    src = source(tmp_path_factory.mktemp("w"), text.encode(), block_bytes)
    sizes, parts = joined_pieces(src, "word")
    assert sizes == (n_train, n_valid, n_test)
    expected = ("\n".join(lines[:n_train]), "\n".join(lines[n_train : n_train + n_valid]),
                "\n".join(lines[n_train + n_valid :]))  # fmt: skip
    assert [p.removesuffix("\n") for p in parts] == list(expected)
    assert all(p.endswith("\n") for p in parts)  # each split ends at a line end: no word cut


@settings(max_examples=40, deadline=None)
@given(st.text(min_size=20, max_size=300), st.integers(1, 30))
def test_char_splits_are_code_points_in_torch_rnn_sizes(tmp_path_factory, text, block_bytes):
    text = text.replace("\0", "").replace("\ufeff", "")
    if len(text) < 20:
        return
    src = source(tmp_path_factory.mktemp("c"), text.encode(), block_bytes)
    sizes, parts = joined_pieces(src, "char")
    assert sizes == split_sizes(len(text), 0.1, 0.1)
    assert [len(p) for p in parts] == list(sizes) and "".join(parts) == text


def test_a_word_at_the_split_point_is_never_cut(tmp_path):
    """train --data used to split by characters: 'alpha32' became 'alpha3' + '2'."""
    rng = random.Random(0)
    text = "".join(
        " ".join(f"alpha{rng.randint(0, 99)}" for _ in range(7)) + "\n" for _ in range(200)
    )
    src = source(tmp_path, text.encode())
    _, parts = joined_pieces(src, "word", (0.05, 0.05))
    words = set(text.split())
    for part in parts:
        assert set(tokens(part, "word")) - {"<eos>"} <= words


@pytest.mark.parametrize(
    "data, match",
    [
        (b"", "preprocess: .*t.txt: is empty"),
        (b"abc\ndef\x00", "preprocess: .*t.txt: is a binary file"),
        (
            "ok\ncafé".encode("latin-1"),
            r"preprocess: .*t.txt: is not valid UTF-8 text \(byte 0xe9 at offset 6\)",
        ),
    ],
)
def test_bad_files_name_the_command_the_file_and_the_offset(tmp_path, data, match):
    with pytest.raises(DataError, match=match):
        src = source(tmp_path, data, block_bytes=2)
        list(src.blocks())


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(DataError, match="train: .*nope.txt: no such file"):
        tk.TextSource(tmp_path / "nope.txt", is_path=True, command="train")
    with pytest.raises(DataError, match="is a directory"):
        tk.TextSource(tmp_path, is_path=True, command="train")
