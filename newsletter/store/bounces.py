"""Bounce and complaint reports (`bounce_events`): each recorded once by its event id, with the
address only as a hash, the subscriber and the issue it was about when known."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, func, select, update
from sqlalchemy.engine import Connection

from newsletter.core.models import BounceEvent, BounceKind, DeliveryKind, DeliveryStatus
from newsletter.store.db import insert_ignoring_conflicts
from newsletter.store.subscribers import email_hash, normalise_email
from newsletter.store.tables import bounce_events, deliveries, subscribers

DIAGNOSTIC_KEPT = 500


@dataclass(frozen=True)
class RecordedBounce:
    """A report stored and not applied yet: who it is about and the issue that bounced."""

    event_id: str
    subscriber_id: int | None
    issue_id: str | None


@dataclass(frozen=True)
class BounceReport:
    """One bounce or complaint report about a person, as their history shows it."""

    occurred_at: datetime
    kind: BounceKind
    source: str
    issue_id: str | None
    diagnostic: str


class BounceQueries:
    """`store.bounces`: recording reports once, and counting them for the status and history."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def record(self, event: BounceEvent, now: datetime) -> RecordedBounce | None:
        """Store the report unless its event id is known; None when it was already applied (a
        report recorded but never applied, e.g. after a crash, is returned again)."""
        address = normalise_email(event.recipient)
        with self.engine.begin() as conn:
            subscriber_id = conn.scalar(select(subscribers.c.id).where(subscribers.c.email == address))
            conn.execute(
                insert_ignoring_conflicts(conn, bounce_events).values(
                    event_id=event.event_id, source=event.source, kind=str(event.kind),
                    email_hash=email_hash(address), subscriber_id=subscriber_id,
                    issue_id=_issue_sent_to(conn, address), diagnostic=event.diagnostic[:DIAGNOSTIC_KEPT],
                    occurred_at=event.occurred_at or now, recorded_at=now,
                )
            )
            row = conn.execute(
                select(bounce_events.c.subscriber_id, bounce_events.c.issue_id, bounce_events.c.applied_at)
                .where(bounce_events.c.event_id == event.event_id)
            ).one()
        if row.applied_at is not None:
            return None
        return RecordedBounce(event.event_id, row.subscriber_id, row.issue_id)

    def mark_applied(self, event_id: str, now: datetime) -> None:
        """Record that the report's consequences (status, suppression) are in the store."""
        with self.engine.begin() as conn:
            conn.execute(update(bounce_events).where(bounce_events.c.event_id == event_id).values(applied_at=now))

    def soft_bounces(self, email: str, since: datetime) -> int:
        """How many soft bounces of this address occurred since `since`."""
        t = bounce_events
        query = select(func.count()).select_from(t).where(
            t.c.email_hash == email_hash(email), t.c.kind == str(BounceKind.SOFT), t.c.occurred_at >= since
        )
        with self.engine.connect() as conn:
            return int(conn.scalar(query) or 0)

    def soft_bounce_counts(self, subscriber_ids: Iterable[int], since: datetime) -> dict[int, int]:
        """Soft bounces since `since` of each of these subscribers that has any."""
        t = bounce_events
        ids = list(subscriber_ids)
        if not ids:
            return {}
        query = (
            select(t.c.subscriber_id, func.count())
            .where(t.c.subscriber_id.in_(ids), t.c.kind == str(BounceKind.SOFT), t.c.occurred_at >= since)
            .group_by(t.c.subscriber_id)
        )
        with self.engine.connect() as conn:
            return {int(sid): int(count) for sid, count in conn.execute(query)}

    def reports_about(self, email: str) -> list[BounceReport]:
        """Every bounce and complaint report about this address, oldest first."""
        t = bounce_events
        query = (select(t.c.occurred_at, t.c.kind, t.c.source, t.c.issue_id, t.c.diagnostic)
                 .where(t.c.email_hash == email_hash(email)).order_by(t.c.occurred_at, t.c.id))
        with self.engine.connect() as conn:
            return [BounceReport(row.occurred_at, BounceKind(row.kind), row.source, row.issue_id, row.diagnostic)
                    for row in conn.execute(query)]

    def counts_since(self, since: datetime) -> dict[BounceKind, int]:
        """Reports of each kind that occurred since `since` (every kind present, zero or not)."""
        t = bounce_events
        query = select(t.c.kind, func.count()).where(t.c.occurred_at >= since).group_by(t.c.kind)
        with self.engine.connect() as conn:
            found = {BounceKind(kind): int(count) for kind, count in conn.execute(query)}
        return {kind: found.get(kind, 0) for kind in BounceKind}

    def counts_by_issue(self, issue_ids: Iterable[str]) -> dict[str, Counter[BounceKind]]:
        """Reports of each kind about the messages of each of these issues."""
        t = bounce_events
        ids = list(issue_ids)
        counts: dict[str, Counter[BounceKind]] = {issue_id: Counter() for issue_id in ids}
        if not ids:
            return counts
        query = (
            select(t.c.issue_id, t.c.kind, func.count()).where(t.c.issue_id.in_(ids)).group_by(t.c.issue_id, t.c.kind)
        )
        with self.engine.connect() as conn:
            for issue_id, kind, count in conn.execute(query):
                counts[issue_id][BounceKind(kind)] = int(count)
        return counts


def _issue_sent_to(conn: Connection, address: str) -> str | None:
    """The issue of the last digest message sent to this address: the one a report is about."""
    t = deliveries
    return conn.scalar(
        select(t.c.issue_id)
        .where(t.c.target == address, t.c.kind == str(DeliveryKind.EMAIL), t.c.status == str(DeliveryStatus.SENT))
        .order_by(t.c.sent_at.desc(), t.c.id.desc())
        .limit(1)
    )
