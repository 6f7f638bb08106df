"""The default corpus: standard-library Python sources, deterministic, bounded by max_bytes."""

import pytest

from rnnkit.data import DataError, default_corpus_description, default_corpus_text
from rnnkit.data import default_corpus as dc


def test_real_corpus_is_deterministic_python_source_within_max_bytes():
    a = default_corpus_text(300_000)
    assert a == default_corpus_text(300_000)
    assert 0 < len(a.encode("utf-8")) <= 300_000
    assert a.startswith("# file: ") and "\ndef " in a and "import " in a
    headers = [line for line in a.splitlines() if line.startswith("# file: ")]
    names = [h[len("# file: ") :] for h in headers]
    assert names == sorted(names)
    assert not any(part in n.split("/") for n in names for part in ("test", "tests", "idlelib"))
    assert len(default_corpus_text(100).encode("utf-8")) <= 100


def test_description_is_one_line_with_folder_and_counts():
    d = default_corpus_description(50_000)
    assert "\n" not in d and str(dc.stdlib_dir()) in d and "files" in d and "characters" in d


def test_skips_and_order_on_a_fake_stdlib(tmp_path, monkeypatch):
    for rel, data in {
        "b.py": "B = 2\n",
        "a/z.py": "Z = 'ü😀'",
        "tests/t.py": "T = 0\n",
        "site-packages/s.py": "S = 0\n",
        "bad.py": b"\xff\xfe",
        "notes.txt": "not python\n",
    }.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    monkeypatch.setattr(dc, "stdlib_dir", lambda: tmp_path)
    assert default_corpus_text() == "# file: a/z.py\nZ = 'ü😀'\n# file: b.py\nB = 2\n"
    cut = default_corpus_text(len("# file: a/z.py\nZ = 'ü") + 2)  # falls inside the emoji
    assert cut == "# file: a/z.py\nZ = 'ü"


def test_nothing_found_is_a_data_error(tmp_path, monkeypatch):
    monkeypatch.setattr(dc, "stdlib_dir", lambda: tmp_path)
    with pytest.raises(DataError, match="no readable UTF-8 .py files"):
        default_corpus_text()
    with pytest.raises(ValueError, match="max_bytes >= 1"):
        default_corpus_text(0)
