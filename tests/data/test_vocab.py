"""Vocab: exact Unicode round trips, word ordering, unknowns, JSON persistence."""

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnkit.data import DataError, Vocab


@settings(max_examples=60, deadline=None)
@given(st.text(min_size=1))
def test_char_round_trip_is_exact_on_any_unicode(text):
    v = Vocab.from_text(text)
    ids = v.encode_text(text)
    assert ids.dtype == np.int32 and ids.shape == (len(text),)
    assert v.decode(ids) == text
    assert v.tokens == sorted(set(text))


def test_astral_characters_are_one_token_and_combining_marks_are_kept():
    text = "a😀\U0001f469\u200d\U0001f4bbe\u0301é"  # emoji, ZWJ sequence, combining acute, NFC é
    v = Vocab.from_text(text)
    assert "😀" in v and len(v.encode_text("😀")) == 1
    assert v.encode_text("e\u0301").tolist() == [v.index("e"), v.index("\u0301")]
    assert v.index("é") != v.index("e")  # no normalisation
    assert v.decode(v.encode_text(text)) == text


def test_unknown_character_names_it_unless_vocab_has_unk():
    v = Vocab.from_text("abc")
    assert v.unk_index is None
    with pytest.raises(ValueError, match=r"'😀' \(U\+1F600\)"):
        v.encode_text("ab😀")
    u = Vocab(["<unk>", "a", "b"], "char")
    assert u.encode_text("ab😀a").tolist() == [1, 2, 0, 1]


def test_from_words_orders_specials_then_frequency_then_alphabet():
    words = "b a c a b a <unk> d <unk> <eos>".split()
    v = Vocab.from_words(words)
    assert v.tokens == ["<unk>", "<eos>", "a", "b", "c", "d"]
    assert v.tokens.count("<unk>") == 1 and v.unk_index == 0


def test_unknown_words_map_to_unk():
    v = Vocab.from_words(["the", "cat"])
    assert v.encode_words(["the", "dog", "<unk>"]).tolist() == [v.index("the"), 0, 0]
    no_unk = Vocab.from_words(["the"], specials=("<eos>",))
    assert no_unk.unk_index is None
    with pytest.raises(ValueError, match="'dog'"):
        no_unk.encode_words(["dog"])


def test_word_decode_renders_eos_as_newline():
    v = Vocab.from_words("the cat sat".split())
    ids = v.encode_words("the cat <eos> sat <eos>".split())
    assert v.decode(ids) == "the cat\nsat\n"


def test_save_load_equality_and_json_is_real_utf8(tmp_path):
    v = Vocab.from_text("héllo wörld 😀\n")
    path = tmp_path / "vocab.json"
    v.save(path)
    raw = path.read_bytes()
    assert "😀".encode() in raw and "é".encode() in raw and b"\\u" not in raw
    assert Vocab.load(path) == v
    assert [p.name for p in tmp_path.iterdir()] == ["vocab.json"]  # no temp file left
    assert Vocab.from_dict(json.loads(json.dumps(v.to_dict()))) == v
    assert Vocab(v.tokens, "word") != v


def test_load_errors_name_the_file(tmp_path):
    with pytest.raises(DataError, match="missing.json: no such file"):
        Vocab.load(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"level": "char", "tok', encoding="utf-8")
    with pytest.raises(DataError, match="bad.json"):
        Vocab.load(bad)


@pytest.mark.parametrize(
    "tokens, level, match",
    [
        (["a"], "byte", "level"),
        ([], "char", "at least one"),
        (["a", "a"], "char", "distinct"),
        (["ab"], "char", "one code point"),
        ([""], "word", "non-empty"),
    ],
)
def test_constructor_errors(tokens, level, match):
    with pytest.raises(ValueError, match=f"Vocab: .*{match}"):
        Vocab(tokens, level)


def test_decode_rejects_out_of_range_and_level_mismatch():
    v = Vocab.from_text("ab")
    with pytest.raises(ValueError, match=r"\[0, 2\)"):
        v.decode([2])
    with pytest.raises(ValueError, match="encode_words"):
        Vocab.from_words(["a"]).encode_text("a")
