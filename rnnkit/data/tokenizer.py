"""The one tokeniser and split rule of rnnkit's text corpora, applied to text read in blocks.

Replaces the tokenising half of torch-rnn's ``scripts/preprocess.py`` (characters, split by
character fractions) and of the original rnn package's ``dl.loadPTB`` (words of a line, then
``<eos>``), and makes them one rule for ``rnnkit preprocess``, ``rnnkit train --data`` and
``rnnkit evaluate --data`` alike:

- **char level**: a token is one Unicode code point (never half a surrogate pair, never a
  byte). The text is split into train / valid / test in file order by *characters*.
- **word level**: a line ends at ``"\\n"`` only; its words are what ``str.split()`` returns
  (any run of whitespace separates them, so ``"\\r\\n"`` line ends are harmless), followed by
  ``<eos>``; a last line without ``"\\n"`` gets its ``<eos>`` too. The text is split in file
  order by *lines*, so a word is never cut in two.

A file is read in blocks of about 4 MiB, each ending at ASCII whitespace (a line end when
there is one), so no word or multi-byte character straddles two blocks and memory does not
grow with the file. Only a file with megabytes of text without ASCII whitespace makes a
block grow.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal, overload

import numpy as np

from .errors import DataError
from .text import split_sizes

EOS = "<eos>"
BLOCK_BYTES = 1 << 22  # 4 MiB: the transient arrays of one block stay ~100 MB
_ASCII_SPACE = b" \t\r\x0b\x0c"
_BOM = b"\xef\xbb\xbf"


class TextSource:
    """UTF-8 text, from a file or a ``str``, read in blocks that end at whitespace.

    Args:
        text_or_path: a ``Path`` (or ``str`` path, with ``is_path=True``) or the text itself.
        command: the command or function named in error messages.

    Every block is checked (no NUL byte, strict UTF-8); errors are :class:`DataError` naming
    ``command``, the file and, for bad UTF-8, the byte offset.
    """

    def __init__(self, text_or_path: str | os.PathLike[str], *, is_path: bool, command: str = "build_corpus") -> None:
        self.command, self.block_bytes = command, BLOCK_BYTES
        if is_path:
            p = Path(text_or_path)
            self.path: Path | None = p
            self.name = str(p)
            if not p.exists():
                raise DataError(f"{command}: {p}: no such file")
            if p.is_dir():
                raise DataError(f"{command}: {p}: is a directory, expected a UTF-8 text file")
            try:
                self.n_bytes = p.stat().st_size
            except OSError as e:
                raise DataError(f"{command}: {p}: cannot be read ({e.strerror or e})") from e
        else:
            self.path, self.name = None, "<text>"
            self._data = str(text_or_path).encode("utf-8", "surrogatepass")
            self.n_bytes = len(self._data)
        if self.n_bytes == 0:
            raise DataError(f"{command}: {self.name}: is empty, expected UTF-8 text")

    def _open(self):
        if self.path is None:
            return io.BytesIO(self._data)
        try:
            return open(self.path, "rb")  # noqa: SIM115 -- closed by the caller's `with`
        except OSError as e:
            raise DataError(
                f"{self.command}: {self.path}: cannot be read ({e.strerror or e})"
            ) from e

    def _raw_blocks(self, block_bytes: int) -> Iterator[tuple[int, bytes]]:
        """``(offset, bytes)`` blocks, each ending at ASCII whitespace but the last."""
        with self._open() as f:
            carry, offset = b"", 0
            while True:
                data = f.read(block_bytes)
                if not data:
                    if carry:
                        yield offset, carry
                    return
                buf = carry + data if carry else data
                cut = buf.rfind(b"\n")
                if cut < 0:
                    cut = max(buf.rfind(bytes([c])) for c in _ASCII_SPACE)
                if cut < 0:  # no whitespace at all yet: keep reading (a very long word)
                    carry = buf
                    continue
                yield offset, buf[: cut + 1]
                carry = buf[cut + 1 :]
                offset += cut + 1

    def blocks(self, progress: Any = None) -> Iterator[str]:
        """The text in decoded blocks; ``progress`` (a tqdm bar or None) advances by bytes."""
        for offset, raw in self._raw_blocks(self.block_bytes):
            if progress is not None:
                progress.update(len(raw))
            if offset == 0 and raw.startswith(_BOM):
                raw = raw[len(_BOM) :]
                offset = len(_BOM)
            if b"\0" in raw:
                raise DataError(
                    f"{self.command}: {self.name}: is a binary file (contains NUL bytes), "
                    f"expected UTF-8 text"
                )
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError as e:
                bad = raw[e.start : e.start + 1].hex()
                raise DataError(
                    f"{self.command}: {self.name}: is not valid UTF-8 text (byte 0x{bad} at "
                    f"offset {offset + e.start}); is it a binary file?"
                ) from None


def units(text: str, level: str) -> int:
    """How many split units ``text`` holds: characters, or line ends at word level."""
    return len(text) if level == "char" else text.count("\n")


@overload
def tokens(text: str, level: Literal["char"]) -> np.ndarray: ...
@overload
def tokens(text: str, level: Literal["word"]) -> list[str]: ...
@overload
def tokens(text: str, level: str) -> np.ndarray | list[str]: ...
def tokens(text: str, level: str) -> np.ndarray | list[str]:
    """The tokens of ``text``: ``(L,)`` uint32 code points, or a list of words and ``<eos>``.

    At word level ``text`` must end at a line end (or at whitespace) for its last word to be
    whole; every ``"\\n"`` becomes ``<eos>``.

    Example:
        >>> tokens(" the cat\\n sat\\n", "word")
        ['the', 'cat', '<eos>', 'sat', '<eos>']
        >>> tokens("a😀", "char").tolist()
        [97, 128512]
    """
    if level == "char":
        return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")
    # A literal "<eos>" word in the text is the same token as a line end, as in PTB readers.
    return text.replace("\n", f" {EOS} ").split()


def scan(source: TextSource, level: str, progress: Any = None) -> int:
    """The number of split units of the whole source (a first, cheap pass that validates it).

    At word level a last line without ``"\\n"`` counts as a line.
    """
    n, last = 0, ""
    for text in source.blocks(progress):
        n += units(text, level)
        last = text[-1:] or last
    if level == "word" and last != "\n":
        n += 1
    return n


def _after_nth_newline(text: str, k: int) -> int:
    i = -1
    for _ in range(k):
        i = text.find("\n", i + 1)
    return i + 1


def split_pieces(
    source: TextSource,
    level: str,
    sizes: tuple[int, int, int],
    progress: Any = None,
    stop_after: int = 2,
) -> Iterator[tuple[int, str]]:
    """``(split index, text)`` pieces of the source in file order; a piece never crosses a split.

    ``sizes`` are the units (characters, or lines) of train, valid and test, as from
    :func:`split_sizes`. At word level the last piece ends with ``"\\n"`` (added when the
    file lacks it), so every line yields its ``<eos>``. ``stop_after`` is the last split
    wanted (0: only train, e.g. to count the vocabulary).
    """
    bounds = (sizes[0], sizes[0] + sizes[1])
    split, pos = 0, 0
    blocks = source.blocks(progress)
    text = next(blocks, None)
    while text is not None:
        following = next(blocks, None)
        if following is None and level == "word" and not text.endswith("\n"):
            text += "\n"
        while split < 2:
            k = bounds[split] - pos
            if k > units(text, level):
                break
            cut = k if level == "char" else _after_nth_newline(text, k)
            if cut:
                yield split, text[:cut]
            text, pos, split = text[cut:], pos + k, split + 1
            if split > stop_after:
                return
        if text:
            yield split, text
            pos += units(text, level)
        text = following


def split_units(
    source: TextSource, level: str, valid_frac: float, test_frac: float, progress: Any = None
) -> tuple[int, int, int]:
    """``(train, valid, test)`` sizes in units (characters or lines) of the split rule."""
    total = scan(source, level, progress)
    try:
        return split_sizes(
            total, valid_frac, test_frac, unit="characters" if level == "char" else "lines"
        )
    except DataError as e:
        raise DataError(f"{source.command}: {source.name}: {e}") from None
