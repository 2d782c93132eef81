"""An ingestion environment: a config file with given sources, a real SQLite store, and runs."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from newsletter.config import Config, load_config
from newsletter.pipeline.ingest import SourceReport, ingest
from newsletter.pipeline.revisions import follow_changes
from newsletter.store import Store

PARIS = ZoneInfo("Europe/Paris")
FAST_HTTP = {"timeout": 0.5, "retries": 2, "retry_wait": 0.0}


class IngestEnv:
    """A folder holding `newsletter.yaml` and `data/newsletter.db` for one test."""

    def __init__(self, root: Path):
        self.root = root
        self.config_path = root / "newsletter.yaml"
        self.store: Store | None = None

    def configure(self, sources: list[dict[str, Any]]) -> Config:
        """Write the config file with these sources (HTTP ones get short timeouts) and load it."""
        fast = [{**FAST_HTTP, **s} if s["type"] in ("feed", "web") else s for s in sources]
        self.config_path.write_text(yaml.safe_dump({"sources": fast}, allow_unicode=True), "utf-8")
        return self.config

    @property
    def config(self) -> Config:
        """The config as the file now says."""
        return load_config(self.config_path)

    def open_store(self) -> Store:
        """The test's store (created on first use, kept open until the test ends)."""
        if self.store is None:
            self.store = Store.open(self.config.database_url(), create=True)
        return self.store

    def run(self, when: str = "2025-03-25T09:00", **options: Any) -> dict[str, SourceReport]:
        """Ingest at the given Paris time; the reports by source name."""
        now = datetime.fromisoformat(when).replace(tzinfo=PARIS)
        reports = ingest(self.config, self.open_store(), now=now, **{"follow": follow_changes, **options})
        return {report.source: report for report in reports}

    def close(self) -> None:
        """Close the store."""
        if self.store is not None:
            self.store.close()
            self.store = None


@pytest.fixture
def ingest_env(tmp_path: Path) -> Iterator[IngestEnv]:
    """A fresh config folder and SQLite store under tmp_path."""
    env = IngestEnv(tmp_path)
    yield env
    env.close()
