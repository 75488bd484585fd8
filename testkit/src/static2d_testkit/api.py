"""The public API as docs/api.md documents it: each package's names, and the object each name is."""

from __future__ import annotations

import importlib
import importlib.metadata
import re
import typing
from pathlib import Path

API_DOC = Path(__file__).resolve().parents[3] / "docs" / "api.md"
_ROW = re.compile(r"^\| `(\w+)` \| `(.+?)` \|", flags=re.M)


def documented(package: str) -> dict[str, object]:
    """{name: the object docs/api.md says it is}, from the package's section of docs/api.md."""
    text = API_DOC.read_text(encoding="utf-8")
    start = text.index(f"## `{package}`")
    end = text.find("\n## ", start + 1)
    section = text[start : end if end != -1 else len(text)]
    out: dict[str, object] = {}
    for name, expression in _ROW.findall(section):
        out[name] = _resolve(expression.replace("\\|", "|"))
    return out


def _resolve(expression: str) -> object:
    """A dotted path (`pkg.module.name`), or a literal / typing / importlib.metadata expression."""
    if re.fullmatch(r"[\w.]+", expression):
        module, _, name = expression.rpartition(".")
        return getattr(importlib.import_module(module), name)
    return eval(expression, {"typing": typing, "importlib": importlib})  # noqa: S307 - our own docs table


def check_public_api(module: object, package: str) -> None:
    """Assert the module's `__all__` is the documented list, and each name is the documented object."""
    expected = documented(package)
    names = list(getattr(module, "__all__", []))
    if sorted(names) != sorted(expected):
        msg = f"{package}.__all__ is {sorted(names)}, docs/api.md lists {sorted(expected)}"
        raise AssertionError(msg)
    for name, value in expected.items():
        actual = getattr(module, name)
        if not (actual is value or actual == value):
            msg = f"{package}.{name} is {actual!r}, docs/api.md says {value!r}"
            raise AssertionError(msg)
