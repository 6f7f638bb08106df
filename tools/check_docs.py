"""Check rnnkit's API reference, then build it with pdoc (``make test`` and ``make docs``).

    python tools/check_docs.py                  # the checks and a pdoc build into a temporary folder
    python tools/check_docs.py --html build/api # the same, keeping the HTML (``make docs``)

Fails (exit status 1, one line per problem) when:

- a public name has no docstring: every name in the ``__all__`` of ``rnnkit``, ``rnnkit.data``
  and ``rnnkit.models``, and every public method or property that rnnkit's classes define (a
  docstring inherited from an rnnkit base class counts; one inherited from torch does not,
  because torch's ``forward`` says nothing about rnnkit's shapes);
- a reference in any docstring of the package does not resolve: a role such as
  ``:class:`Vocab```, ``:func:`rnnkit.data.build_corpus```, ``:meth:`forget```, a literal
  ``rnnkit.x.y`` path in backticks, or a ``docs/*.md`` page that does not exist;
- pdoc warns while it builds the reference (pdoc itself has no flag to fail on warnings);
- a page or anchor of the reference that README.md names (```rnnkit.html#SeqLSTM```, or
  ```#FastLSTM``` on the page named before it on the line) is not in the build.
"""

from __future__ import annotations

import argparse
import ast
import builtins
import importlib
import inspect
import re
import sys
import tempfile
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PUBLIC_MODULES = ("rnnkit", "rnnkit.data", "rnnkit.models")
# The reference's pages: the public index, its two subpackages, and the reusable training
# machinery that docs/cli.md points to (Trainer, Task, LoopConfig, TrainConfig, RAMConfig).
REFERENCE_MODULES = (*PUBLIC_MODULES, "rnnkit.training")
# nn.Module hooks whose torch docstring is accurate for every override
TORCH_DOCUMENTED = {"extra_repr"}

ROLE = re.compile(r":(?:class|func|meth|mod|attr|obj|data|exc):`~?([^`<>]+?)(?:\(\))?`")
LITERAL = re.compile(r"``?(rnnkit(?:\.[A-Za-z_][A-Za-z0-9_]*)+)(?:\(\))?``?")
DOC_PAGE = re.compile(r"\bdocs/([A-Za-z0-9_]+\.md)\b")


# ------------------------------------------------------------------------ public names
def _own_doc(obj: Any) -> str:
    doc = obj.__dict__.get("__doc__") if isinstance(obj, type) else getattr(obj, "__doc__", None)
    return (doc or "").strip()


def _is_rnnkit(klass: type) -> bool:
    return klass.__module__.split(".")[0] == "rnnkit"


def _member_doc(cls: type, name: str) -> str:
    """The docstring ``cls.name`` shows: its own, or the nearest rnnkit base class's."""
    for klass in cls.__mro__:
        if not _is_rnnkit(klass) or name not in vars(klass):
            continue
        attr = vars(klass)[name]
        target = attr.fget if isinstance(attr, property) else getattr(attr, "__func__", attr)
        doc = (getattr(target, "__doc__", None) or "").strip()
        if doc:
            return doc
    return ""


def class_members(cls: type) -> Iterator[str]:
    """The public methods and properties that rnnkit's classes give ``cls`` (by the MRO)."""
    seen: set[str] = set()
    for klass in cls.__mro__:
        if not _is_rnnkit(klass):
            continue
        for name, attr in vars(klass).items():
            if name.startswith("_") or name in seen:
                continue
            seen.add(name)
            if isinstance(attr, (property, classmethod, staticmethod)) or inspect.isfunction(attr):
                yield name


def public_objects(modules: Iterable[ModuleType]) -> dict[str, Any]:
    """``{qualified name: object}`` for every name in each module's ``__all__``."""
    found: dict[str, Any] = {}
    for module in modules:
        for name in module.__all__:
            found[f"{module.__name__}.{name}"] = getattr(module, name)
    return found


def missing_docstrings(objects: dict[str, Any]) -> list[str]:
    """The public names (and their classes' public members) that have no docstring."""
    missing = []
    for qualname, obj in objects.items():
        if not (inspect.isclass(obj) or inspect.isroutine(obj) or inspect.ismodule(obj)):
            continue  # constants (``EOS``, ``UNK``) are described where they are defined
        if not _own_doc(obj):
            missing.append(qualname)
        if inspect.isclass(obj):
            for name in class_members(obj):
                if name not in TORCH_DOCUMENTED and not _member_doc(obj, name):
                    missing.append(f"{qualname}.{name}")
    return missing


# ------------------------------------------------------------------------ references
def _resolve_dotted(path: str) -> bool:
    """Whether ``a.b.c`` names a module, or an attribute reached from an importable module."""
    parts = path.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for attr in parts[cut:]:
                obj = getattr(obj, attr)
        except AttributeError:
            return False
        return True
    return False


