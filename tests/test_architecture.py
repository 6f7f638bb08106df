"""The package layout is the architecture: imports between rnnkit's parts point down only.

Tiers, lowest first; a part may import from strictly lower tiers (and from itself). Adding
an import that points up or sideways makes this test fail and names the file.
"""

import ast
from pathlib import Path

import rnnkit

TIERS = [
    {"_checks", "_nest"},  # input checks, nested tensors
    {"_seqio", "_params", "_state", "tables"},  # sequence I/O, parameters, carried state
    {"cells", "kernels", "layers", "masking", "nce", "reinforce", "data"},  # pure pieces
    {"recurrent", "criterion"},  # step modules (own time and state), criteria
    {"sequence"},  # whole-sequence modules
    {"models"},
    {"training"},
    {"cli"},
    {"__init__", "__main__"},  # the public namespace and the command's entry point
]
ROOT = Path(rnnkit.__file__).parent


def _tier(part: str) -> int:
    for i, parts in enumerate(TIERS):
        if part in parts:
            return i
    raise AssertionError(f"rnnkit.{part} is in no tier of tests/test_architecture.py")


def _part(module: str) -> str:
    pieces = module.split(".")
    return pieces[1] if len(pieces) > 1 else "__init__"


def _imports(path: Path):
    """``(line, imported module)`` for each rnnkit import in ``path``."""
    parts = ("rnnkit",) + path.relative_to(ROOT).with_suffix("").parts
    package = parts[:-1]  # the package a relative import starts from
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(package[: len(package) - node.level + 1])
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target == "rnnkit":  # ``from .. import _nest``: the names are modules
                yield from ((node.lineno, f"rnnkit.{a.name}") for a in node.names)
            elif target.startswith("rnnkit."):
                yield node.lineno, target
        elif isinstance(node, ast.Import):
            yield from ((node.lineno, a.name) for a in node.names if a.name.startswith("rnnkit"))


def test_every_import_points_down():
    wrong = []
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT)
        source = rel.parts[0].removesuffix(".py")
        for line, target in _imports(path):
            dest = _part(target)
            if dest != source and _tier(dest) >= _tier(source):
                tiers = f"tier {_tier(dest)} >= {_tier(source)}"
                wrong.append(f"rnnkit/{rel}:{line} imports {target} ({tiers})")
    assert not wrong, "\n".join(wrong)


def test_every_part_is_in_a_tier():
    parts = {p.name.removesuffix(".py") for p in ROOT.iterdir() if p.suffix == ".py" or p.is_dir()}
    parts.discard("__pycache__")
    for part in parts:
        _tier(part)
