"""Ingestion stage: sources -> extraction -> store, each source isolated from the others.

Per source, a map kept in `source_state.data["seen"]` ties each source identity (guid, URL,
path) to its stored announcement id and a hash of the raw document, so that an unchanged
document is recognised without extraction work, a feed item keeps its id when its link
changes, and a moved file keeps the announcement it had.

Ingestion only stores and reports what changed (`SourceReport.changed_ids`, `withdrawn_ids`);
it never renders. A caller that wants queued posts and open issues to follow the changes passes
a `follow` callable (the daemon and `newsletter ingest` pass
`newsletter.pipeline.revisions.follow_changes`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from newsletter.config import Config
from newsletter.core.errors import NewsletterError
from newsletter.core.identity import stable_id
from newsletter.core.keys import JobKind, job_id
from newsletter.core.models import Announcement, RawDocument
from newsletter.extract import extract
from newsletter.extract.decode import unreadable_reason
from newsletter.plugins import source_class
from newsletter.sources.base import FetchState, Source, SourceConfig
from newsletter.store import Store

log = logging.getLogger(__name__)

MAX_SEEN = 20_000
MAX_SKIPS_KEPT = 50
ItemProgress = Callable[[str, int, int], None]


class FollowReport(Protocol):
    """What following changes reports back: the problems to show as warnings."""

    errors: list[str]


class ChangeFollower(Protocol):
    """Follows stored changes and withdrawals through what still waits for them (queued posts,
    open digest issues); the caller chooses it, so ingestion itself never renders anything."""

    def __call__(
        self, config: Config, store: Store, *, changed: list[str], withdrawn: list[str], now: datetime
    ) -> FollowReport: ...


@dataclass
class SourceReport:
    """What one ingestion run did for one source; `changed_ids` are the stored announcements
    whose content changed, `revisions` what following those changes and withdrawals did."""

    source: str
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    withdrawn: int = 0
    held: int = 0
    skipped: int = 0
    not_modified: bool = False
    errors: list[str] = field(default_factory=list)
    skips: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    announced: list[Announcement] = field(default_factory=list)
    changed_ids: list[str] = field(default_factory=list)
    withdrawn_ids: list[str] = field(default_factory=list)
    revisions: FollowReport | None = None
    started: float = field(default_factory=time.monotonic)

    def finished_at(self, now: datetime) -> datetime:
        """When the run ended: its logical start `now` plus the real time it took."""
        return now + timedelta(seconds=time.monotonic() - self.started)

    def counts(self) -> dict[str, int]:
        """The counts as a plain mapping, for run history and JSON output."""
        return {
            "new": self.new,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "failed": self.failed,
            "withdrawn": self.withdrawn,
            "held": self.held,
            "skipped": self.skipped,
        }

    def add(self, outcome: str) -> None:
        """Count one document under `outcome` (new, updated, unchanged, failed, withdrawn, held, skipped)."""
        setattr(self, outcome, getattr(self, outcome) + 1)


@dataclass
class Seen:
    """What the last runs recorded for one source identity."""

    id: str
    raw_hash: str
    path: str | None = None

    def dump(self) -> list[str | None]:
        """The compact JSON form kept in the source state."""
        return [self.id, self.raw_hash, self.path]


@dataclass
class Pending:
    """A document to extract and store in this run."""

    raw: RawDocument
    announcement: Announcement
    raw_hash: str
    publish_at: datetime | None
    order: int
    previous_hash: str | None = None


def build_source(source_config: SourceConfig, config: Config) -> Source:
    """Instantiate the source class registered for the config's `type:`."""
    source: Source = source_class(source_config.type)(source_config, config.base_dir)
    return source


def raw_hash(raw: RawDocument) -> str:
    """A hash of everything the source gave for a document, compared before extracting."""
    digest = hashlib.sha256()
    content = raw.content if isinstance(raw.content, bytes) else raw.content.encode("utf-8", "replace")
    digest.update(content)
    described = [raw.content_type, raw.url, raw.metadata]
    digest.update(json.dumps(described, sort_keys=True, default=str).encode("utf-8"))
    return digest.hexdigest()


