"""rnnkit is a typed package: ``py.typed`` ships with it and every public signature is annotated.

``make test`` runs mypy over ``rnnkit/`` (``[tool.mypy]`` in pyproject.toml); mypy's
``disallow_incomplete_defs`` catches a half-annotated function but not a bare one, which
this test does: every function and method whose name is public (or ``__init__``), in a
class whose name is public, annotates each parameter (but ``self``/``cls``) and its return.
"""

import ast
from pathlib import Path

import rnnkit

PACKAGE = Path(rnnkit.__file__).parent


def _unannotated(tree: ast.AST, prefix: str = ""):
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.ClassDef):
            if not node.name.startswith("_"):
                yield from _unannotated(node, f"{prefix}{node.name}.")
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if node.name.startswith("_") and node.name != "__init__":
                continue
            a = node.args
            params = [p for p in a.posonlyargs + a.args + a.kwonlyargs if p.arg not in ("self", "cls")]
            params += [p for p in (a.vararg, a.kwarg) if p is not None]
            missing = [p.arg for p in params if p.annotation is None]
            if node.returns is None:
                missing.append("return")
            if missing:
                yield f"{prefix}{node.name}:{node.lineno} ({', '.join(missing)})"


def test_every_public_signature_is_annotated():
    found = [
        f"{path.relative_to(PACKAGE.parent)}: {where}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for where in _unannotated(ast.parse(path.read_text(encoding="utf-8")))
    ]
    assert not found, "unannotated public signatures:\n" + "\n".join(found)


def test_the_check_finds_a_bare_signature():
    tree = ast.parse("class A:\n    def f(self, x, *, y: int):\n        pass\n")
    assert list(_unannotated(tree)) == ["A.f:2 (x, return)"]


def test_py_typed_ships_with_the_package():
    assert (PACKAGE / "py.typed").is_file()
    pyproject = (PACKAGE.parent / "pyproject.toml").read_text(encoding="utf-8")
    section = pyproject.split("[tool.setuptools.package-data]", 1)[1].split("\n[", 1)[0]
    assert 'rnnkit = ["py.typed"]' in section
