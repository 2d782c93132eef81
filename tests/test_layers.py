"""The pipeline runs one way: no stage module imports the use-cases or the shells built on it."""

from __future__ import annotations

import ast
from pathlib import Path

import newsletter

PACKAGE = Path(newsletter.__file__).parent
STAGES = ("core", "sources", "extract", "store", "compose", "publish")
LATER = ("newsletter.pipeline", "newsletter.runtime", "newsletter.cli", "newsletter.web")


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import in a file, lazy ones inside functions included."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
    return found


def test_no_stage_imports_pipeline_runtime_cli_or_web() -> None:
    wrong = [
        f"{path.relative_to(PACKAGE.parent)}:{line} imports {module}"
        for stage in STAGES for path in sorted((PACKAGE / stage).rglob("*.py"))
        for line, module in imported_modules(path) if module.startswith(LATER)
    ]
    assert wrong == []
