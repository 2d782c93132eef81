"""The delivery ledger: the only place that decides whether a message or post was already sent.

One row per email per recipient or per post per channel, keyed by an idempotency key. A sender
claims a row (atomically: pending and due -> claimed), talks to the provider, then marks it sent,
retry, failed or skipped, each in its own committed transaction. `attempts` counts claims, so an
attempt interrupted by a crash still counts towards `max_attempts`. Dry runs never touch it.
`Ledger.sent_marker` gives bulk email senders the same claim -> sent path at driver speed.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Iterable, Iterator
from datetime import datetime
from itertools import islice
from typing import Any, TypeVar

from sqlalchemy import Row, bindparam, case, func, select, update
from sqlalchemy.exc import IntegrityError

from newsletter.core.errors import StoreError
from newsletter.core.models import QUEUED_STATUSES, Delivery, DeliveryKind, DeliveryStatus
from newsletter.store import Store, SubscriberStatus
from newsletter.store.db import bulk_insert_ignoring_conflicts, driver_converter
from newsletter.store.owners import remove_dead_owners
from newsletter.store.tables import UTCDateTime, claim_owners, deliveries, subscribers, utcnow

S = DeliveryStatus
BATCH_SIZE = 1000
DEFAULT_MAX_ATTEMPTS = 5
INTERRUPTED = "interrupted: the process stopped while sending"
# Mail kinds an interrupted claim may be sent again (at most one duplicate per connection);
# posts are checked on the service instead.
RESENDABLE_KINDS = (str(DeliveryKind.EMAIL), str(DeliveryKind.CONFIRMATION), str(DeliveryKind.NOTIFICATION))

PendingRow = tuple[str, str, str, dict[str, Any] | None]
Item = TypeVar("Item")


DELIVERY_COLUMNS = tuple(
    deliveries.c[name]
    for name in ("id", "key", "kind", "target", "status", "attempts", "provider_id", "provider_url", "error",
                 "next_attempt_at", "issue_id", "payload")
)


def delivery_from_row(row: Row[Any]) -> Delivery:
    """The domain view of one ledger row."""
    return Delivery(
        key=row.key,
        kind=row.kind,
        target=row.target,
        status=DeliveryStatus(row.status),
        attempts=row.attempts,
        provider_id=row.provider_id,
        provider_url=row.provider_url,
        error=row.error,
        next_attempt_at=row.next_attempt_at,
        issue_id=row.issue_id,
        payload=row.payload or {},
    )


def _deliveries(rows: list[Row[Any]]) -> list[Delivery]:
    """Ledger rows as deliveries, oldest first."""
    return [delivery_from_row(row) for row in sorted(rows, key=lambda row: row.id)]


def _batches(items: Iterable[Item], size: int) -> Iterator[list[Item]]:
    """Split `items` into lists of at most `size`."""
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def _statuses(*statuses: DeliveryStatus) -> list[str]:
    """Status values for an IN clause."""
    return [str(s) for s in statuses]


def _row_filter(status: DeliveryStatus | Collection[DeliveryStatus] | None, issue_id: str | None,
                kind: str | None) -> list[Any]:
    """The WHERE clauses selecting rows by status (one or several), issue and kind."""
    t = deliveries
    conditions: list[Any] = []
    if isinstance(status, DeliveryStatus):
        conditions.append(t.c.status == str(status))
    elif status is not None:
        conditions.append(t.c.status.in_(_statuses(*status)))
    if issue_id is not None:
        conditions.append(t.c.issue_id == issue_id)
    if kind is not None:
        conditions.append(t.c.kind == str(DeliveryKind(kind)))
    return conditions


class Ledger:
    """The deliveries ledger of one store."""

    def __init__(self, store: Store, *, max_attempts: int = DEFAULT_MAX_ATTEMPTS):
        self.store = store
        self.engine = store.engine
        self.max_attempts = max_attempts

    def ensure_pending(
        self,
        rows: Iterable[PendingRow],
        *,
        issue_id: str | None = None,
        status: DeliveryStatus = S.PENDING,
        now: datetime | None = None,
    ) -> int:
        """Insert the (key, kind, target, payload) rows whose key is new, in batches;
        existing keys are left exactly as they are. Returns how many rows were created."""
        if status not in (S.PENDING, S.AWAITING_APPROVAL):
            raise ValueError(f"new deliveries are pending or awaiting_approval, not {status}")
        now = now or utcnow()
        as_json = driver_converter(deliveries.c.payload.type, self.engine.dialect)
        constants = {"issue_id": issue_id, "status": str(status), "attempts": 0, "created_at": now, "updated_at": now}
        created = 0
        for batch in _batches(rows, BATCH_SIZE):
            values = [value for key, kind, target, payload in batch
                      for value in (key, str(DeliveryKind(kind)), target, as_json(payload))]
            try:
                with self.engine.begin() as conn:
                    created += bulk_insert_ignoring_conflicts(
                        conn, deliveries, ("key", "kind", "target", "payload"), values, constants)
            except IntegrityError:
                raise StoreError(f"no digest issue {issue_id} to record deliveries for") from None
        return created

    def claim(self, key: str, now: datetime | None = None, *, resume_uncertain: bool = False) -> bool:
        """Claim one row for sending: True only for the one caller that moved it from
        pending (and due) to claimed; with `resume_uncertain`, an uncertain post whose
        attempts are not used up may be claimed too (its sender checks before resending)."""
        now = now or utcnow()
        t = deliveries
        with self.engine.begin() as conn:
            result = conn.execute(
                update(t)
                .where(t.c.key == key, *self._claimable(now, resume_uncertain=resume_uncertain))
                .values(
                    status=str(S.CLAIMED),
                    claimed_at=now,
                    claimed_by=self.store.claim_owner.id(),
                    attempts=t.c.attempts + 1,
                    updated_at=now,
                )
            )
        return result.rowcount == 1

    def claim_batch(
        self,
        kind: str,
        limit: int,
        now: datetime | None = None,
        issue_id: str | None = None,
    ) -> list[Delivery]:
        """Claim up to `limit` due pending rows of `kind` (and issue), oldest first; rows
        another process is claiming at the same moment are skipped, never shared."""
        return _deliveries(self._claim_rows(kind, limit, now, issue_id))

    def _claim_rows(self, kind: str, limit: int, now: datetime | None, issue_id: str | None) -> list[Row[Any]]:
        """`claim_batch`'s database work: the claimed rows, not yet converted."""
        now = now or utcnow()
        t = deliveries
        candidates = (
            select(t.c.id)
            .where(t.c.kind == str(DeliveryKind(kind)), *self._claimable(now))
            .order_by(t.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        if issue_id is not None:
            candidates = candidates.where(t.c.issue_id == issue_id)
        # PostgreSQL may rescan an IN subquery once per row it updates, and each rescan's LIMIT
        # would then lock further rows: picking the rows once, in a materialised CTE, keeps `limit`.
        picked = candidates.cte("picked").prefix_with("MATERIALIZED", dialect="postgresql")
        statement = (
            update(t)
            .where(t.c.id.in_(select(picked.c.id)), *self._claimable(now))
            .values(
                status=str(S.CLAIMED),
                claimed_at=now,
                claimed_by=self.store.claim_owner.id(),
                attempts=t.c.attempts + 1,
                updated_at=now,
            )
            .returning(*DELIVERY_COLUMNS)
        )
        with self.engine.begin() as conn:
            return list(conn.execute(statement).all())

    def mark_sent(
        self,
        key: str,
        provider_id: str | None = None,
        provider_url: str | None = None,
        now: datetime | None = None,
    ) -> None:
        """Record that the provider accepted the claimed row `key` (committed at once)."""
        now = now or utcnow()
        self._transition(
            key,
            (S.CLAIMED,),
            status=str(S.SENT),
            sent_at=now,
            provider_id=provider_id,
            provider_url=provider_url,
            error=None,
            updated_at=now,
        )

    def record_parts(self, key: str, provider_ids: list[str], provider_url: str | None,
                     now: datetime | None = None) -> None:
        """Record the provider ids of the thread parts accepted so far on the row `key` this
        process claims (committed at once, before the next part is sent)."""
        t = deliveries
        with self.engine.begin() as conn:
            changed = conn.execute(
                update(t)
                .where(t.c.key == key, t.c.status == str(S.CLAIMED), t.c.claimed_by == self.store.claim_owner.id())
                .values(provider_id=",".join(provider_ids), provider_url=provider_url, updated_at=now or utcnow())
            ).rowcount
        if changed != 1:
            raise StoreError(f"delivery {key} is no longer claimed by this process: part ids not recorded")

    def record_retracted(self, key: str, remaining_ids: list[str], now: datetime | None = None) -> DeliveryStatus:
        """Record that a post's parts other than `remaining_ids` were deleted at the service;
        once none remain the row is `deleted` (never posted again). Returns the new status."""
        t = deliveries
        status = t.c.status if remaining_ids else str(S.DELETED)
        with self.engine.begin() as conn:
            row = conn.execute(
                update(t)
                .where(t.c.key == key, t.c.status != str(S.CLAIMED))
                .values(provider_id=",".join(remaining_ids) or None, status=status, updated_at=now or utcnow())
                .returning(t.c.status)
            ).first()
        if row is None:
            raise StoreError(f"delivery {key} is missing or being sent: nothing retracted")
        return DeliveryStatus(row.status)

    def mark_failed(self, key: str, error: str, now: datetime | None = None) -> None:
        """Give up on `key` for good (e.g. a permanent provider error)."""
        self._transition(
            key,
            (S.PENDING, S.AWAITING_APPROVAL, S.CLAIMED, S.UNCERTAIN),
            status=str(S.FAILED),
            error=error,
            updated_at=now or utcnow(),
        )

    def mark_retry(
        self,
        key: str,
        error: str,
        next_attempt_at: datetime,
        now: datetime | None = None,
    ) -> DeliveryStatus:
        """Put a claimed row back to pending, due at `next_attempt_at`; once it has been
        attempted `max_attempts` times it becomes failed instead. Returns the new status."""
        now = now or utcnow()
        t = deliveries
        exhausted = t.c.attempts >= self.max_attempts
        with self.engine.begin() as conn:
            row = conn.execute(
                update(t)
                .where(t.c.key == key, t.c.status == str(S.CLAIMED))
                .values(
                    status=case((exhausted, str(S.FAILED)), else_=str(S.PENDING)),
                    next_attempt_at=next_attempt_at,
                    claimed_at=None,
                    claimed_by=None,
                    error=error,
                    updated_at=now,
                )
                .returning(t.c.status)
            ).first()
        if row is None:
            raise self._not_in(key, (S.CLAIMED,))
        return DeliveryStatus(row.status)

    def mark_skipped(self, key: str, reason: str | None = None, now: datetime | None = None) -> None:
        """Decide not to send `key` (unsubscribed, suppressed, channel paused…)."""
        self._transition(
            key,
            (S.PENDING, S.AWAITING_APPROVAL, S.CLAIMED, S.FAILED, S.UNCERTAIN),
            status=str(S.SKIPPED),
            error=reason,
            updated_at=now or utcnow(),
        )

    def mark_uncertain(self, key: str, error: str, now: datetime | None = None) -> None:
        """Record that a claimed row may or may not have gone out (e.g. a timeout after the
        request was sent); a post is resumed only through a sender that checks the service first."""
        self._transition(key, (S.CLAIMED,), status=str(S.UNCERTAIN), error=error, updated_at=now or utcnow())

    def resolve_uncertain(self, key: str, *, sent: bool, now: datetime | None = None) -> None:
        """An operator's verdict on an uncertain row: sent, or pending to send again."""
        now = now or utcnow()
        if sent:
            self._transition(key, (S.UNCERTAIN,), status=str(S.SENT), sent_at=now, updated_at=now)
        else:
            self._transition(key, (S.UNCERTAIN,), status=str(S.PENDING), claimed_at=None, claimed_by=None,
                             updated_at=now)

    def release(self, key: str, error: str, now: datetime | None = None) -> None:
        """Put a claimed row back to pending without counting the attempt (nothing was sent,
        e.g. the channel's credentials were refused before any request went out)."""
        now = now or utcnow()
        t = deliveries
        self._transition(
            key, (S.CLAIMED,), status=str(S.PENDING), claimed_at=None, claimed_by=None, attempts=t.c.attempts - 1,
            error=error, updated_at=now,
        )

    def release_many(self, keys: Collection[str], now: datetime | None = None) -> int:
        """Put the rows among `keys` that are still claimed back to pending without counting the
        attempt (they were never handed to the provider, e.g. the run stopped first), their error
        left as it was; rows no longer claimed are untouched. Returns how many were released."""
        if not keys:
            return 0
        now = now or utcnow()
        t = deliveries
        released = 0
        with self.engine.begin() as conn:
            for batch in _batches(keys, BATCH_SIZE):
                released += conn.execute(
                    update(t)
                    .where(t.c.key.in_(batch), t.c.status == str(S.CLAIMED))
                    .values(status=str(S.PENDING), claimed_at=None, claimed_by=None, attempts=t.c.attempts - 1,
                            updated_at=now)
                ).rowcount
        return released

    def hold_for_review(self, key: str, reason: str, now: datetime | None = None) -> bool:
        """Put a queued row (pending or awaiting approval) in awaiting approval, noting why a
        person should look at it first; False if it is no longer queued."""
        return self._set_if_queued(key, status=str(S.AWAITING_APPROVAL), error=reason, updated_at=now or utcnow())

    def skip_queued(self, key: str, reason: str, now: datetime | None = None) -> bool:
        """Skip a row that is still queued (pending or awaiting approval); False if it is not
        (claimed, sent or finished rows are never touched)."""
        return self._set_if_queued(key, status=str(S.SKIPPED), error=reason, updated_at=now or utcnow())

    def update_payload(
        self, key: str, payload: dict[str, Any], *, only_in: Collection[DeliveryStatus],
        status: DeliveryStatus | None = None, now: datetime | None = None,
    ) -> bool:
        """Replace row `key`'s payload (and its status, when given) if it is in one of the
        `only_in` statuses (checked in the same statement); False otherwise."""
        t = deliveries
        values: dict[str, Any] = {"payload": payload, "updated_at": now or utcnow()}
        if status is not None:
            values["status"] = str(status)
        with self.engine.begin() as conn:
            result = conn.execute(update(t).where(t.c.key == key, t.c.status.in_(_statuses(*only_in))).values(**values))
        return result.rowcount == 1

    def reschedule(self, key: str, when: datetime, now: datetime | None = None) -> bool:
        """Make a queued row (pending or awaiting approval) wait until `when` (a person moved it to
        another slot); False if it is no longer queued."""
        return self._set_if_queued(key, next_attempt_at=when, updated_at=now or utcnow())

    def restore_skipped(self, key: str, status: DeliveryStatus, now: datetime | None = None) -> bool:
        """Put a skipped row back in the queue as `status` (pending or awaiting approval): a
        person undid a skip; False if it is not skipped any more."""
        if status not in QUEUED_STATUSES:
            raise ValueError(f"a restored row is pending or awaiting_approval, not {status}")
        t = deliveries
        with self.engine.begin() as conn:
            result = conn.execute(
                update(t).where(t.c.key == key, t.c.status == str(S.SKIPPED))
                .values(status=str(status), error=None, updated_at=now or utcnow())
            )
        return result.rowcount == 1

    def past_posts(self, start: datetime, end: datetime, limit: int = 500) -> list[tuple[Delivery, datetime]]:
        """Post rows that left the queue in [start, end): sent, skipped, failed, deleted, or being
        sent or in doubt (claimed, uncertain), with when that happened (the sent time, else the
        last change), oldest first."""
        t = deliveries
        at = func.coalesce(t.c.sent_at, t.c.updated_at, type_=UTCDateTime).label("at")
        finished = _statuses(S.SENT, S.SKIPPED, S.FAILED, S.DELETED, S.CLAIMED, S.UNCERTAIN)
        query = (
            select(*DELIVERY_COLUMNS, at)
            .where(t.c.kind == str(DeliveryKind.POST), t.c.status.in_(finished), at >= start, at < end)
            .order_by(at, t.c.id)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [(delivery_from_row(row), row.at) for row in conn.execute(query)]

    def bring_forward(self, key: str, now: datetime) -> bool:
        """Make a pending or uncertain row due at `now` (a person's "post now"); False if it is in
        another state."""
        t = deliveries
        with self.engine.begin() as conn:
            result = conn.execute(
                update(t)
                .where(t.c.key == key, t.c.status.in_(_statuses(S.PENDING, S.UNCERTAIN)))
                .values(next_attempt_at=now, updated_at=now)
            )
        return result.rowcount == 1

    def approve_key(self, key: str, now: datetime | None = None) -> bool:
        """Release one row awaiting approval (-> pending); False if it was not awaiting approval."""
        return self._release_awaiting(deliveries.c.key == key, now) == 1

    def approve(self, issue_id: str, now: datetime | None = None) -> int:
        """Release an approved issue's rows (awaiting_approval -> pending); returns how many."""
        return self._release_awaiting(deliveries.c.issue_id == issue_id, now)

    def recover_dead_claims(self, now: datetime | None = None, *, issue_id: str | None = None) -> dict[str, int]:
        """Settle the rows claimed by owners that died (see `newsletter.store.owners`), only those
        of `issue_id` when given; a live process's claims are never touched. Emails (digest
        copies and confirmations) go back to pending (at most one message per interrupted
        connection may then be sent twice), posts become uncertain: their sender checks the
        service before resuming them.
        Returns {"pending": n, "uncertain": m}."""
        now = now or utcnow()
        remove_dead_owners(self.engine, keep=self.store.claim_owner.registered)
        t = deliveries
        orphaned = [
            t.c.status == str(S.CLAIMED),
            t.c.claimed_by.is_(None) | t.c.claimed_by.not_in(select(claim_owners.c.id)),
        ]
        if issue_id is not None:
            orphaned.append(t.c.issue_id == issue_id)
        with self.engine.begin() as conn:
            emails = conn.execute(
                update(t)
                .where(*orphaned, t.c.kind.in_(RESENDABLE_KINDS))
                .values(status=str(S.PENDING), claimed_at=None, claimed_by=None, error=INTERRUPTED, updated_at=now)
            ).rowcount
            posts = conn.execute(
                update(t)
                .where(*orphaned, t.c.kind.not_in(RESENDABLE_KINDS))
                .values(status=str(S.UNCERTAIN), error=INTERRUPTED, updated_at=now)
            ).rowcount
        return {str(S.PENDING): emails, str(S.UNCERTAIN): posts}

    def sent_marker(self, connections: int) -> SentMarker:
        """A fast claim -> sent marker for `connections` concurrent senders (see `SentMarker`);
        close it when the run ends."""
        return SentMarker(self, connections)

    def next_due(self, issue_id: str) -> tuple[datetime | None, bool]:
        """When the issue's next pending row is due (None: no pending row), and whether any of
        its rows is still claimed."""
        t = deliveries
        due_at = func.min(func.coalesce(t.c.next_attempt_at, t.c.created_at), type_=UTCDateTime)
        with self.engine.connect() as conn:
            due = conn.scalar(select(due_at).where(t.c.issue_id == issue_id, t.c.status == str(S.PENDING)))
            claimed = conn.scalar(
                select(func.count()).where(t.c.issue_id == issue_id, t.c.status == str(S.CLAIMED))
            )
        return due, bool(claimed)

    def counts(self, issue_id: str | None = None) -> dict[str, int]:
        """How many rows are in each status (every status present, zeros included)."""
        t = deliveries
        query = select(t.c.status, func.count()).group_by(t.c.status)
        if issue_id is not None:
            query = query.where(t.c.issue_id == issue_id)
        found = {str(s): 0 for s in DeliveryStatus}
        with self.engine.connect() as conn:
            for status, count in conn.execute(query):
                found[status] = int(count)
        return found

    def first_sent_at(self, issue_id: str) -> datetime | None:
        """When the issue's first message was accepted (None before any was)."""
        t = deliveries
        with self.engine.connect() as conn:
            return conn.scalar(select(func.min(t.c.sent_at)).where(t.c.issue_id == issue_id,
                                                                    t.c.status == str(S.SENT)))

    def bounced_failures(self, issue_id: str) -> int:
        """Failed messages of the issue whose recipient is now marked bounced."""
        t = deliveries
        query = (
            select(func.count()).select_from(t.join(subscribers, subscribers.c.email == t.c.target))
            .where(t.c.issue_id == issue_id, t.c.status == str(S.FAILED),
                   subscribers.c.status == str(SubscriberStatus.BOUNCED))
        )
        with self.engine.connect() as conn:
            return int(conn.scalar(query) or 0)

    def get(self, key: str) -> Delivery | None:
        """The ledger row with this key, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(select(deliveries).where(deliveries.c.key == key)).first()
        return delivery_from_row(row) if row else None

    def due(self, kind: str, target: str, now: datetime, limit: int, *, resume_uncertain: bool = False
            ) -> list[Delivery]:
        """The pending rows of `kind` for `target` that are due at `now` (not claimed), those
        given a time (moved to a slot, rescheduled) first, then the oldest; with
        `resume_uncertain`, the uncertain ones that may be resumed too."""
        t = deliveries
        query = (
            select(t)
            .where(t.c.kind == str(DeliveryKind(kind)), t.c.target == target,
                   *self._claimable(now, resume_uncertain=resume_uncertain))
            .order_by(t.c.next_attempt_at.is_(None), t.c.id)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [delivery_from_row(row) for row in conn.execute(query)]

    def queued_posts(self, channel: str | None = None) -> list[Delivery]:
        """Every post row that still waits to go out (pending or awaiting approval), oldest first."""
        t = deliveries
        query = select(t).where(t.c.kind == str(DeliveryKind.POST), t.c.status.in_([str(s) for s in QUEUED_STATUSES]))
        if channel is not None:
            query = query.where(t.c.target == channel)
        with self.engine.connect() as conn:
            return [delivery_from_row(row) for row in conn.execute(query.order_by(t.c.id))]

    def list_deliveries(
        self,
        *,
        status: DeliveryStatus | Collection[DeliveryStatus] | None = None,
        issue_id: str | None = None,
        kind: str | None = None,
        limit: int = 100,
        offset: int = 0,
        newest_first: bool = False,
    ) -> list[Delivery]:
        """Ledger rows, oldest first (or newest first), filtered by status (one or several),
        issue and kind, `limit` of them from `offset`."""
        t = deliveries
        order = t.c.id.desc() if newest_first else t.c.id
        query = select(t).where(*_row_filter(status, issue_id, kind)).order_by(order).limit(limit).offset(offset)
        with self.engine.connect() as conn:
            return [delivery_from_row(row) for row in conn.execute(query)]

    def count_deliveries(
        self, *, status: DeliveryStatus | Collection[DeliveryStatus] | None = None, issue_id: str | None = None,
        kind: str | None = None,
    ) -> int:
        """How many rows `list_deliveries` could list in all."""
        query = select(func.count()).select_from(deliveries).where(*_row_filter(status, issue_id, kind))
        with self.engine.connect() as conn:
            return int(conn.scalar(query) or 0)

    def _release_awaiting(self, which: Any, now: datetime | None) -> int:
        """Move the rows matching `which` from awaiting_approval to pending; returns how many."""
        t = deliveries
        with self.engine.begin() as conn:
            result = conn.execute(
                update(t)
                .where(which, t.c.status == str(S.AWAITING_APPROVAL))
                .values(status=str(S.PENDING), updated_at=now or utcnow())
            )
        return result.rowcount

    def _set_if_queued(self, key: str, **values: Any) -> bool:
        """Update row `key` only if it is pending or awaiting approval (in the same statement)."""
        t = deliveries
        queued = _statuses(S.PENDING, S.AWAITING_APPROVAL)
        with self.engine.begin() as conn:
            result = conn.execute(update(t).where(t.c.key == key, t.c.status.in_(queued)).values(**values))
        return result.rowcount == 1

    def _claimable(self, now: datetime, *, resume_uncertain: bool = False) -> tuple[Any, ...]:
        """Conditions of a row that may be claimed now (uncertain posts too with `resume_uncertain`)."""
        t = deliveries
        status = t.c.status == str(S.PENDING)
        if resume_uncertain:
            resumable = (t.c.status == str(S.UNCERTAIN)) & (t.c.kind == str(DeliveryKind.POST))
            status = status | (resumable & (t.c.attempts < self.max_attempts))
        return (status, (t.c.next_attempt_at.is_(None)) | (t.c.next_attempt_at <= now))

    def _transition(self, key: str, allowed: tuple[DeliveryStatus, ...], **values: Any) -> None:
        """Update row `key` if it is in one of the `allowed` statuses, else raise StoreError."""
        t = deliveries
        with self.engine.begin() as conn:
            result = conn.execute(update(t).where(t.c.key == key, t.c.status.in_(_statuses(*allowed))).values(**values))
        if result.rowcount != 1:
            raise self._not_in(key, allowed)

    def _not_in(self, key: str, allowed: tuple[DeliveryStatus, ...]) -> StoreError:
        """The error for a row that is missing or not in an allowed status."""
        current = self.get(key)
        where = "does not exist" if current is None else f"is {current.status}"
        expected = " or ".join(str(s) for s in allowed)
        return StoreError(f"delivery {key} {where}, expected {expected}")


class _Mark:
    """One sent mark waiting for the group commit that carries it (settled under the writer lock)."""

    __slots__ = ("at", "changed", "done", "error", "key", "reply")

    def __init__(self, key: str, reply: str | None, at: datetime | None):
        self.key = key
        self.reply = reply
        self.at = at
        self.done = False
        self.changed = 0
        self.error: BaseException | None = None


class SentMarker:
    """The ledger's hot path for bulk email: claimed -> sent (the transition of `Ledger.mark_sent`,
    without provider_url) at the cost of a driver call, the marks of concurrent connections
    grouped in one transaction.

    The statement is compiled once for the store's dialect and run on a raw driver connection
    kept for the run, so the driver's prepared-statement cache is reused and no per-message
    SQLAlchemy work is left. `mark` returns only once its row is committed, so each connection
    still has at most one accepted message unmarked; marks that arrive while a commit is under
    way are committed together by the next one (group commit: one commit, one fsync, for all).
    On SQLite, whose writes are serial anyway, the claims wait for the same writer lock (a
    Python lock is far quicker than SQLite's sleeping busy handler)."""

    def __init__(self, ledger: Ledger, connections: int) -> None:
        self.ledger = ledger
        self.engine = ledger.engine
        dialect = self.engine.dialect
        t = deliveries
        at = bindparam("at", type_=UTCDateTime)
        statement = (
            update(t)
            .where(t.c.key == bindparam("row_key"), t.c.status == str(S.CLAIMED))
            .values(status=str(S.SENT), sent_at=at, updated_at=at, error=None, provider_id=bindparam("reply"))
        )
        compiled = statement.compile(dialect=dialect)
        self.sql = str(compiled)
        self.order = compiled.positiontup
        self.fixed = compiled.construct_params({"row_key": "", "at": None, "reply": ""})
        self.time_to_db = driver_converter(UTCDateTime(), dialect)
        self.serial_claims = dialect.name == "sqlite"
        self.writer = threading.Lock()
        self.queue_lock = threading.Lock()
        self.queue: list[_Mark] = []
        self.idle: list[Any] = []

    def claim_batch(
        self, kind: str, limit: int, now: datetime | None = None, issue_id: str | None = None
    ) -> list[Delivery]:
        """`Ledger.claim_batch`, queued with the marks on SQLite (one writer of this process at
        a time); the rows are converted after the writer lock is given back."""
        if not self.serial_claims:
            return self.ledger.claim_batch(kind, limit, now, issue_id)
        with self.writer:
            rows = self.ledger._claim_rows(kind, limit, now, issue_id)
        return _deliveries(rows)

    def mark(self, key: str, provider_id: str | None, now: datetime | None = None) -> None:
        """Commit the claimed row `key` as sent at `now` (default: the commit's time), returning
        once it is committed (before the caller's connection sends anything else); StoreError if
        it is no longer claimed."""
        entry = _Mark(key, provider_id, now)
        with self.queue_lock:
            self.queue.append(entry)
        with self.writer:  # whoever took this entry from the queue committed it while holding the lock
            if not entry.done:
                with self.queue_lock:
                    batch, self.queue = self.queue, []
                self._commit(batch)
        if entry.error is not None:
            raise entry.error
        if entry.changed != 1:
            raise StoreError(f"delivery {key} was not claimed any more when marked sent")

    def _arguments(self, entry: _Mark, at: Any) -> Any:
        """The driver's parameters of one mark: positional for SQLite, named for psycopg."""
        values = dict(self.fixed, row_key=entry.key, reply=entry.reply,
                      at=at if entry.at is None else self.time_to_db(entry.at))
        return [values[name] for name in self.order] if self.order else values

    def _commit(self, batch: list[_Mark]) -> None:
        """Run the batch's updates in one transaction; every entry learns its outcome."""
        connection = self.idle.pop() if self.idle else self.engine.raw_connection()
        driver = connection.driver_connection  # the driver's own object: no pool proxy per call
        at = self.time_to_db(utcnow())
        try:
            cursor = driver.cursor()
            for entry in batch:
                cursor.execute(self.sql, self._arguments(entry, at))
                entry.changed = cursor.rowcount
            cursor.close()
            driver.commit()
        except Exception as error:
            connection.invalidate()
            for entry in batch:
                entry.error = error
                entry.done = True
            return
        self.idle.append(connection)
        for entry in batch:
            entry.done = True

    def close(self) -> None:
        """Give the driver connection back to the store's pool."""
        while self.idle:
            self.idle.pop().close()
