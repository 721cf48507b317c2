"""The layout the README draws is the layout the code has.

The layering itself (which stage may import which) is import-linter's contract in
``pyproject.toml``, checked by ``scripts/test.sh``; these tests check what it cannot:
private modules and names stay inside their package, and every package's ``__all__``
lists exactly its public names.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import types
from pathlib import Path

import pytest

import rubricate

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _owner(path: Path) -> str:
    """The package a file belongs to: its own dotted package for ``__init__``, else its parent."""
    if path.is_relative_to(SRC):
        parts = path.relative_to(SRC).with_suffix("").parts
        return ".".join(parts[:-1])
    return "bench"


def _cross_package_private_imports(path: Path) -> list[str]:
    owner = _owner(path)
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not (isinstance(node, ast.ImportFrom) and node.module):
            continue
        if not node.module.startswith("rubricate"):
            continue
        parts = node.module.split(".")
        private_at = next((i for i, part in enumerate(parts) if _private(part)), None)
        if private_at is not None:
            container = ".".join(parts[:private_at])
            if container != owner:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.module}")
            continue
        if node.module != owner:
            found.extend(
                f"{path.relative_to(ROOT)}:{node.lineno}: {node.module}.{alias.name}"
                for alias in node.names
                if _private(alias.name)
            )
    return found


def test_no_private_module_or_name_is_imported_across_packages() -> None:
    files = [*SRC.rglob("*.py"), *(ROOT / "bench").glob("*.py")]
    offences = [o for path in files for o in _cross_package_private_imports(path)]
    assert offences == []


def test_the_checker_sees_an_offence() -> None:
    """The rule above must be able to fail: a bench file taking a private name is caught."""
    sample = ROOT / "bench" / "_architecture_probe.py"
    sample.write_text("from rubricate.judge._parse import _secret\n", encoding="utf-8")
    try:
        assert _cross_package_private_imports(sample) == [
            "bench/_architecture_probe.py:1: rubricate.judge._parse"
        ]
    finally:
        sample.unlink()


def _packages() -> list[str]:
    names = ["rubricate"]
    for info in pkgutil.walk_packages(rubricate.__path__, "rubricate."):
        if info.ispkg and not any(_private(p) for p in info.name.split(".")):
            names.append(info.name)
    return names


@pytest.mark.parametrize("name", _packages())
def test_all_lists_exactly_the_public_names(name: str) -> None:
    package = importlib.import_module(name)
    exported = set(getattr(package, "__all__", ()))
    public = {
        attribute
        for attribute, value in vars(package).items()
        if not attribute.startswith("_")
        and not isinstance(value, types.ModuleType)
        and attribute not in {"annotations"}
    }
    assert exported == public | ({"__version__"} & exported)


def _imports_of_the_root(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module == "rubricate":
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}: from rubricate import ...")
        elif isinstance(node, ast.Import) and any(a.name == "rubricate" for a in node.names):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}: import rubricate")
    return found


def test_no_module_inside_the_package_imports_its_root() -> None:
    """The root re-exports every stage, so a stage importing it would import upward."""
    files = [p for p in (SRC / "rubricate").rglob("*.py") if p != SRC / "rubricate" / "__init__.py"]
    assert [o for path in files for o in _imports_of_the_root(path)] == []