def new_id(raw: RawDocument) -> str:
    """The stable id of a document never seen by its source: an explicit `id` first, then its
    canonical URL (so two sources reaching one URL share it), else the source's identity."""
    if raw.metadata.get("id") is not None:
        return stable_id(raw.identity)
    return stable_id(raw.url or raw.identity)


def to_announcement(raw: RawDocument, announcement_id: str, source_config: SourceConfig) -> Announcement:
    """Extract a raw document; what the source states for sure wins over extraction's guesses."""
    announcement = extract(raw)
    announcement.id = announcement_id
    metadata = raw.metadata
    if isinstance(metadata.get("title"), str) and metadata["title"].strip():
        announcement.title = metadata["title"].strip()
    if isinstance(metadata.get("date"), date):
        moment = metadata["date"]
        announcement.published = moment.date() if isinstance(moment, datetime) else moment
    announcement.url = raw.url or announcement.url
    tags = [str(t) for t in metadata.get("tags") or [] if t] if isinstance(metadata.get("tags"), list) else []
    announcement.tags = list(dict.fromkeys([*source_config.tags, *tags, *announcement.tags]))
    language = metadata.get("lang") or source_config.language
    if language in ("fr", "en"):
        announcement.language = language
    announcement.content_hash = _stored_hash(announcement)
    return announcement


def _stored_hash(announcement: Announcement) -> str:
    """The content hash extended with what the source states (a new title is an update too)."""
    stated = [
        announcement.content_hash,
        announcement.title,
        announcement.published.isoformat() if announcement.published else None,
        announcement.url,
        announcement.tags,
        announcement.language,
    ]
    return hashlib.sha256(json.dumps(stated, ensure_ascii=False).encode("utf-8")).hexdigest()


def ingest(
    config: Config,
    store: Store,
    *,
    now: datetime,
    only: str | None = None,
    dry_run: bool = False,
    on_progress: Callable[[str], None] | None = None,
    on_item: ItemProgress | None = None,
    record_runs: bool = True,
    follow: ChangeFollower | None = None,
) -> list[SourceReport]:
    """Ingest every configured source (or `only` one); a failing source fails alone.

    `on_progress(name)` is called after each source, `on_item(name, done, total)` after each
    document; `dry_run` reads the store but writes nothing; `record_runs=False` leaves the
    `runs` rows to a caller that records its own (the scheduler); `follow` is called with what
    changed (see `ChangeFollower`), before the run is recorded."""
    reports = []
    for source_config in config.sources:
        if only and source_config.name != only:
            continue
        reports.append(
            ingest_source(
                source_config, config, store,
                now=now, dry_run=dry_run, on_item=on_item, record_runs=record_runs, follow=follow,
            )
        )
        if on_progress:
            on_progress(source_config.name)
    return reports


def ingest_source(
    source_config: SourceConfig,
    config: Config,
    store: Store,
    *,
    now: datetime,
    dry_run: bool,
    on_item: ItemProgress | None = None,
    record_runs: bool = True,
    follow: ChangeFollower | None = None,
) -> SourceReport:
    """Fetch, extract and store one source; record the run in `runs` if asked, never in a dry run."""
    name = source_config.name
    report = SourceReport(name)
    stored_state = store.source_states.get_source_state(name) or {}
    run_id = store.runs.start_run(job_id(JobKind.INGEST, name), now=now) if record_runs and not dry_run else None
    data = stored_state.get("data") or {}
    fetch_state = FetchState(
        stored_state.get("etag"), stored_state.get("last_modified"), data.get("fingerprint")
    )
    try:
        source = build_source(source_config, config)
        documents = list(source.fetch(fetch_state))
    except Exception as error:  # one source's failure, whatever it is, must not stop the others
        reason = str(error) if isinstance(error, NewsletterError | OSError) else (
            f"unexpected {type(error).__name__}: {error}"
        )
        log.debug("source %s traceback", name, exc_info=True)
        _record_failure(report, None if dry_run else store, run_id, stored_state, reason, now)
        return report
    run = _SourceRun(source_config, config, store, report, now=now, dry_run=dry_run, on_item=on_item, follow=follow)
    seen = run.process(source, documents, fetch_state, stored_state)
    if not dry_run:
        _record_success(store, run_id, report, fetch_state, stored_state, seen, now)
    return report