def resolves(target: str, module: str, klass: str | None) -> bool:
    """Whether a role's target names something, read as pdoc and Sphinx would: absolute, or
    relative to the class, its module, the packages above it or the builtins."""
    first = target.split(".")[0]
    packages = module.split(".")
    candidates = [target] + [f"{'.'.join(packages[:i])}.{target}" for i in range(len(packages), 0, -1)]
    if klass:
        candidates.insert(0, f"{module}.{klass}.{target}")
    if hasattr(builtins, first) and _resolve_dotted(f"builtins.{target}"):
        return True
    return any(_resolve_dotted(c) for c in candidates)


Found = tuple[int, "str | None", set[str], str]


def _defined(klass: ast.ClassDef) -> set[str]:
    """The names a class body defines (methods, properties, class attributes)."""
    names = {n.name for n in klass.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    for n in klass.body:
        if isinstance(n, ast.Assign):
            names |= {t.id for t in n.targets if isinstance(t, ast.Name)}
        elif isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name):
            names.add(n.target.id)
    return names


def _docstrings(path: Path) -> Iterator[Found]:
    """``(line, enclosing class, names it defines, docstring)`` of the module and every class
    and function."""
    tree = ast.parse(path.read_text(encoding="utf-8"))

    def visit(node: ast.AST, klass: str | None, names: set[str]) -> Iterator[Found]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                inner, inner_names = klass, names
                if isinstance(child, ast.ClassDef):
                    inner, inner_names = child.name, _defined(child)
                doc = ast.get_docstring(child, clean=False)
                if doc:
                    yield child.lineno, inner, inner_names, doc
                yield from visit(child, inner, inner_names)

    doc = ast.get_docstring(tree, clean=False)
    if doc:
        yield 1, None, set(), doc
    yield from visit(tree, None, set())


def module_name(path: Path, package: Path) -> str:
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def broken_references(package: Path, docs: Path) -> list[str]:
    """``file:line: reference`` for every reference in the package's docstrings that does not
    resolve."""
    broken = []
    for path in sorted(package.rglob("*.py")):
        module = module_name(path, package)
        for line, klass, names, doc in _docstrings(path):
            where = f"{path.relative_to(package.parent)}:{line}"
            for target in ROLE.findall(doc):
                if target.strip() not in names and not resolves(target.strip(), module, klass):
                    broken.append(f"{where}: {target}")
            for target in LITERAL.findall(doc):
                if not _resolve_dotted(target):
                    broken.append(f"{where}: {target}")
            for page in DOC_PAGE.findall(doc):
                if not (docs / page).is_file():
                    broken.append(f"{where}: docs/{page} (no such page)")
    return broken


# ------------------------------------------------------------------------ pdoc
def build_reference(output: Path) -> list[str]:
    """Render the reference into ``output``; pdoc's warnings, one line each."""
    import pdoc
    import pdoc.render

    pdoc.render.configure(docformat="google", show_source=False, search=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pdoc.pdoc(*REFERENCE_MODULES, output_directory=output)
    return [f"pdoc: {w.category.__name__}: {str(w.message).splitlines()[0]}" for w in caught]


PAGE = re.compile(r"`(?:build/api/)?((?:[\w/]+\.html)?(?:#[\w.]+)?)`")


def missing_anchors(readme: Path, output: Path) -> list[str]:
    """The reference pages and anchors that ``readme`` names but the build lacks."""
    missing = []
    for number, line in enumerate(readme.read_text(encoding="utf-8").splitlines(), 1):
        page = None
        for token in PAGE.findall(line):
            name, _, anchor = token.partition("#")
            page = name or page
            if not page:
                continue
            html = output / page
            if not html.is_file():
                missing.append(f"{readme.name}:{number}: {page} (no such page)")
            elif anchor and f'id="{anchor}"' not in html.read_text(encoding="utf-8"):
                missing.append(f"{readme.name}:{number}: {page}#{anchor} (no such anchor)")
    return missing


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--html", metavar="DIR", help="keep the HTML reference in DIR")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    modules = [importlib.import_module(m) for m in PUBLIC_MODULES]
    problems = [f"no docstring: {n}" for n in missing_docstrings(public_objects(modules))]
    problems += [f"broken reference: {r}" for r in broken_references(ROOT / "rnnkit", ROOT / "docs")]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.html) if args.html else Path(tmp)
        problems += build_reference(out)
        problems += missing_anchors(ROOT / "README.md", out)
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        print(f"check_docs: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    where = f"; HTML in {args.html}/index.html" if args.html else ""
    print(f"check_docs: {len(modules)} public modules, every public name documented, "
          f"every reference resolves, pdoc built without warnings{where}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
