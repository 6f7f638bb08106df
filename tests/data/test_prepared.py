"""prepare_corpus / load_prepared: exact round trip, word level by lines, corrupt files, old folders."""

import json

import numpy as np
import pytest

from rnnkit.data import DataError, Vocab, load_prepared, prepare_corpus

TEXT = "".join(f"line {i}: héllo wörld 😀 \u0915\u094d\n" for i in range(40))


def test_char_round_trip(tmp_path):
    meta = prepare_corpus(TEXT, "char", tmp_path / "out")
    vocab, ids = load_prepared(tmp_path / "out")
    # <unk> first, then every character of the training split seen at least twice
    assert vocab.tokens[0] == "<unk>" and set(vocab.tokens[1:]) == set(TEXT)
    assert {k: v.dtype for k, v in ids.items()} == dict.fromkeys(ids, np.dtype(np.uint8))
    assert all(isinstance(v, np.memmap) for v in ids.values())
    assert "".join(vocab.decode(ids[s]) for s in ("train", "valid", "test")) == TEXT
    assert meta["oov_tokens"] == {"train": 0, "valid": 0, "test": 0}
    n = len(TEXT)
    assert meta["counts"] == {"train": n - 2 * (n // 20), "valid": n // 20, "test": n // 20}
    assert meta["level"] == "char" and meta["source"] == "<text>"
    assert json.loads((tmp_path / "out" / "meta.json").read_text("utf-8")) == meta


def test_word_level_splits_lines_and_uses_unk(tmp_path):
    text = "".join(f" the cat sat {'zebra' if i == 19 else 'down'}\n" for i in range(20))
    path = tmp_path / "corpus.txt"
    path.write_text(text, encoding="utf-8")
    meta = prepare_corpus(
        path, level="word", out_dir=tmp_path / "w", valid_frac=0.1, test_frac=0.05
    )
    vocab, ids = load_prepared(tmp_path / "w")
    assert meta["counts"] == {"train": 17 * 5, "valid": 2 * 5, "test": 5}
    assert meta["source"] == str(path.resolve())
    assert vocab.tokens[:2] == ["<unk>", "<eos>"] and "zebra" not in vocab
    assert vocab.decode(ids["test"]) == "the cat sat <unk>\n"


def test_str_path_and_missing_file(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text(TEXT, encoding="utf-8")
    assert prepare_corpus(str(path), out_dir=tmp_path / "o")["source"] == str(path.resolve())
    with pytest.raises(DataError, match="nope.txt: no such file"):
        prepare_corpus(str(tmp_path / "nope.txt"), out_dir=tmp_path / "o")
    with pytest.raises(TypeError, match="out_dir is required"):
        prepare_corpus(TEXT)


@pytest.mark.parametrize(
    "name, damage, match",
    [
        ("train.npy", lambda p: p.write_bytes(p.read_bytes()[:60]), "train.npy: corrupt"),
        ("valid.npy", lambda p: p.unlink(), "valid.npy: no such file"),
        ("test.npy", lambda p: np.save(p, np.zeros(3, np.int64)), "test.npy: expected uint8"),
        ("test.npy", lambda p: np.save(p, np.full(51, 200, np.uint8)), "test.npy: ids outside"),
        ("vocab.json", lambda p: p.write_text("{", encoding="utf-8"), "vocab.json: not a valid"),
        ("meta.json", lambda p: p.unlink(), "meta.json: no such file"),
        ("meta.json", lambda p: p.write_text("[]", encoding="utf-8"), "meta.json: corrupt"),
    ],
)
def test_damaged_files_raise_data_error_naming_them(tmp_path, name, damage, match):
    prepare_corpus(TEXT, "char", tmp_path)
    damage(tmp_path / name)
    with pytest.raises(DataError, match=f"load_prepared: .*{match}"):
        load_prepared(tmp_path)


def test_no_temp_files_left_and_missing_folder(tmp_path):
    prepare_corpus(TEXT, "char", tmp_path)
    prepare_corpus(TEXT, "char", tmp_path)  # overwrite in place
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "meta.json",
        "test.npy",
        "train.npy",
        "valid.npy",
        "vocab.json",
    ]
    with pytest.raises(DataError, match="no such folder"):
        load_prepared(tmp_path / "absent")


def test_a_folder_of_format_version_1_still_loads(tmp_path):
    """What ``rnnkit preprocess`` wrote before streaming: int32 arrays, no counts."""
    vocab = Vocab.from_text(TEXT)
    vocab.save(tmp_path / "vocab.json")
    parts = (TEXT[:1000], TEXT[1000:1100], TEXT[1100:])
    for split, part in zip(("train", "valid", "test"), parts):
        np.save(tmp_path / f"{split}.npy", vocab.encode_text(part))
    meta = {"format": "rnnkit.prepared", "version": 1, "level": "char", "source": "<text>",
            "vocab_size": len(vocab), "valid_frac": 0.05, "test_frac": 0.05,
            "counts": {s: len(p) for s, p in zip(("train", "valid", "test"), parts)}}  # fmt: skip
    (tmp_path / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    loaded, ids = load_prepared(tmp_path)
    assert loaded == vocab and ids["train"].dtype == np.int32
    assert loaded.decode(ids["valid"]) == parts[1]


def test_a_newer_format_is_refused_with_a_hint(tmp_path):
    prepare_corpus(TEXT, "char", tmp_path)
    meta = json.loads((tmp_path / "meta.json").read_text("utf-8"))
    (tmp_path / "meta.json").write_text(json.dumps({**meta, "version": 99}), encoding="utf-8")
    with pytest.raises(DataError, match="version 99; re-run rnnkit preprocess"):
        load_prepared(tmp_path)