class _SourceRun:
    """The steps of ingesting one source's fetched documents."""

    def __init__(
        self,
        source_config: SourceConfig,
        config: Config,
        store: Store,
        report: SourceReport,
        *,
        now: datetime,
        dry_run: bool,
        on_item: ItemProgress | None,
        follow: ChangeFollower | None = None,
    ):
        self.source_config = source_config
        self.config = config
        self.store = store
        self.report = report
        self.now = now
        self.dry_run = dry_run
        self.on_item = on_item
        self.follow = follow
        self.name = source_config.name
        self.complete = False

    def process(
        self,
        source: Source,
        documents: list[RawDocument],
        fetch_state: FetchState,
        stored_state: dict[str, Any],
    ) -> dict[str, Seen]:
        """Store what changed, withdraw what disappeared; returns the new `seen` map."""
        self.complete = source.complete
        report = self.report
        if fetch_state.not_modified:
            report.not_modified = True
            report.unchanged = int((stored_state.get("data") or {}).get("items") or 0)
            return _load_seen(stored_state)
        for warning in fetch_state.warnings:
            log.warning("source %s: %s", self.name, warning)
            report.warnings.append(warning)
        for _key, reason in fetch_state.failures:
            log.error("source %s: %s", self.name, reason)
            report.add("failed")
            report.errors.append(reason)
        for key, reason in fetch_state.skipped:
            self._skip(key, reason)
        old_seen = _load_seen(stored_state)
        first_contact = stored_state.get("first_contact_at") is None
        live = list({raw.identity: raw for raw in reversed(documents) if not _is_draft(raw)}.values())
        live.reverse()
        report.held = sum(_is_draft(raw) for raw in documents)
        ids = {raw.identity: (old_seen[raw.identity].id if raw.identity in old_seen else new_id(raw))
               for raw in live}
        kept = _kept_after_failure(old_seen, fetch_state)
        current_ids = set(ids.values()) | {entry.id for entry in kept.values()}
        seen = dict(kept) if source.complete else dict(old_seen)
        pending: list[Pending] = []
        for order, raw in enumerate(live):
            self._examine(raw, order, ids[raw.identity], old_seen, current_ids, seen, pending)
            if self.on_item:
                self.on_item(self.name, order + 1, len(live))
        self._store_all(pending, first_contact, seen)
        if source.complete:
            self._withdraw_missing(current_ids)
        if self.follow and not self.dry_run and (report.changed_ids or report.withdrawn_ids):
            self._follow_changes(self.follow)
        return _cap(seen)

    def _examine(
        self,
        raw: RawDocument,
        order: int,
        announcement_id: str,
        old_seen: dict[str, Seen],
        current_ids: set[str],
        seen: dict[str, Seen],
        pending: list[Pending],
    ) -> None:
        """Count an unchanged document, or extract it and queue it for storing."""
        previous = old_seen.get(raw.identity)
        unreadable = unreadable_reason(raw.content)
        if unreadable is not None:
            self._skip_kept(raw, unreadable, previous, seen)
            return
        fingerprint = raw_hash(raw)
        if previous is not None and previous.raw_hash == fingerprint:
            self.report.add("unchanged")
            seen[raw.identity] = Seen(previous.id, fingerprint, raw.path)
            return
        try:
            publish_at = _publish_at(raw.metadata.get("publish_at"), self.config.tz)
        except ValueError as error:
            self._item_failed(raw, f"publish_at: {error}")
            return
        announcement = to_announcement(raw, announcement_id, self.source_config)
        if not announcement.title and not announcement.body.strip():
            self._skip_kept(raw, "no text content", previous, seen)
            return
        for warning in announcement.warnings:
            log.warning("source %s: %s: %s", self.name, raw.path or raw.identity, warning)
        existing = self.store.announcements.get_announcement(announcement.id)
        if previous is None and existing is None and self.complete:
            moved_from = self._moved_from(announcement, current_ids)
            if moved_from is not None:
                announcement.id = moved_from
                current_ids.add(moved_from)
                existing = self.store.announcements.get_announcement(moved_from)
        if existing is not None and existing.source != self.name:
            self.report.add("unchanged")
            seen[raw.identity] = Seen(existing.id, fingerprint, raw.path)
            return
        previous_hash = existing.content_hash if existing is not None else None
        pending.append(Pending(raw, announcement, fingerprint, publish_at, order, previous_hash))

    def _moved_from(self, announcement: Announcement, current_ids: set[str]) -> str | None:
        """The id of a stored announcement with the same content that no document claims any
        more (a renamed or moved file), or None."""
        if not announcement.content_hash:
            return None
        prior = self.store.announcements.find_by_content_hash(self.name, announcement.content_hash)
        return prior.id if prior is not None and prior.id not in current_ids else None

    def _store_all(self, pending: list[Pending], first_contact: bool, seen: dict[str, Seen]) -> None:
        announced = _announced_ids(pending, self.source_config.backfill, first_contact)
        for item in pending:
            announcement = item.announcement
            try:
                outcome = self._store_one(item, announcement.id in announced)
            except Exception as error:  # one broken item never stops the rest
                self._item_failed(item.raw, f"cannot be stored ({type(error).__name__}: {error})")
                continue
            self.report.add(outcome)
            seen[item.raw.identity] = Seen(announcement.id, item.raw_hash, item.raw.path)
            embargoed = item.publish_at is not None and item.publish_at > self.now
            if outcome == "new" and announcement.id in announced and not embargoed:
                self.report.announced.append(announcement)
            if outcome == "updated" and item.previous_hash != announcement.content_hash:
                self.report.changed_ids.append(announcement.id)
                if self.source_config.announce_updates and not embargoed:
                    self.report.announced.append(announcement)

    def _store_one(self, item: Pending, announce: bool) -> str:
        if self.dry_run:
            existing = self.store.announcements.get_announcement(item.announcement.id)
            if existing is None:
                return "new"
            return "unchanged" if existing.content_hash == item.announcement.content_hash else "updated"
        return self.store.announcements.upsert_announcement(
            item.announcement, announce=announce, now=self.now, publish_at=item.publish_at,
            reannounce=self.source_config.announce_updates,
        )

    def _withdraw_missing(self, current_ids: set[str]) -> None:
        """Withdraw the active announcements of a complete source that no document holds now."""
        active = {a.id for a in self.store.announcements.list_announcements(source=self.name)}
        for announcement_id in sorted(active - current_ids):
            if not self.dry_run:
                self.store.announcements.mark_withdrawn(announcement_id, now=self.now)
                log.info("source %s: %s withdrawn", self.name, announcement_id)
            self.report.add("withdrawn")
            self.report.withdrawn_ids.append(announcement_id)

    def _follow_changes(self, follow: ChangeFollower) -> None:
        """Re-render or withdraw what still waits for the changed and withdrawn announcements;
        a problem there is reported but never undoes what was stored."""
        report = self.report
        try:
            report.revisions = follow(
                self.config, self.store, changed=report.changed_ids, withdrawn=report.withdrawn_ids, now=self.now
            )
        except Exception as error:  # the announcements are stored; the run must still be recorded
            log.exception("source %s: cannot follow changes of its announcements", self.name)
            report.errors.append(f"following changes: unexpected {type(error).__name__}: {error}")
            return
        report.warnings.extend(report.revisions.errors if report.revisions else [])

    def _skip_kept(self, raw: RawDocument, reason: str, previous: Seen | None, seen: dict[str, Seen]) -> None:
        """Skip a document; what it held before stays stored (a file caught empty while written)."""
        if previous is not None:
            seen[raw.identity] = previous
        self._skip(raw.path or raw.identity, reason)

    def _skip(self, key: str, reason: str) -> None:
        """Count a document that holds nothing to announce, with the reason shown to the user."""
        message = f"{key}: skipped, {reason}"
        log.warning("source %s: %s", self.name, message)
        self.report.add("skipped")
        self.report.skips.append(message)

    def _item_failed(self, raw: RawDocument, reason: str) -> None:
        message = f"{raw.path or raw.identity}: {reason}"
        log.error("source %s: %s", self.name, message)
        self.report.add("failed")
        self.report.errors.append(message)


