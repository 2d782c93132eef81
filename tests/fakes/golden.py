"""Golden files: `golden.check(name, text)` compares with tests/golden/<name>; refresh with
`pytest --update-golden` (see tests/golden/README.md)."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

GOLDEN_DIR = Path(__file__).resolve().parents[1] / "golden"
UPDATE_OPTION = "--update-golden"
BETWEEN_TAGS = re.compile(r">(?=<)")


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add `--update-golden`: rewrite golden files from the current output instead of comparing."""
    parser.addoption(
        UPDATE_OPTION,
        action="store_true",
        default=False,
        help="rewrite tests/golden/ files from the current output (review the diff before committing)",
    )


@dataclass
class Golden:
    """Compares rendered text with a stored golden file, or rewrites it when updating."""

    update: bool

    def check_html(self, name: str, actual: str) -> None:
        """Like `check`, with a line break between adjacent tags so diffs stay readable."""
        self.check(name, BETWEEN_TAGS.sub(">\n", actual))

    def check(self, name: str, actual: str) -> None:
        """Fail with a unified diff unless `actual` equals tests/golden/<name>."""
        path = GOLDEN_DIR / name
        if self.update:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(actual, encoding="utf-8", newline="")
            return
        if not path.exists():
            pytest.fail(f"golden file {path} is missing: run `pytest {UPDATE_OPTION}` and review it")
        expected = path.read_text(encoding="utf-8")
        if actual != expected:
            diff = difflib.unified_diff(
                expected.splitlines(), actual.splitlines(), f"golden/{name}", "actual", lineterm="", n=2
            )
            shown = "\n".join(list(diff)[:60])
            pytest.fail(f"output differs from golden/{name} (refresh: pytest {UPDATE_OPTION}):\n{shown}")


@pytest.fixture
def golden(request: pytest.FixtureRequest) -> Golden:
    """The golden-file checker, in update mode under `--update-golden`."""
    return Golden(update=bool(request.config.getoption(UPDATE_OPTION)))
