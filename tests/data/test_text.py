"""read_text errors name the file; split_text keeps file order and torch-rnn's sizes."""

import pytest

from rnnkit.data import DataError, read_text, split_text
from rnnkit.data.text import split_sizes, write_bytes_atomic


@pytest.mark.parametrize(
    "name, content, match",
    [
        ("empty.txt", b"", "is empty"),
        ("nul.bin", b"abc\x00def", "binary file .*NUL"),
        ("latin1.txt", "café".encode("latin-1"), "not valid UTF-8.*0xe9.*offset 3"),
        ("missing.txt", None, "no such file"),
        ("folder", "dir", "is a directory"),
    ],
)
def test_read_text_errors_name_the_file(tmp_path, name, content, match):
    path = tmp_path / name
    if content == "dir":
        path.mkdir()
    elif content is not None:
        path.write_bytes(content)
    with pytest.raises(DataError, match=f"{name}: .*{match}") as info:
        read_text(path)
    assert "\n" not in str(info.value)


def test_read_text_keeps_code_points_and_drops_bom(tmp_path):
    path = tmp_path / "t.txt"
    path.write_bytes("\ufeffa😀\r\nb".encode())
    assert read_text(path) == "a😀\r\nb"
    assert read_text(str(path)) == "a😀\r\nb"


def test_split_text_fractions_and_order():
    text = "".join(chr(0x4E00 + i) for i in range(1000))
    train, valid, test = split_text(text)
    assert (len(train), len(valid), len(test)) == (900, 50, 50)
    assert train + valid + test == text
    assert split_sizes(1115394) == (1115394 - 2 * 55769, 55769, 55769)  # Tiny Shakespeare
    assert split_text(list(range(10)), 0.2, 0.1) == (list(range(7)), [7, 8], [9])


def test_split_text_too_short_and_bad_fractions():
    with pytest.raises(DataError, match="19 characters is too short"):
        split_text("x" * 19)
    with pytest.raises(ValueError, match="valid_frac"):
        split_text("x" * 100, valid_frac=1.5)
    with pytest.raises(ValueError, match="< 1"):
        split_text("x" * 100, valid_frac=0.5, test_frac=0.5)
    assert split_text("abc", 0.0, 0.0) == ("abc", "", "")


def test_write_bytes_atomic_replaces_and_cleans_up(tmp_path):
    path = tmp_path / "f.bin"
    write_bytes_atomic(path, b"old")
    write_bytes_atomic(path, b"new")
    assert path.read_bytes() == b"new"
    with pytest.raises(TypeError):
        write_bytes_atomic(path, "not bytes")
    assert path.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["f.bin"]
