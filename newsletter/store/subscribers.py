"""Subscribers, lists and the suppression list (hashed addresses that must never be mailed)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, delete, func, or_, select, update
from sqlalchemy.engine import Connection

from newsletter.core.models import SubscriberStatus
from newsletter.store.db import (
    bulk_insert_ignoring_conflicts,
    driver_value,
    in_values,
    insert_ignoring_conflicts,
    placeholder,
    unchecked_connection,
)
from newsletter.store.tables import (
    actions,
    deliveries,
    list_members,
    list_opt_outs,
    lists,
    subscribers,
    suppressions,
    utcnow,
)

FORGOTTEN = "forgotten"


@dataclass
class Subscriber:
    """One stored subscriber."""

    id: int
    email: str
    status: SubscriberStatus
    name: str | None = None
    locale: str | None = None
    consent_source: str | None = None
    consent_at: datetime | None = None
    lists: list[str] = field(default_factory=list)


def normalise_email(email: str) -> str:
    """The address as stored: trimmed and lower-cased."""
    return email.strip().lower()


def email_hash(email: str) -> str:
    """The SHA-256 of the normalised address, as kept in the suppression list."""
    return hashlib.sha256(normalise_email(email).encode("utf-8")).hexdigest()


class NewSubscribers:
    """An import batch as it is gathered: validated rows, ready to store. Their (email, name,
    locale) values wait in one flat list, as the driver takes them, and their addresses grouped
    by the lists they want: storing the batch (on an import's writer thread, its slowest part)
    then does no work per row in Python."""

    def __init__(self) -> None:
        self.values: list[str | None] = []
        self.by_lists: dict[tuple[str, ...], list[str]] = {}
        self.count = 0

    def add(self, email: str, name: str | None, locale: str | None, lists: tuple[str, ...]) -> None:
        """One more subscriber, who wants these lists."""
        self.values += (email, name, locale)
        self.by_lists.setdefault(lists, []).append(email)
        self.count += 1

    def __len__(self) -> int:
        return self.count


@dataclass(frozen=True)
class BatchResult:
    """What storing one import batch did."""

    added: int
    memberships_added: int


@dataclass(frozen=True)
class SubscriberSearch:
    """One page of a subscriber search, and how many match in all."""

    subscribers: list[Subscriber]
    total: int


@dataclass(frozen=True)
class MembershipEvent:
    """A person joined (`subscribed`) or left (`unsubscribed`) a list at a time."""

    at: datetime | None
    list_name: str
    kind: str


@dataclass(frozen=True)
class PersonHistory:
    """What the store holds about one person besides their profile (for access requests)."""

    lists_left: list[str]
    deliveries: list[dict[str, Any]]
    actions: list[dict[str, Any]]


def _opted_out(conn: Connection, subscriber_ids: Iterable[int]) -> set[tuple[int, str]]:
    """(subscriber id, list) pairs these subscribers left: never to be joined again by import or add."""
    ids = list(subscriber_ids)
    if not ids:
        return set()
    rows = conn.execute(
        select(list_opt_outs.c.subscriber_id, list_opt_outs.c.list_name).where(list_opt_outs.c.subscriber_id.in_(ids))
    )
    return {(row.subscriber_id, row.list_name) for row in rows}


def _leave_lists(conn: Connection, subscriber_id: int, names: Iterable[str], now: datetime) -> int:
    """Take a subscriber off these lists and record the opt-outs (idempotent); returns how many
    memberships ended. Their status becomes `unsubscribed` once they are on no list, if active."""
    wanted = list(dict.fromkeys(names))
    left = conn.execute(
        delete(list_members).where(list_members.c.subscriber_id == subscriber_id, list_members.c.list_name.in_(wanted))
    ).rowcount
    conn.execute(
        insert_ignoring_conflicts(conn, list_opt_outs),
        [{"subscriber_id": subscriber_id, "list_name": name, "created_at": now} for name in wanted],
    )
    remaining = conn.scalar(
        select(func.count()).select_from(list_members).where(list_members.c.subscriber_id == subscriber_id)
    )
    if not remaining:
        conn.execute(
            update(subscribers)
            .where(subscribers.c.id == subscriber_id, subscribers.c.status == str(SubscriberStatus.ACTIVE))
            .values(status=str(SubscriberStatus.UNSUBSCRIBED), updated_at=now)
        )
    return left


def _emails_by_list(by_lists: dict[tuple[str, ...], list[str]]) -> dict[str, list[str]]:
    """The addresses that want each list, from the addresses grouped by the lists they want."""
    by_list: dict[str, list[str]] = {}
    for names, emails in by_lists.items():
        for name in dict.fromkeys(names):
            by_list.setdefault(name, []).extend(emails)
    return by_list


def _join_list(conn: Connection, list_name: str, emails: Sequence[str], now: datetime) -> int:
    """Put the subscribers with these addresses on a list, except those who left it, in one
    statement sent to the driver; how many joined (members already are skipped)."""
    mark = placeholder(conn)
    condition, values = in_values(conn, "s.email", emails)
    sql = (
        f"INSERT INTO list_members (subscriber_id, list_name, added_at) SELECT s.id, {mark}, {mark} "
        f"FROM subscribers s WHERE {condition} AND NOT EXISTS (SELECT 1 FROM list_opt_outs o "
        f"WHERE o.subscriber_id = s.id AND o.list_name = {mark}) ON CONFLICT DO NOTHING"
    )
    added_at = driver_value(conn, list_members.c.added_at, now)
    return int(conn.exec_driver_sql(sql, (list_name, added_at, *values, list_name)).rowcount)


def _join_new_subscribers(conn: Connection, list_names: Sequence[str], after_id: int, now: datetime) -> int:
    """Put every subscriber whose id is above `after_id` on these lists: on SQLite, the
    subscribers this write transaction added, found by their ids rather than by looking each
    address up again (a third of a batch's write time); new people have left no list."""
    sql = ("INSERT INTO list_members (subscriber_id, list_name, added_at) SELECT s.id, ?, ? "
           "FROM subscribers s WHERE s.id > ? ON CONFLICT DO NOTHING")
    added_at = driver_value(conn, list_members.c.added_at, now)
    return sum(int(conn.exec_driver_sql(sql, (name, added_at, after_id)).rowcount) for name in list_names)


def _last_subscriber_id(conn: Connection) -> int:
    """The highest subscriber id so far (0 with none)."""
    return int(conn.exec_driver_sql("SELECT coalesce(max(id), 0) FROM subscribers").scalar_one())


def _ensure_lists(conn: Connection, names: Iterable[str]) -> None:
    """Create the lists that do not exist yet."""
    rows = [{"name": name} for name in dict.fromkeys(names)]
    if rows:
        conn.execute(insert_ignoring_conflicts(conn, lists), rows)


class NewSubscriberWriter:
    """Stores an import's batches on one connection (`SubscriberQueries.new_subscriber_writer`)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def store(self, batch: NewSubscribers, source: str, now: datetime) -> BatchResult:
        """Insert the new subscribers of an import batch and their memberships (except lists they
        left), in one transaction; known addresses keep their status. Every statement goes
        through the driver with the batch's values as they are (an import is thousands of rows
        a batch: SQLAlchemy's per-row parameter processing would cost more than the inserts),
        and each list's memberships are one INSERT … SELECT."""
        if not batch:
            return BatchResult(0, 0)
        profile = {"status": str(SubscriberStatus.ACTIVE), "consent_source": source, "consent_at": now,
                   "created_at": now, "updated_at": now}
        by_list = _emails_by_list(batch.by_lists)
        conn = self.conn
        with conn.begin():
            _ensure_lists(conn, sorted(by_list))  # a write first: on SQLite no other writer comes in from here
            shared_lists = list(by_list) if len(batch.by_lists) == 1 else []  # the lists every row wants
            after_id = _last_subscriber_id(conn) if conn.dialect.name == "sqlite" and shared_lists else None
            added = bulk_insert_ignoring_conflicts(
                conn, subscribers, ("email", "name", "locale"), batch.values, profile
            )
            if after_id is not None and added == len(batch):
                joined = _join_new_subscribers(conn, shared_lists, after_id, now)
            else:
                joined = sum(_join_list(conn, name, emails, now) for name, emails in by_list.items())
        return BatchResult(added, joined)


class SubscriberQueries:
    """`store.subscribers`: subscribers, lists, opt-outs and the suppression list."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add_subscriber(
        self,
        email: str,
        name: str | None = None,
        locale: str | None = None,
        lists: Iterable[str] = (),
        consent_source: str | None = None,
        now: datetime | None = None,
    ) -> int:
        """Add a subscriber (or add an existing one to more lists) and return their id.

        An existing subscriber's status is never changed here: someone who unsubscribed
        stays unsubscribed.
        """
        now = now or utcnow()
        address = normalise_email(email)
        list_names = list(lists)
        with self.engine.begin() as conn:
            conn.execute(
                insert_ignoring_conflicts(conn, subscribers).values(
                    email=address,
                    name=name,
                    locale=locale,
                    status=str(SubscriberStatus.ACTIVE),
                    consent_source=consent_source,
                    consent_at=now if consent_source else None,
                    created_at=now,
                    updated_at=now,
                )
            )
            subscriber_id = int(conn.scalar(select(subscribers.c.id).where(subscribers.c.email == address)))
            _ensure_lists(conn, list_names)
            if list_names:
                conn.execute(
                    insert_ignoring_conflicts(conn, list_members),
                    [
                        {"subscriber_id": subscriber_id, "list_name": n, "added_at": now}
                        for n in dict.fromkeys(list_names)
                    ],
                )
        return subscriber_id

    def get_subscriber(self, email: str) -> Subscriber | None:
        """The subscriber with this address, or None."""
        found = self._subscribers(subscribers.c.email == normalise_email(email))
        return found[0] if found else None

    def list_subscribers(
        self, list_name: str | None = None, status: SubscriberStatus | str | None = "active"
    ) -> list[Subscriber]:
        """Subscribers (of one list, in one status unless None), by id."""
        conditions = []
        if status is not None:
            conditions.append(subscribers.c.status == str(SubscriberStatus(status)))
        if list_name is not None:
            conditions.append(subscribers.c.id.in_(_member_ids(list_name)))
        return self._subscribers(*conditions)

    def count_subscribers(self, list_name: str | None = None, status: SubscriberStatus | str | None = "active") -> int:
        """How many subscribers `list_subscribers` would return."""
        query = select(func.count()).select_from(subscribers)
        if status is not None:
            query = query.where(subscribers.c.status == str(SubscriberStatus(status)))
        if list_name is not None:
            query = query.where(subscribers.c.id.in_(_member_ids(list_name)))
        with self.engine.connect() as conn:
            return int(conn.scalar(query) or 0)

    def search_subscribers(
        self, text: str = "", list_name: str | None = None, status: SubscriberStatus | str | None = None,
        *, limit: int = 50, offset: int = 0,
    ) -> SubscriberSearch:
        """Subscribers whose address or name contains `text` (any case), of one list and status
        when given, by address: `limit` of them from `offset`, and the total."""
        conditions = _search_conditions(text, list_name, status)
        ids = select(subscribers.c.id).where(*conditions).order_by(subscribers.c.email).limit(limit).offset(offset)
        with self.engine.connect() as conn:
            total = int(conn.scalar(select(func.count()).select_from(subscribers).where(*conditions)) or 0)
            page_ids = list(conn.scalars(ids))
        found = {s.id: s for s in self._subscribers(subscribers.c.id.in_(page_ids))} if page_ids else {}
        return SubscriberSearch([found[i] for i in page_ids if i in found], total)

    def get_subscriber_by_id(self, subscriber_id: int) -> Subscriber | None:
        """The subscriber with this id, or None (forgotten or never stored)."""
        found = self._subscribers(subscribers.c.id == subscriber_id)
        return found[0] if found else None

    def membership_events(self, subscriber_id: int) -> list[MembershipEvent]:
        """When the subscriber joined the lists they are on, and left the lists they left, oldest first."""
        with self.engine.connect() as conn:
            joined = conn.execute(
                select(list_members.c.added_at, list_members.c.list_name)
                .where(list_members.c.subscriber_id == subscriber_id)
            ).all()
            left = conn.execute(
                select(list_opt_outs.c.created_at, list_opt_outs.c.list_name)
                .where(list_opt_outs.c.subscriber_id == subscriber_id)
            ).all()
        events = [MembershipEvent(at, name, "subscribed") for at, name in joined]
        events += [MembershipEvent(at, name, "unsubscribed") for at, name in left]
        return sorted(events, key=lambda e: (e.at is not None, e.at or datetime.min.replace(tzinfo=UTC), e.list_name))

    def list_names(self) -> list[str]:
        """Every list known to the store, by name."""
        with self.engine.connect() as conn:
            return list(conn.scalars(select(lists.c.name).order_by(lists.c.name)))

    def opt_outs_between(self, list_names: Iterable[str], start: datetime, end: datetime | None) -> int:
        """How many people left any of these lists from `start` (included) to `end` (excluded; open when None)."""
        t = list_opt_outs
        query = select(func.count(func.distinct(t.c.subscriber_id))).where(
            t.c.list_name.in_(list(list_names)), t.c.created_at >= start)
        if end is not None:
            query = query.where(t.c.created_at < end)
        with self.engine.connect() as conn:
            return int(conn.scalar(query) or 0)

    def set_subscriber_status(self, email: str, status: SubscriberStatus | str, now: datetime | None = None) -> bool:
        """Change a subscriber's status; False if the address is unknown."""
        with self.engine.begin() as conn:
            result = conn.execute(
                update(subscribers)
                .where(subscribers.c.email == normalise_email(email))
                .values(status=str(SubscriberStatus(status)), updated_at=now or utcnow())
            )
        return result.rowcount == 1

    def add_suppression(self, email: str, reason: str, now: datetime | None = None) -> bool:
        """Suppress an address (kept only as a hash); False if it already was."""
        with self.engine.begin() as conn:
            result = conn.execute(
                insert_ignoring_conflicts(conn, suppressions).values(
                    email_hash=email_hash(email), reason=reason, created_at=now or utcnow()
                )
            )
        return result.rowcount == 1

    def is_suppressed(self, email: str) -> bool:
        """Whether the address is on the suppression list."""
        return self.suppression_reason(email) is not None

    def suppression_reason(self, email: str) -> str | None:
        """Why the address is on the suppression list (`forgotten`, `hard_bounce`…), or None."""
        with self.engine.connect() as conn:
            return conn.scalar(select(suppressions.c.reason).where(suppressions.c.email_hash == email_hash(email)))

    def sendable_subscribers(
        self, list_names: Iterable[str], page: int = 5000
    ) -> Iterator[tuple[int, str, str | None]]:
        """(id, email, name) of the active, unsuppressed members of any of these lists, once
        each, by id, read `page` rows at a time."""
        with self.engine.connect() as conn:
            suppressed = set(conn.scalars(select(suppressions.c.email_hash)))
        members = select(list_members.c.subscriber_id).where(list_members.c.list_name.in_(list(list_names)))
        t = subscribers
        last_id = 0
        while True:
            query = (
                select(t.c.id, t.c.email, t.c.name)
                .where(t.c.id > last_id, t.c.status == str(SubscriberStatus.ACTIVE), t.c.id.in_(members))
                .order_by(t.c.id)
                .limit(page)
            )
            with self.engine.connect() as conn:
                rows = conn.execute(query).all()
            if not rows:
                return
            for row in rows:
                if not suppressed or email_hash(row.email) not in suppressed:
                    yield row.id, row.email, row.name
            last_id = rows[-1].id

    def lists_left(self, subscriber_id: int) -> set[str]:
        """The lists this subscriber left (an import or `add` never joins them again)."""
        with self.engine.connect() as conn:
            return {name for _, name in _opted_out(conn, [subscriber_id])}

    def leave_lists(self, subscriber_id: int, names: Iterable[str], now: datetime) -> int:
        """Take a subscriber off these lists for good (opt-outs recorded); how many memberships ended."""
        with self.engine.begin() as conn:
            return _leave_lists(conn, subscriber_id, names, now)

    def leave_every_list(self, subscriber_id: int, now: datetime) -> list[str]:
        """Take a subscriber off every list they are on, for good (opt-outs recorded); the lists left."""
        with self.engine.begin() as conn:
            names = list(conn.scalars(
                select(list_members.c.list_name).where(list_members.c.subscriber_id == subscriber_id)
                .order_by(list_members.c.list_name)
            ))
            if names:
                _leave_lists(conn, subscriber_id, names, now)
        return names

    def unsubscribe_id(self, subscriber_id: int, names: Iterable[str], now: datetime) -> tuple[str | None, int]:
        """Leave these lists as the subscriber's unsubscribe link asks: (their address, or None when
        forgotten, and how many memberships ended), in one transaction."""
        with self.engine.begin() as conn:
            email = conn.scalar(select(subscribers.c.email).where(subscribers.c.id == subscriber_id))
            if email is None:
                return None, 0
            return email, _leave_lists(conn, subscriber_id, names, now)

    def suppressed_hashes(self) -> set[str]:
        """Every hash on the suppression list (read once per import)."""
        with self.engine.connect() as conn:
            return set(conn.scalars(select(suppressions.c.email_hash)))

    @contextmanager
    def new_subscriber_writer(self) -> Iterator[NewSubscriberWriter]:
        """A writer of an import's batches holding one connection for the whole import, on
        SQLite without foreign key checks (`unchecked_connection`): each batch's memberships
        are of subscribers selected from `subscribers` and of lists ensured in the same
        transaction."""
        with unchecked_connection(self.engine) as conn:
            yield NewSubscriberWriter(conn)

    def person_history(self, subscriber: Subscriber) -> PersonHistory:
        """The lists a person left, their deliveries and the actions about them, oldest first."""
        t = deliveries
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(t.c.key, t.c.issue_id, t.c.status, t.c.attempts, t.c.sent_at, t.c.error, t.c.created_at)
                .where(t.c.target == subscriber.email).order_by(t.c.id)
            ).all()
            history = conn.execute(
                select(actions.c.at, actions.c.action, actions.c.actor)
                .where(actions.c.target == f"subscriber:{subscriber.id}").order_by(actions.c.id)
            ).all()
        return PersonHistory(
            lists_left=sorted(self.lists_left(subscriber.id)),
            deliveries=[dict(row._mapping) for row in rows],
            actions=[dict(row._mapping) for row in history],
        )

    def forget_subscriber(self, email: str, now: datetime) -> bool:
        """Erase a person (profile, memberships, address in the ledger), keeping only the hash on
        the suppression list; False if they were not stored."""
        address = normalise_email(email)
        hashed = email_hash(address)
        with self.engine.begin() as conn:
            subscriber_id = conn.scalar(select(subscribers.c.id).where(subscribers.c.email == address))
            if subscriber_id is not None:
                conn.execute(delete(list_members).where(list_members.c.subscriber_id == subscriber_id))
                conn.execute(delete(list_opt_outs).where(list_opt_outs.c.subscriber_id == subscriber_id))
                conn.execute(delete(subscribers).where(subscribers.c.id == subscriber_id))
            conn.execute(
                update(deliveries).where(deliveries.c.target == address)
                .values(target=f"{FORGOTTEN}:{hashed[:16]}", payload=None)
            )
            conn.execute(
                insert_ignoring_conflicts(conn, suppressions),
                [{"email_hash": hashed, "reason": FORGOTTEN, "created_at": now}],
            )
        return subscriber_id is not None

    def subscriber_statuses(self, ids: Iterable[int]) -> dict[int, str]:
        """The current status of each of these subscribers (absent: forgotten)."""
        t = subscribers
        with self.engine.connect() as conn:
            return {row.id: row.status for row in conn.execute(select(t.c.id, t.c.status).where(t.c.id.in_(list(ids))))}

    def _subscribers(self, *conditions: Any) -> list[Subscriber]:
        """Subscribers matching all `conditions`, with their lists."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(subscribers).where(*conditions).order_by(subscribers.c.id))
            found = [
                Subscriber(
                    id=row.id,
                    email=row.email,
                    status=SubscriberStatus(row.status),
                    name=row.name,
                    locale=row.locale,
                    consent_source=row.consent_source,
                    consent_at=row.consent_at,
                )
                for row in rows
            ]
            matching_ids = select(subscribers.c.id).where(*conditions)
            memberships = conn.execute(
                select(list_members.c.subscriber_id, list_members.c.list_name)
                .where(list_members.c.subscriber_id.in_(matching_ids))
                .order_by(list_members.c.list_name)
            )
            by_id = {s.id: s for s in found}
            for subscriber_id, list_name in memberships:
                by_id[subscriber_id].lists.append(list_name)
        return found


def _search_conditions(text: str, list_name: str | None, status: SubscriberStatus | str | None) -> list[Any]:
    """The WHERE clauses of a subscriber search (the text matched literally, `%` and `_` included)."""
    conditions: list[Any] = []
    words = text.strip().lower()
    if words:
        pattern = "%" + words.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        conditions.append(or_(subscribers.c.email.like(pattern, escape="\\"),
                              func.lower(subscribers.c.name).like(pattern, escape="\\")))
    if status is not None:
        conditions.append(subscribers.c.status == str(SubscriberStatus(status)))
    if list_name is not None:
        conditions.append(subscribers.c.id.in_(_member_ids(list_name)))
    return conditions


def _member_ids(list_name: str) -> Any:
    """A subquery of the subscriber ids in a list."""
    return select(list_members.c.subscriber_id).where(list_members.c.list_name == list_name)
