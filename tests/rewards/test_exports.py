"""The public names of the reward and server packages exist, and no framework is imported."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import rubricate

MODULES = [
    "rubricate.rewards",
    "rubricate.rewards.verl",
    "rubricate.rewards.trl",
    "rubricate.rewards.scaffold",
    "rubricate.server",
]
FRAMEWORKS = {"trl", "verl", "openrlhf", "torch", "transformers", "ray"}


@pytest.mark.parametrize("module", MODULES)
def test_all_names_resolve(module: str) -> None:
    loaded = importlib.import_module(module)
    for name in loaded.__all__:
        assert not name.startswith("_") and getattr(loaded, name) is not None


def test_reward_and_server_code_never_imports_a_framework() -> None:
    """The integrations speak the frameworks' call conventions; installing rubricate needs none."""
    root = Path(rubricate.__file__).parent
    for path in [*(root / "rewards").glob("*.py"), *(root / "server").glob("*.py")]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            else:
                continue
            assert not {n.split(".")[0] for n in names} & FRAMEWORKS, f"{path.name} imports {names}"
