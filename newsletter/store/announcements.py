"""Stored announcements: insert-or-update by stable id, lookups and the digest selection.

`announced_at` is the moment an announcement became eligible for digests and posts:
max(first seen, publish_at) when it is announced, None for backlog. An embargo changed while
it was still waiting (or moved into the future) moves it. A content change of an announcement
already eligible, when its source says `announce_updates: true`, re-announces it: `announced_at`
becomes the update time (or its embargo) and `revision` counts the re-announcements.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, Engine, Row, and_, case, false, func, or_, select, true, update

from newsletter.core.models import Announcement, AnnouncementStatus, Figure, Quote
from newsletter.store.db import insert_ignoring_conflicts
from newsletter.store.tables import announcements, utcnow

UpsertResult = Literal["new", "updated", "unchanged"]


@dataclass(frozen=True)
class AnnouncedItem:
    """An eligible announcement, when it became eligible, and its revision (0 as first
    announced, n after its n-th re-announced update)."""

    announcement: Announcement
    announced_at: datetime
    revision: int


def announcement_from_row(row: Row[Any]) -> Announcement:
    """Rebuild the domain announcement from its stored columns and extracted JSON."""
    extracted: dict[str, Any] = row.extracted or {}
    return Announcement(
        id=row.id,
        identity=row.identity,
        source=row.source,
        title=row.title,
        body=row.body,
        url=row.url,
        published=row.published,
        language=row.language,
        lede=row.lede,
        tags=list(extracted.get("tags", [])),
        acronyms=dict(extracted.get("acronyms", {})),
        quotes=[Quote(**q) for q in extracted.get("quotes", [])],
        figures=[Figure(**f) for f in extracted.get("figures", [])],
        key_quote=extracted.get("key_quote"),
        key_figures=list(extracted.get("key_figures", [])),
        warnings=list(extracted.get("warnings", [])),
        content_hash=row.content_hash,
    )


def _content_columns(ann: Announcement, status: AnnouncementStatus, publish_at: datetime | None) -> dict[str, Any]:
    """The columns that come from the announcement itself (not bookkeeping)."""
    return {
        "source": ann.source,
        "identity": ann.identity,
        "url": ann.url,
        "title": ann.title,
        "published": ann.published,
        "language": ann.language,
        "lede": ann.lede,
        "body": ann.body,
        "extracted": ann.extracted(),
        "content_hash": ann.content_hash,
        "status": str(status),
        "publish_at": publish_at,
    }


class AnnouncementQueries:
    """`store.announcements`: stored announcements, their revisions and when they were announced."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def upsert_announcement(
        self,
        ann: Announcement,
        *,
        announce: bool,
        now: datetime | None = None,
        status: AnnouncementStatus | str = AnnouncementStatus.ACTIVE,
        publish_at: datetime | None = None,
        reannounce: bool = False,
    ) -> UpsertResult:
        """Store `ann` under its stable id: "new", "updated" (content hash, status or
        publish_at changed) or "unchanged". `announce` is kept from the first insert; with
        `reannounce`, a content change of an already eligible announcement re-announces it."""
        if not ann.id:
            raise ValueError(f"announcement {ann.source}:{ann.identity} has no stable id")
        now = now or utcnow()
        status = AnnouncementStatus(status)
        columns = _content_columns(ann, status, publish_at)
        eligible_from = max(now, publish_at) if publish_at is not None else now
        t = announcements
        with self.engine.begin() as conn:
            insert_stmt = insert_ignoring_conflicts(conn, t).values(
                id=ann.id, first_seen=now, updated=now, announce=announce,
                announced_at=eligible_from if announce else None, revision=0, **columns
            )
            if conn.execute(insert_stmt).rowcount == 1:
                return "new"
            changed = or_(
                t.c.content_hash != ann.content_hash,
                t.c.status != str(status),
                _differs(t.c.publish_at, publish_at),
            )
            bump = _reannounced(ann.content_hash, now) if reannounce else false()
            rescheduled = _rescheduled(publish_at, now)
            result = conn.execute(
                update(t)
                .where(t.c.id == ann.id, changed)
                .values(
                    updated=now,
                    announced_at=case((bump, eligible_from), (rescheduled, eligible_from), else_=t.c.announced_at),
                    revision=case((bump, t.c.revision + 1), else_=t.c.revision),
                    **columns,
                )
            )
        return "updated" if result.rowcount == 1 else "unchanged"

    def get_announcement(self, announcement_id: str) -> Announcement | None:
        """The stored announcement with this stable id, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(select(announcements).where(announcements.c.id == announcement_id)).first()
        return announcement_from_row(row) if row else None

    def get_public_announcement(self, announcement_id: str, *, now: datetime | None = None) -> Announcement | None:
        """The announcement with this id if anyone may read it now: active (not withdrawn nor a
        draft) and past its embargo (publish_at); else None."""
        t = announcements
        query = select(t).where(
            t.c.id == announcement_id,
            t.c.status == str(AnnouncementStatus.ACTIVE),
            or_(t.c.publish_at.is_(None), t.c.publish_at <= (now or utcnow())),
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return announcement_from_row(row) if row else None

    def get_announcements(self, ids: list[str]) -> list[Announcement]:
        """The stored announcements with these ids, in the order given (missing ids left out)."""
        if not ids:
            return []
        with self.engine.connect() as conn:
            rows = conn.execute(select(announcements).where(announcements.c.id.in_(ids))).all()
        by_id = {row.id: announcement_from_row(row) for row in rows}
        return [by_id[i] for i in ids if i in by_id]

    def list_announcements(
        self,
        *,
        since: datetime | None = None,
        source: str | None = None,
        announce_only: bool = False,
        include_inactive: bool = False,
    ) -> list[Announcement]:
        """Announcements first seen at or after `since`, oldest first; active ones unless
        `include_inactive`."""
        t = announcements
        query = select(t).order_by(t.c.first_seen, t.c.id)
        if since is not None:
            query = query.where(t.c.first_seen >= since)
        if source is not None:
            query = query.where(t.c.source == source)
        if announce_only:
            query = query.where(t.c.announce.is_(True))
        if not include_inactive:
            query = query.where(t.c.status == str(AnnouncementStatus.ACTIVE))
        with self.engine.connect() as conn:
            return [announcement_from_row(row) for row in conn.execute(query)]

    def browse_announcements(
        self, *, source: str | None = None, published_from: date | None = None, published_to: date | None = None,
        limit: int = 50, offset: int = 0,
    ) -> tuple[list[Announcement], int]:
        """One page of every stored announcement (withdrawn ones too), newest first seen first, of
        one source and published within a range when given (an undated one only without a
        range), and how many match in all."""
        t = announcements
        conditions = [t.c.source == source] if source is not None else []
        if published_from is not None:
            conditions.append(t.c.published >= published_from)
        if published_to is not None:
            conditions.append(t.c.published <= published_to)
        query = select(t).where(*conditions).order_by(t.c.first_seen.desc(), t.c.id.desc()).limit(limit).offset(offset)
        with self.engine.connect() as conn:
            total = int(conn.scalar(select(func.count()).select_from(t).where(*conditions)) or 0)
            return [announcement_from_row(row) for row in conn.execute(query)], total

    def source_names(self) -> list[str]:
        """Every source that has stored announcements, by name."""
        with self.engine.connect() as conn:
            return list(conn.scalars(select(announcements.c.source).distinct().order_by(announcements.c.source)))

    def announced_since(
        self,
        ts: datetime,
        tags: list[str] | None = None,
        *,
        now: datetime | None = None,
    ) -> list[AnnouncedItem]:
        """Active, announceable announcements that became eligible after `ts` and by `now`
        (embargo passed), oldest first; with `tags`, only those sharing one (case-insensitive)."""
        now = now or utcnow()
        t = announcements
        query = (
            select(t)
            .where(
                t.c.announced_at > ts,
                t.c.announced_at <= now,
                t.c.announce.is_(True),
                t.c.status == str(AnnouncementStatus.ACTIVE),
                or_(t.c.publish_at.is_(None), t.c.publish_at <= now),
            )
            .order_by(t.c.announced_at, t.c.id)
        )
        with self.engine.connect() as conn:
            found = [AnnouncedItem(announcement_from_row(row), row.announced_at, row.revision)
                     for row in conn.execute(query)]
        if not tags:
            return found
        wanted = {tag.casefold() for tag in tags}
        return [item for item in found if wanted & {tag.casefold() for tag in item.announcement.tags}]

    def find_by_content_hash(self, source: str, content_hash: str) -> Announcement | None:
        """An announcement of `source` with this content hash (the oldest), or None."""
        t = announcements
        query = (
            select(t)
            .where(t.c.source == source, t.c.content_hash == content_hash)
            .order_by(t.c.first_seen, t.c.id)
            .limit(1)
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return announcement_from_row(row) if row else None

    def mark_withdrawn(self, announcement_id: str, *, now: datetime | None = None) -> bool:
        """Withdraw an announcement so it is no longer selected; False if unknown or
        already withdrawn."""
        t = announcements
        with self.engine.begin() as conn:
            result = conn.execute(
                update(t)
                .where(t.c.id == announcement_id, t.c.status != str(AnnouncementStatus.WITHDRAWN))
                .values(status=str(AnnouncementStatus.WITHDRAWN), updated=now or utcnow())
            )
        return result.rowcount == 1

    def save_extracted(self, ann: Announcement, *, now: datetime | None = None) -> bool:
        """Store `ann`'s extracted part (quotes, figures, key choices) as edited by a reviewer;
        False if the announcement is unknown."""
        t = announcements
        with self.engine.begin() as conn:
            result = conn.execute(
                update(t).where(t.c.id == ann.id).values(extracted=ann.extracted(), updated=now or utcnow())
            )
        return result.rowcount == 1

    def set_announce(self, announcement_id: str, announce: bool, *, now: datetime | None = None) -> bool:
        """Whether digests and posts may carry this announcement; False if unknown."""
        t = announcements
        with self.engine.begin() as conn:
            result = conn.execute(
                update(t).where(t.c.id == announcement_id).values(announce=announce, updated=now or utcnow())
            )
        return result.rowcount == 1

    def not_announced_ids(self) -> set[str]:
        """Ids of stored announcements that will not be announced (skipped or never announceable)."""
        t = announcements
        with self.engine.connect() as conn:
            return set(conn.scalars(select(t.c.id).where(t.c.announce.is_(False))))

    def is_withdrawn(self, announcement_id: str) -> bool:
        """Whether the stored announcement with this id has been withdrawn (False if unknown)."""
        t = announcements
        with self.engine.connect() as conn:
            status = conn.scalar(select(t.c.status).where(t.c.id == announcement_id))
        return status == str(AnnouncementStatus.WITHDRAWN)

    def announcement_ids(self, source: str) -> set[str]:
        """The stable ids stored for `source` (to spot documents that disappeared)."""
        t = announcements
        with self.engine.connect() as conn:
            return set(conn.scalars(select(t.c.id).where(t.c.source == source)))


def _reannounced(content_hash: str, now: datetime) -> ColumnElement[bool]:
    """The stored row is already eligible (announced, not backlog) and its content changes."""
    t = announcements
    return and_(t.c.content_hash != content_hash, t.c.announced_at.is_not(None), t.c.announced_at <= now)


def _rescheduled(publish_at: datetime | None, now: datetime) -> ColumnElement[bool]:
    """The embargo changes while the row still waits for it, or moves into the future: its
    eligibility moves with it (backlog stays backlog)."""
    t = announcements
    into_future = publish_at is not None and publish_at > now
    waiting = true() if into_future else t.c.announced_at > now
    return and_(t.c.announced_at.is_not(None), _differs(t.c.publish_at, publish_at), waiting)


def _differs(column: Any, value: datetime | None) -> Any:
    """A NULL-safe `column <> value` condition."""
    if value is None:
        return column.is_not(None)
    return or_(column.is_(None), column != value)
