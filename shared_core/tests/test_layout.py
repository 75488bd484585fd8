"""The core's layout: no import circle, no import from a lower floor to a higher one, no engine importing another,
no hidden (function-level) imports of the package's own modules, and docs/architecture.md lists every module."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import static2d

PACKAGE = Path(static2d.__file__).parent
ARCHITECTURE = Path(__file__).resolve().parents[2] / "docs" / "architecture.md"
# The floors of docs/architecture.md: a module (or subpackage) imports from its own floor or lower ones only.
FLOORS = {
    "_threads": 0,
    "_hashing": 0,
    "_vectors": 0,
    "_cells": 0,
    "_device": 0,
    "_precision": 0,
    "_checks": 0,
    "_extras": 0,
    "_peers": 0,
    "_options": 1,
    "_fingerprint": 1,
    "_model": 2,
    "_tokens": 2,
    "_static": 3,
    "_torch": 3,
    "_onnx": 3,
    "_export": 4,
    "_choice": 5,
    "_engines": 5,
    "_encoder": 6,
    "_batch": 7,
    "_tradeoff": 7,
    "adapters": 7,
    "__init__": 8,
    "__main__": 8,
}


def _modules() -> dict[str, Path]:
    """Dotted names (static2d._model.describe) of every module of the package."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        name = ".".join(("static2d", *parts))
        out[name.removesuffix(".__init__") if parts[-1] == "__init__" and len(parts) > 1 else name] = path
    return out


def _component(module: str) -> str:
    """The floor's key of a module: its subpackage, or itself."""
    parts = module.split(".")
    return "__init__" if len(parts) == 1 else parts[1]


def _imports(path: Path) -> tuple[set[str], list[tuple[int, str]]]:
    """(static2d modules imported at module level, [(line, module)] imported inside a function or class)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top: set[str] = set()
    nested: list[tuple[int, str]] = []

    def names(node: ast.AST) -> list[str]:
        if isinstance(node, ast.Import):
            return [a.name for a in node.names if a.name.startswith("static2d")]
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("static2d"):
            # `from static2d._onnx import cache`: the imported names may be modules themselves
            return [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
        return []

    for node in tree.body:
        if isinstance(node, ast.If):  # `if TYPE_CHECKING:` blocks count as module level
            for inner in ast.walk(node):
                top.update(names(inner))
        else:
            top.update(names(node))
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            for inner in ast.walk(node):
                nested.extend((inner.lineno, n) for n in names(inner))
    return top, nested


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    graph = {}
    for name, path in modules.items():
        top, _ = _imports(path)
        graph[name] = {m for m in top if m in modules and m != name and m != "static2d"}
    return graph


def test_every_module_has_a_floor() -> None:
    assert {_component(m) for m in _modules()} == set(FLOORS)


def test_no_import_goes_up_a_floor() -> None:
    upward = [
        f"{a} (floor {FLOORS[_component(a)]}) imports {b} (floor {FLOORS[_component(b)]})"
        for a, targets in _graph().items()
        for b in targets
        if FLOORS[_component(b)] > FLOORS[_component(a)]
    ]
    assert not upward


ENGINES = ("_static", "_torch", "_onnx")


def test_engines_stand_side_by_side() -> None:
    """No engine imports another: what two share sits on a floor below them (`_tokens`, `_model`)."""
    crossing = [
        f"{a} imports {b}"
        for a, targets in _graph().items()
        for b in targets
        if _component(a) in ENGINES and _component(b) in ENGINES and _component(a) != _component(b)
    ]
    assert not crossing


def test_no_import_circle() -> None:
    graph = _graph()
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                pytest.fail("import circle: " + " -> ".join([*path[path.index(nxt) :], nxt]))
            if nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])


def test_no_function_level_import_of_the_package_itself() -> None:
    hidden = [
        f"{path.relative_to(PACKAGE)}:{line} {module}"
        for path in _modules().values()
        for line, module in _imports(path)[1]
    ]
    assert not hidden


def test_the_architecture_doc_lists_every_module() -> None:
    listed = set(re.findall(r"^\| `(_?[\w/]+\.py)` \|", ARCHITECTURE.read_text(encoding="utf-8"), flags=re.M))
    tree = {str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")}
    assert listed == tree, f"missing from the doc: {sorted(tree - listed)}; not in the tree: {sorted(listed - tree)}"
