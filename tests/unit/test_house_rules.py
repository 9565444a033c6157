"""The house plan holds: the core imports no adapter, modules and functions stay small, and the
map for newcomers (docs/architecture.md) names only modules that exist."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("bot", "storage", "adapters")
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 60
MAX_STORE_METHODS = 40


def modules(*packages: str) -> Iterator[Path]:
    for package in packages:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path


def tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def imported(module: ast.Module) -> Iterator[str]:
    for node in ast.walk(module):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


@pytest.mark.parametrize("path", list(modules("bot", "storage")), ids=str)
def test_the_core_imports_no_adapter(path: Path) -> None:
    # Lazy imports inside functions count too: the core must run with no platform installed.
    reached = [name for name in imported(tree(path)) if name.split(".")[0] == "adapters"]
    assert reached == []


@pytest.mark.parametrize("path", list(modules(*PACKAGES)), ids=str)
def test_no_module_is_longer_than_a_newcomer_can_hold(path: Path) -> None:
    assert len(path.read_text(encoding="utf-8").splitlines()) <= MAX_MODULE_LINES


@pytest.mark.parametrize("path", list(modules(*PACKAGES)), ids=str)
def test_no_function_runs_past_sixty_lines(path: Path) -> None:
    long = [
        f"{node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for node in ast.walk(tree(path))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno is not None
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert long == []


@pytest.mark.parametrize("path", list(modules("storage")), ids=str)
def test_no_store_has_more_than_forty_methods(path: Path) -> None:
    crowded = [
        node.name
        for node in ast.walk(tree(path))
        if isinstance(node, ast.ClassDef)
        and sum(isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) for item in node.body)
        > MAX_STORE_METHODS
    ]
    assert crowded == []


# `bot/dispatch.py`, `storage/stores/`, `adapters/kit.py`: a path in backticks in the map.
_NAMED_PATH = re.compile(r"`((?:bot|storage|adapters|tests|bench|docs)/[\w/.]*)`")


def test_the_architecture_map_names_only_modules_that_exist() -> None:
    named = set(_NAMED_PATH.findall((ROOT / "docs" / "architecture.md").read_text()))
    assert named, "the map names no module"
    assert sorted(path for path in named if not (ROOT / path).exists()) == []
