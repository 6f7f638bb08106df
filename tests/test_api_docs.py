"""tools/check_docs.py finds what it promises: undocumented public names and broken references.

The check itself runs over the real package in ``make test``; these tests feed it small
made-up classes and files, so that a checker that stopped finding problems would fail here.
"""

import importlib.util
from pathlib import Path

from torch import nn

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("check_docs", ROOT / "tools" / "check_docs.py")
check_docs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(check_docs)


class Base(nn.Module):
    """A documented rnnkit base class."""

    __module__ = "rnnkit.fake"

    def documented(self) -> None:
        """Documented here, inherited below."""

    def forward(self, x):
        """Documented forward."""
        return x


class Child(Base):
    __module__ = "rnnkit.fake"  # no class docstring

    def documented(self) -> None:  # inherits Base's docstring
        pass

    def bare(self) -> None:
        pass

    @property
    def size(self) -> int:
        return 1


class TorchForward(nn.Module):
    """Documented class whose forward only has torch's inherited docstring."""

    __module__ = "rnnkit.fake"

    def forward(self, x):
        return x


def test_missing_docstrings_names_classes_methods_and_properties():
    found = check_docs.missing_docstrings(
        {"rnnkit.Base": Base, "rnnkit.Child": Child, "rnnkit.TorchForward": TorchForward}
    )
    assert found == ["rnnkit.Child", "rnnkit.Child.bare", "rnnkit.Child.size",
                     "rnnkit.TorchForward.forward"]  # fmt: skip


def test_constants_and_documented_functions_pass():
    def documented() -> None:
        """Documented."""

    assert check_docs.missing_docstrings({"rnnkit.EOS": "<eos>", "rnnkit.f": documented}) == []


def test_broken_references_in_roles_literals_and_doc_pages(tmp_path):
    package = tmp_path / "rnnkit"
    (package / "data").mkdir(parents=True)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "data.md").write_text("# data\n")
    (package / "data" / "fake.py").write_text(
        '"""Uses :func:`build_corpus`, :class:`rnnkit.data.Vocab`, ``rnnkit.data.open_corpus``\n'
        'and docs/data.md; but also :class:`NoSuchThing`, ``rnnkit.data.no_such``, docs/none.md."""\n'
        "\n\nclass Fake:\n"
        '    """:meth:`real` is here, :meth:`absent` is not."""\n\n'
        "    def real(self):\n"
        '        """:class:`torch.nn.LSTM` and :func:`len` resolve."""\n'
    )
    found = check_docs.broken_references(package, tmp_path / "docs")
    assert found == [
        "rnnkit/data/fake.py:1: NoSuchThing",
        "rnnkit/data/fake.py:1: rnnkit.data.no_such",
        "rnnkit/data/fake.py:1: docs/none.md (no such page)",
        "rnnkit/data/fake.py:5: absent",
    ]


def test_missing_anchors_of_the_readme(tmp_path):
    (tmp_path / "rnnkit.html").write_text('<div id="SeqLSTM"></div><div id="FastLSTM"></div>')
    readme = tmp_path / "README.md"
    readme.write_text(
        "| a | `build/api/rnnkit.html#SeqLSTM`, `#FastLSTM`, `#Nope` |\n"
        "| b | `rnnkit/data.html` |\n"
    )
    assert check_docs.missing_anchors(readme, tmp_path) == [
        "README.md:1: rnnkit.html#Nope (no such anchor)",
        "README.md:2: rnnkit/data.html (no such page)",
    ]
