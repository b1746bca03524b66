"""Size rules of the reading, analysis, page and commands layers (and app.py): a module holds at most 300
lines and a function at most 50, unless its docstring says why it is longer (it then contains
"longer than", e.g. "Longer than 50 lines because ...")."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

DASHBOARD = Path(__file__).resolve().parents[3] / "dashboard"
FILES = sorted(
    [
        p
        for layer in ("reading", "analysis", "page", "commands")
        for p in (DASHBOARD / layer).rglob("*.py")
    ]
    + [DASHBOARD / "app.py"]
)
MAX_MODULE_LINES = 300
MAX_FUNCTION_LINES = 50


def _explained(node: ast.AST) -> bool:
    doc = ast.get_docstring(node)  # type: ignore[arg-type]
    return doc is not None and "longer than" in doc.lower()


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(DASHBOARD)) for p in FILES])
def test_module_and_function_sizes(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    tree = ast.parse(source)
    lines = len(source.splitlines())
    assert lines <= MAX_MODULE_LINES or _explained(tree), f"{path.name}: {lines} lines"
    long = [
        f"{node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno is not None
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
        and not _explained(node)
    ]
    assert not long, f"{path.name}: functions over {MAX_FUNCTION_LINES} lines: {long}"


def test_the_layers_are_all_checked() -> None:
    names = {p.relative_to(DASHBOARD).as_posix() for p in FILES}
    assert {
        "app.py",
        "page/sections/metrics.py",
        "analysis/run_facts.py",
        "commands/launcher.py",
    } <= names