def _announced_ids(pending: list[Pending], backfill: int, first_contact: bool) -> set[str]:
    """On first contact only the `backfill` most recent are announced; later, all new ones."""
    if not first_contact:
        return {item.announcement.id for item in pending}
    newest = sorted(pending, key=lambda item: (item.announcement.published or date.min, -item.order),
                    reverse=True)
    return {item.announcement.id for item in newest[:backfill]}


def _is_draft(raw: RawDocument) -> bool:
    draft = raw.metadata.get("draft")
    return draft is True or (isinstance(draft, str) and draft.strip().lower() in ("true", "yes"))


def _publish_at(value: Any, tz: ZoneInfo) -> datetime | None:
    """An embargo from front matter: a datetime, date or ISO string; naive means the config's zone."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    else:
        try:
            moment = datetime.fromisoformat(str(value).strip())
        except ValueError:
            raise ValueError(f"{value!r} is not an ISO date or date-time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=tz)


def _load_seen(state: dict[str, Any]) -> dict[str, Seen]:
    data = state.get("data") or {}
    entries = data.get("seen") if isinstance(data, dict) else None
    if not isinstance(entries, dict):
        return {}
    return {key: Seen(*value) for key, value in entries.items() if isinstance(value, list) and len(value) == 3}


def _kept_after_failure(old_seen: dict[str, Seen], fetch_state: FetchState) -> dict[str, Seen]:
    """The seen entries of items that failed or were skipped this time: kept, so they are not
    taken as removed (a file caught empty while being written keeps its announcement)."""
    failed = {key for key, _reason in [*fetch_state.failures, *fetch_state.skipped]}
    return {key: entry for key, entry in old_seen.items() if key in failed or entry.path in failed}


def _cap(seen: dict[str, Seen]) -> dict[str, Seen]:
    """Keep the map bounded: the most recently recorded entries win."""
    if len(seen) <= MAX_SEEN:
        return seen
    return dict(list(seen.items())[-MAX_SEEN:])


def _record_failure(
    report: SourceReport,
    store: Store | None,
    run_id: int | None,
    stored_state: dict[str, Any],
    reason: str,
    now: datetime,
) -> None:
    """Log one clear line, count the failure and record it in `runs` and the source state
    (`store` is None in a dry run)."""
    report.add("failed")
    report.errors.append(reason)
    log.error("source %s failed: %s", report.source, reason)
    if store is None:
        return
    if run_id is not None:
        store.runs.finish_run(run_id, "failed", report.counts(), reason, now=report.finished_at(now))
    store.source_states.save_source_state(
        report.source, last_error=reason, failing_since=stored_state.get("failing_since") or now
    )


def _record_success(
    store: Store,
    run_id: int | None,
    report: SourceReport,
    fetch_state: FetchState,
    stored_state: dict[str, Any],
    seen: dict[str, Seen],
    now: datetime,
) -> None:
    store.source_states.save_source_state(
        report.source,
        etag=fetch_state.etag,
        last_modified=fetch_state.last_modified,
        first_contact_at=stored_state.get("first_contact_at") or now,
        last_success_at=now,
        last_error="; ".join(report.errors)[:2000] or None,
        failing_since=None,
        data={
            "seen": {key: entry.dump() for key, entry in seen.items()},
            "fingerprint": None if report.failed else fetch_state.fingerprint,
            "items": report.new + report.updated + report.unchanged,
            "skipped": report.skips[:MAX_SKIPS_KEPT],
        },
    )
    if run_id is not None:
        message = "; ".join(report.errors)[:2000] or None
        store.runs.finish_run(run_id, "failed" if report.failed else "ok", report.counts(), message,
                         now=report.finished_at(now))
