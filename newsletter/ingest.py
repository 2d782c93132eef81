"""Ingestion stage: sources -> extraction -> store, each source isolated from the others."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime

from newsletter.config import Config
from newsletter.errors import NewsletterError
from newsletter.extract import extract
from newsletter.identity import stable_id
from newsletter.models import Announcement, RawDocument
from newsletter.registry import source_class
from newsletter.sources.base import Source, SourceConfig
from newsletter.store import Store

log = logging.getLogger(__name__)


@dataclass
class SourceReport:
    """What one ingestion run did for one source."""

    source: str
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)
    announced: list[Announcement] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """The counts as a plain mapping, for run history and JSON output."""
        return {"new": self.new, "updated": self.updated, "unchanged": self.unchanged, "failed": self.failed}


def build_source(source_config: SourceConfig, config: Config) -> Source:
    """Instantiate the source class registered for the config's `type:`."""
    return source_class(source_config.type)(source_config, config.base_dir)


def to_announcement(raw: RawDocument) -> Announcement:
    """Extract a raw document and give it its stable id."""
    announcement = extract(raw)
    announcement.id = stable_id(raw.identity)
    return announcement


def ingest(
    config: Config,
    store: Store,
    *,
    now: datetime,
    only: str | None = None,
    dry_run: bool = False,
    on_progress: Callable[[str], None] | None = None,
) -> list[SourceReport]:
    """Ingest every configured source (or `only` one); a failing source fails alone."""
    reports = []
    for source_config in config.sources:
        if only and source_config.name != only:
            continue
        reports.append(ingest_source(source_config, config, store, now=now, dry_run=dry_run))
        if on_progress:
            on_progress(source_config.name)
    return reports


def ingest_source(
    source_config: SourceConfig, config: Config, store: Store, *, now: datetime, dry_run: bool
) -> SourceReport:
    """Fetch, extract and store one source, recording the run unless `dry_run`."""
    report = SourceReport(source_config.name)
    run_id = None if dry_run else store.start_run(f"ingest:{source_config.name}")
    try:
        documents = list(build_source(source_config, config).fetch())
    except (NewsletterError, OSError) as error:
        report.failed += 1
        report.errors.append(str(error))
        log.error("source %s failed: %s", source_config.name, error)
        if run_id is not None:
            store.finish_run(run_id, "failed", report.counts(), str(error))
        return report
    first_contact = store.get_source_state(source_config.name) is None
    announcements = _extract_all(documents, report)
    announced_ids = _announced_ids(announcements, source_config, first_contact)
    for announcement in announcements:
        _store_one(announcement, announcement.id in announced_ids, store, report, now, dry_run)
    if not dry_run:
        store.save_source_state(source_config.name, last_success_at=now)
        store.finish_run(run_id, "failed" if report.failed else "ok", report.counts())
    return report


def _extract_all(documents: Iterable[RawDocument], report: SourceReport) -> list[Announcement]:
    announcements = []
    for raw in documents:
        if raw.metadata.get("draft") is True:
            continue
        announcement = to_announcement(raw)
        for warning in announcement.warnings:
            log.warning("%s: %s", raw.path or raw.identity, warning)
        announcements.append(announcement)
    return announcements


def _announced_ids(announcements: list[Announcement], source: SourceConfig, first_contact: bool) -> set[str]:
    """On first contact only the `backfill` most recent are announced; later, all new ones."""
    if not first_contact:
        return {a.id for a in announcements}
    newest = sorted(announcements, key=lambda a: a.published or date.min, reverse=True)
    return {a.id for a in newest[: source.backfill]}


def _store_one(
    announcement: Announcement,
    announce: bool,
    store: Store,
    report: SourceReport,
    now: datetime,
    dry_run: bool,
) -> None:
    if dry_run:
        existing = store.get_announcement(announcement.id)
        outcome = "new" if existing is None else (
            "unchanged" if existing.content_hash == announcement.content_hash else "updated"
        )
    else:
        outcome = store.upsert_announcement(announcement, announce=announce, now=now)
    setattr(report, outcome, getattr(report, outcome) + 1)
    if outcome == "new" and announce:
        report.announced.append(announcement)
