"""Where a language-model run's tokens come from: a text file, a prepared folder, PTB, or the embedded corpus.

Every source goes through :mod:`rnnkit.data`'s one tokeniser and vocabulary rule. A text file
(``--data``) is prepared by streaming into a memory-mapped corpus in the run's folder,
``out_dir/corpus``, which is reused while the file and the options are unchanged (so
``--resume`` and ``evaluate`` do not prepare it again). A model's own vocabulary can be
imposed (``evaluate`` on other text): unknown tokens are then read as ``<unk>`` and counted.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..data import (
    Corpus,
    DataError,
    Vocab,
    build_corpus,
    default_corpus_description,
    default_corpus_text,
    open_corpus,
    read_ptb,
    token_counts,
)
from ..data.arrays import Writer
from ..data.corpus import SPLITS

TEXT_MIN_COUNT = 2  # raw text: words/characters seen once are <unk> in training too
PTB_MIN_COUNT = 1  # Penn Treebank comes with its own <unk> and 10,000 types: keep them all


@dataclass
class LMData:
    """A run's vocabulary and ``(L,)`` token splits, and where they came from.

    ``oov`` counts, per split, the tokens that are not in the vocabulary (read as ``<unk>``).
    A corpus built in a staging folder becomes ``out_dir/corpus`` on :meth:`commit`;
    :meth:`discard` removes it (a run that fails before training leaves nothing behind).
    """

    vocab: Vocab
    splits: dict[str, np.ndarray]
    description: str
    oov: dict[str, int] = field(default_factory=dict)
    counts_are_train: bool = False  # vocab.counts are this training split's token counts
    _staged: tuple[Path, Path, list[Path]] | None = None
    _temp: tempfile.TemporaryDirectory | None = None

    def train_counts(self) -> np.ndarray:
        """``(V,)`` int64 count of every token in the training split (e.g. NCE's unigrams)."""
        if self.counts_are_train and self.vocab.counts is not None:
            return np.asarray(self.vocab.counts, dtype=np.int64)
        return token_counts(self.splits["train"], len(self.vocab))

    def commit(self) -> None:
        if self._staged is None:
            return
        staged, final, _ = self._staged
        self._staged = None
        if final.exists():  # an older corpus (other data or options), or another process's
            old = final.with_name(f".{final.name}-old-{staged.name}")
            final.rename(old)
            shutil.rmtree(old, ignore_errors=True)
        staged.rename(final)  # the open memory maps follow the files (POSIX)

    def discard(self) -> None:
        staged, self._staged = self._staged, None
        _remove_staging(staged)


def _remove_staging(staged: tuple[Path, Path, list[Path]] | None) -> None:
    if staged is None:
        return
    folder, _, created = staged
    shutil.rmtree(folder, ignore_errors=True)
    for parent in reversed(created):  # folders made for the staging, if still empty
        try:
            parent.rmdir()
        except OSError:
            break


def _check_int(command: str, flag: str, value: Any, least: int) -> None:
    if value is not None and (
        isinstance(value, bool) or not isinstance(value, int) or value < least
    ):
        raise DataError(f"{command}: {flag} must be an integer >= {least}, got {value!r}")


def check_vocab_options(command: str, level: str, min_count: Any, max_vocab: Any) -> None:
    """One-line errors naming ``command`` for bad ``--min-count`` / ``--max-vocab`` values."""
    _check_int(command, "--min-count", min_count, 1)
    _check_int(command, "--max-vocab", max_vocab, 3 if level == "word" else 2)


def check_fractions(command: str, valid_frac: Any, test_frac: Any) -> None:
    """One-line errors naming ``command`` for bad ``--valid-frac`` / ``--test-frac`` values."""
    for flag, frac in (("--valid-frac", valid_frac), ("--test-frac", test_frac)):
        if not isinstance(frac, (int, float)) or not 0.0 <= frac < 1.0:
            raise DataError(f"{command}: {flag} must be in [0, 1), got {frac!r}")
    if valid_frac + test_frac >= 1.0:
        raise DataError(
            f"{command}: --valid-frac + --test-frac must be below 1 (training needs the rest), "
            f"got {valid_frac} + {test_frac}"
        )


def _percent(n: int, total: int) -> str:
    return f"{100.0 * n / max(total, 1):.2f}%"


def _unk_note(corpus_meta: dict, splits: dict) -> str:
    unk = corpus_meta.get("oov_tokens", {})
    if not unk:
        return ""
    return (
        f"; read as <unk>: {_percent(unk['train'], len(splits['train']))} of training and "
        f"{_percent(unk['valid'], len(splits['valid']))} of validation tokens"
    )


def _thresholds(meta: dict) -> str:
    if meta.get("vocab_from") != "train split":
        return "the model's vocabulary"
    cap = meta.get("max_vocab")
    return f"min count {meta['min_count']}" + (f", max vocab {cap}" if cap else "")


def _recode(corpus: Corpus, vocab: Vocab, command: str, where: Path) -> tuple[dict, dict]:
    """The corpus's splits in ``vocab``'s ids (written under ``where``), and the unknown counts."""
    index = {t: i for i, t in enumerate(vocab.tokens)}
    table = np.array([index.get(t, -1) for t in corpus.vocab.tokens], dtype=np.int64)
    splits, oov = {}, {}
    for s in SPLITS:
        writer = Writer(where / f"{s}.npy", vocab.index_dtype)
        n_unknown = 0
        for start in range(0, len(corpus.splits[s]), 1 << 22):
            ids = table[np.asarray(corpus.splits[s][start : start + (1 << 22)])]
            unknown = ids < 0
            n_unknown += int(np.count_nonzero(unknown))
            if n_unknown and vocab.unk_index is None:
                raise DataError(
                    f"{command}: {corpus.folder} holds tokens that are not in the model's "
                    f"vocabulary, which has no <unk> (e.g. {corpus.vocab.tokens[int(np.argmin(table))]!r})"
                )
            ids[unknown] = vocab.unk_index or 0
            writer.append(ids)
        writer.finish()
        splits[s] = (
            np.load(where / f"{s}.npy", mmap_mode="r")
            if writer.n
            else np.zeros(0, vocab.index_dtype)
        )
        oov[s] = n_unknown
    return splits, oov


def _staging(cache: Path) -> tuple[Path, list[Path]]:
    created = [p for p in reversed(cache.parents) if not p.exists()]  # outermost first
    cache.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{cache.name}-", dir=cache.parent)), created


def _from_file(config: Any, vocab: Vocab | None, cache: Path | None, write_cache: bool,
               progress: bool, command: str) -> LMData:  # fmt: skip
    path = Path(config.data)
    level = vocab.level if vocab is not None else config.level
    min_count = config.min_count or TEXT_MIN_COUNT
    try:
        stat = path.stat()
        fingerprint = {"source": str(path.resolve()), "size": stat.st_size,
                       "mtime_ns": stat.st_mtime_ns, "level": level,
                       "valid_frac": config.valid_frac, "test_frac": config.test_frac}  # fmt: skip
    except OSError:
        fingerprint = None  # build_corpus names the problem
    options = {"min_count": min_count, "max_vocab": config.max_vocab}
    corpus = None
    if cache is not None and fingerprint is not None and (cache / "meta.json").is_file():
        try:
            found = open_corpus(cache, command=command)
            built = found.meta.get("build") or {}
            if {k: built.get(k) for k in fingerprint} == fingerprint and (
                found.vocab == vocab if vocab is not None
                else {k: built.get(k) for k in options} == options
            ):  # fmt: skip
                corpus = found
        except DataError:
            corpus = None  # damaged: prepare it again
    staged = temp = None
    if corpus is None:
        if cache is not None and write_cache:
            folder, created = _staging(cache)
            staged = (folder, cache, created)
        else:
            temp = tempfile.TemporaryDirectory(prefix="rnnkit-corpus-")
            folder = Path(temp.name)
        try:
            corpus = build_corpus(
                path, level, folder, valid_frac=config.valid_frac, test_frac=config.test_frac,
                min_count=min_count, max_vocab=config.max_vocab, vocab=vocab, is_path=True,
                progress=progress, command=command,
                extra_meta={"build": {**(fingerprint or {}), **options}},
            )  # fmt: skip
        except BaseException:
            _remove_staging(staged)
            raise
    meta = corpus.meta
    where = "a temporary folder" if temp is not None else cache
    description = (
        f"{path}: {meta['bytes']:,} bytes, {sum(meta['units'].values()):,} {meta['split_unit']}; "
        f"{len(corpus.vocab):,} {level} types ({_thresholds(meta)})"
        f"{_unk_note(meta, corpus.splits)}; {meta['dtype']} tokens in {where}"
    )
    return LMData(corpus.vocab, corpus.splits, description, dict(meta["oov_tokens"]),
                  counts_are_train=meta.get("vocab_from") == "train split",
                  _staged=staged, _temp=temp)  # fmt: skip


def load_lm_data(
    config: Any,
    *,
    vocab: Vocab | None = None,
    cache: str | Path | None = None,
    write_cache: bool = True,
    progress: bool = False,
    command: str = "train",
) -> LMData:
    """The vocabulary and token splits described by a :class:`~rnnkit.training.config.TrainConfig`.

    Args:
        config: the run's configuration (``data``, ``data_dir``, ``level``, ``min_count``,
            ``max_vocab``, the split fractions, ``max_corpus_bytes``).
        vocab: encode with this vocabulary (a model's) instead of building one; a source of
            another level is refused.
        cache: where the prepared corpus of ``--data FILE`` lives (``out_dir/corpus``); reused
            when it matches. Without one it is prepared in a temporary folder.
        write_cache: prepare a missing or stale ``cache`` (staged until :meth:`LMData.commit`).
        progress: progress bars while preparing a text file.
        command: the command that error messages name.
    """
    level = vocab.level if vocab is not None else config.level
    check_vocab_options(command, level, config.min_count, config.max_vocab)
    check_fractions(command, config.valid_frac, config.test_frac)
    if config.data and config.data_dir:
        raise DataError(f"{command}: give either --data or --data-dir, not both")
    cache = Path(cache) if cache is not None else None
    if config.data:
        return _from_file(config, vocab, cache, write_cache, progress, command)
    if config.data_dir:
        folder = Path(config.data_dir)
        if (folder / "ptb.train.txt").is_file():
            if vocab is not None and vocab.level != "word":
                raise DataError(
                    f"{command}: the model is char-level, but {folder} (Penn Treebank) holds "
                    f"word-level tokens; evaluate a word-level model on it"
                )
            v, splits, oov = read_ptb(
                folder, min_count=config.min_count or PTB_MIN_COUNT, max_vocab=config.max_vocab,
                vocab=vocab, command=command,
            )  # fmt: skip
            return LMData(v, splits, f"Penn Treebank in {folder}; {len(v):,} word types", oov,
                          counts_are_train=vocab is None)  # fmt: skip
        corpus = open_corpus(folder, command=command)
        meta = corpus.meta
        for flag, key in (("--min-count", "min_count"), ("--max-vocab", "max_vocab")):
            given = getattr(config, key)
            if vocab is None and given is not None and given != meta.get(key):
                raise DataError(
                    f"{command}: {folder} was prepared with {flag} {meta.get(key)}, not {given}; "
                    f"the vocabulary is made by rnnkit preprocess: run it again with {flag} {given}"
                )
        description = (
            f"prepared corpus in {folder}; {len(corpus.vocab):,} {corpus.vocab.level} types"
        )
        oov = dict(meta.get("oov_tokens", dict.fromkeys(SPLITS, 0)))
        data = LMData(corpus.vocab, corpus.splits, description + _unk_note(meta, corpus.splits),
                      oov, counts_are_train=meta.get("vocab_from") == "train split")  # fmt: skip
        if vocab is None or vocab == corpus.vocab:
            return data
        if vocab.level != corpus.vocab.level:
            raise DataError(
                f"{command}: the model is {vocab.level}-level, but {folder} holds "
                f"{corpus.vocab.level}-level tokens; evaluate a {corpus.vocab.level}-level model on it"
            )
        data._temp = tempfile.TemporaryDirectory(prefix="rnnkit-corpus-")
        data.vocab = vocab
        data.splits, data.oov = _recode(corpus, vocab, command, Path(data._temp.name))
        data.counts_are_train = False
        return data
    text = default_corpus_text(config.max_corpus_bytes)
    corpus = build_corpus(
        text, "char", None, valid_frac=config.valid_frac, test_frac=config.test_frac,
        min_count=config.min_count or TEXT_MIN_COUNT, max_vocab=config.max_vocab, vocab=vocab,
        is_path=False, command=command,
    )  # fmt: skip
    description = (
        f"{default_corpus_description(config.max_corpus_bytes)}; {len(corpus.vocab)} char types "
        f"({_thresholds(corpus.meta)}){_unk_note(corpus.meta, corpus.splits)}"
    )
    return LMData(corpus.vocab, corpus.splits, description, dict(corpus.meta["oov_tokens"]),
                  counts_are_train=vocab is None)  # fmt: skip
