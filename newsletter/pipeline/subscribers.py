"""Subscriber management: CSV import, add, remove, list, export (access requests) and forget.

Addresses are checked with email-validator (syntax and normalisation, no DNS) and compared
case-insensitively. Unsubscribing is per list, as in listmonk or Mailchimp audiences: leaving a
list (one-click link or `remove --list`) takes the person off that list and records an opt-out;
their status becomes `unsubscribed` only when they are on no list any more. Imports are batched
and idempotent and never resubscribe: an existing subscriber keeps their status (unsubscribed,
bounced, complained), a list they left is never joined again by an import or `add`, and a
forgotten address (kept only as a hash in the suppression list) is never imported again.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from charset_normalizer import from_bytes
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import Connection, delete, func, insert, select, update

from newsletter.core.errors import NewsletterError
from newsletter.core.models import SubscriberStatus
from newsletter.store import Store
from newsletter.store.db import insert_ignoring_conflicts
from newsletter.store.subscribers import Subscriber, email_hash
from newsletter.store.tables import (
    actions,
    deliveries,
    list_members,
    list_opt_outs,
    lists,
    subscribers,
    suppressions,
)

BATCH_SIZE = 1000
LIST_SEPARATORS = re.compile(r"[;|,]")
FORGOTTEN = "forgotten"


CSV_CHARSETS = ["cp1252", "latin_1", "mac_roman", "cp850"]
"""What spreadsheets in France write when they do not write UTF-8, tried first."""


class SubscriberError(NewsletterError):
    """A subscriber operation cannot be done (invalid address, unknown subscriber…)."""


@dataclass(frozen=True)
class ColumnNames:
    """The CSV header names of each field (only `email` is required)."""

    email: str = "email"
    name: str = "name"
    lists: str = "lists"
    locale: str = "locale"


@dataclass(frozen=True)
class RejectedRow:
    """A row the import left out, and why."""

    line: int
    value: str
    reason: str


@dataclass
class ImportReport:
    """What an import did."""

    rows: int = 0
    added: int = 0
    existing: int = 0
    duplicates: int = 0
    suppressed: int = 0
    memberships_added: int = 0
    rejected: list[RejectedRow] = field(default_factory=list)


@dataclass(frozen=True)
class Candidate:
    """One valid row, ready to store."""

    email: str
    name: str | None
    locale: str | None
    lists: tuple[str, ...]


def normalise_address(text: str) -> str:
    """The address validated (syntax only, no DNS) and normalised to lower case; raises SubscriberError."""
    try:
        result = validate_email(text.strip(), check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as error:
        raise SubscriberError(str(error)) from None
    return (result.ascii_email or result.normalized).lower()


def list_names(digest_list: str) -> list[str]:
    """The list(s) a digest goes to (`a, b` names several)."""
    return [name.strip() for name in digest_list.split(",") if name.strip()]


def opted_out(conn: Connection, subscriber_ids: Iterable[int]) -> set[tuple[int, str]]:
    """(subscriber id, list) pairs these subscribers left: never to be joined again by import or add."""
    ids = list(subscriber_ids)
    if not ids:
        return set()
    rows = conn.execute(
        select(list_opt_outs.c.subscriber_id, list_opt_outs.c.list_name).where(list_opt_outs.c.subscriber_id.in_(ids))
    )
    return {(row.subscriber_id, row.list_name) for row in rows}


def leave_lists(conn: Connection, subscriber_id: int, names: Iterable[str], now: datetime) -> int:
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


def split_lists(text: str | None) -> tuple[str, ...]:
    """List names from a cell such as `main; culture`."""
    return tuple(name.strip() for name in LIST_SEPARATORS.split(text or "") if name.strip())


def read_rows(path: Path, columns: ColumnNames) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row) for each CSV row: the text decoded (UTF-8, else the detected charset,
    as French Excel writes Windows-1252) and the delimiter (`,` or `;`) read off the header line."""
    text = decode_csv(path)
    header_line = text.split("\n", 1)[0]
    delimiter = ";" if header_line.count(";") > header_line.count(",") else ","
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = [name.strip() for name in reader.fieldnames or []]
    if columns.email not in header:
        raise SubscriberError(
            f"{path}, line 1: no {columns.email!r} column (found: {', '.join(header) or 'nothing'})"
        )
    reader.fieldnames = header
    try:
        for row in reader:
            yield reader.line_num, row
    except csv.Error as error:
        raise SubscriberError(f"{path}, line {reader.line_num}: {error}") from None


def decode_csv(path: Path) -> str:
    """The file's text: UTF-8 (with or without BOM) when it is, else charset-normalizer's best match."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise SubscriberError(f"{path}: cannot read ({error.strerror})") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    match = from_bytes(data, cp_isolation=CSV_CHARSETS).best() or from_bytes(data).best()
    if match is None:
        raise SubscriberError(f"{path}: not a text file (no character set matches)")
    return str(match)


def _cell(row: dict[str, Any], name: str) -> str | None:
    value = row.get(name)
    return value.strip() or None if isinstance(value, str) else None


def import_csv(
    store: Store,
    path: Path,
    *,
    now: datetime,
    list_name: str | None = None,
    columns: ColumnNames = ColumnNames(),
    consent_source: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import subscribers from a CSV file in batches; a bad row is reported, never fatal."""
    report = ImportReport()
    source = consent_source or f"import:{path.name}"
    suppressed = _suppressed_hashes(store)
    seen: set[str] = set()
    batch: list[Candidate] = []
    for line, row in read_rows(path, columns):
        report.rows += 1
        raw = _cell(row, columns.email) or ""
        try:
            address = normalise_address(raw)
        except SubscriberError as error:
            report.rejected.append(RejectedRow(line, raw, str(error) if raw else "no email address"))
            continue
        if address in seen:
            report.duplicates += 1
            continue
        seen.add(address)
        if email_hash(address) in suppressed:
            report.suppressed += 1
            continue
        row_lists = split_lists(_cell(row, columns.lists)) + ((list_name,) if list_name else ())
        batch.append(Candidate(address, _cell(row, columns.name), _cell(row, columns.locale), row_lists))
        if len(batch) >= BATCH_SIZE:
            _store_batch(store, batch, report, source, now)
            batch = []
            if progress:
                progress(report.rows)
    _store_batch(store, batch, report, source, now)
    if progress:
        progress(report.rows)
    return report


def _suppressed_hashes(store: Store) -> set[str]:
    with store.engine.connect() as conn:
        return set(conn.scalars(select(suppressions.c.email_hash)))


def _store_batch(store: Store, batch: list[Candidate], report: ImportReport, source: str, now: datetime) -> None:
    """Insert the new subscribers of a batch and every membership, in one transaction."""
    if not batch:
        return
    new_rows = [
        {"email": c.email, "name": c.name, "locale": c.locale, "status": str(SubscriberStatus.ACTIVE),
         "consent_source": source, "consent_at": now, "created_at": now, "updated_at": now}
        for c in batch
    ]
    with store.engine.begin() as conn:
        added = conn.execute(insert_ignoring_conflicts(conn, subscribers), new_rows).rowcount
        ids = dict(conn.execute(
            select(subscribers.c.email, subscribers.c.id).where(subscribers.c.email.in_([c.email for c in batch]))
        ).all())
        names = sorted({name for c in batch for name in c.lists})
        if names:
            conn.execute(insert_ignoring_conflicts(conn, lists), [{"name": n} for n in names])
        left = opted_out(conn, ids.values())
        memberships = [
            {"subscriber_id": ids[c.email], "list_name": n, "added_at": now}
            for c in batch for n in dict.fromkeys(c.lists) if (ids[c.email], n) not in left
        ]
        if memberships:
            report.memberships_added += conn.execute(
                insert_ignoring_conflicts(conn, list_members), memberships
            ).rowcount
    report.added += added
    report.existing += len(batch) - added


def add(
    store: Store,
    email: str,
    *,
    now: datetime,
    name: str | None = None,
    locale: str | None = None,
    lists: Iterable[str] = (),
    consent_source: str = "manual",
) -> Subscriber:
    """Add one subscriber (or add them to more lists, except lists they left); a forgotten
    address is refused."""
    address = normalise_address(email)
    if store.is_suppressed(address):
        raise SubscriberError(f"{address} asked to be forgotten and cannot be added again")
    existing = store.get_subscriber(address)
    wanted = list(lists)
    if existing is not None:
        with store.engine.connect() as conn:
            left = opted_out(conn, [existing.id])
        wanted = [name for name in wanted if (existing.id, name) not in left]
    store.add_subscriber(address, name=name, locale=locale, lists=wanted, consent_source=consent_source,
                         now=now)
    found = store.get_subscriber(address)
    assert found is not None
    return found


def remove(store: Store, email: str, *, now: datetime, list_name: str | None = None) -> Subscriber:
    """Take the subscriber off one list as if they had used its unsubscribe link (an opt-out
    is recorded; no list left means unsubscribed), or (without a list) mark them unsubscribed
    from everything."""
    found = _existing(store, email)
    if list_name is None:
        store.set_subscriber_status(found.email, SubscriberStatus.UNSUBSCRIBED, now=now)
    else:
        with store.engine.begin() as conn:
            leave_lists(conn, found.id, [list_name], now)
    return _existing(store, found.email)


def _existing(store: Store, email: str) -> Subscriber:
    found = store.get_subscriber(email.strip())
    if found is None:
        raise SubscriberError(f"no subscriber {email.strip()}")
    return found


def person_record(store: Store, email: str) -> dict[str, Any]:
    """Everything stored about one person (access request): profile, lists and deliveries."""
    found = _existing(store, email)
    t = deliveries
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(t.c.key, t.c.issue_id, t.c.status, t.c.attempts, t.c.sent_at, t.c.error, t.c.created_at)
            .where(t.c.target == found.email).order_by(t.c.id)
        ).all()
        history = conn.execute(
            select(actions.c.at, actions.c.action, actions.c.actor)
            .where(actions.c.target == f"subscriber:{found.id}").order_by(actions.c.id)
        ).all()
        lists_left = conn.scalars(
            select(list_opt_outs.c.list_name).where(list_opt_outs.c.subscriber_id == found.id)
            .order_by(list_opt_outs.c.list_name)
        ).all()
    record = asdict(found)
    record["status"] = str(found.status)
    record["lists_left"] = list(lists_left)
    record["deliveries"] = [dict(row._mapping) for row in rows]
    record["history"] = [dict(row._mapping) for row in history]
    return record


def export(
    store: Store, fmt: str, *, email: str | None = None, list_name: str | None = None
) -> str:
    """One person's record (with `email`) or every subscriber, as JSON or CSV text."""
    if email is not None:
        records = [person_record(store, email)]
    else:
        records = [dict(asdict(s), status=str(s.status)) for s in store.list_subscribers(list_name, status=None)]
    if fmt == "json":
        return json.dumps(records if email is None else records[0], ensure_ascii=False, indent=2, default=str)
    if fmt != "csv":
        raise SubscriberError(f"unknown export format {fmt!r} (use csv or json)")
    out = io.StringIO()
    fields = ["id", "email", "name", "locale", "status", "consent_source", "consent_at", "lists"]
    writer = csv.DictWriter(out, fieldnames=fields, extrasaction="ignore")
    writer.writeheader()
    for record in records:
        writer.writerow({**record, "lists": ";".join(record["lists"])})
    if email is not None:
        out.write("\n")
        delivery_writer = csv.DictWriter(
            out, fieldnames=["key", "issue_id", "status", "attempts", "sent_at", "error", "created_at"]
        )
        delivery_writer.writeheader()
        delivery_writer.writerows(records[0]["deliveries"])
    return out.getvalue()


def forget(store: Store, email: str, *, now: datetime) -> bool:
    """Erase a person (profile, memberships, address in the ledger), keeping only a hashed
    suppression entry so they are never imported again. False if they were not stored."""
    address = email.strip().lower()
    hashed = email_hash(address)
    with store.engine.begin() as conn:
        subscriber_id = conn.scalar(select(subscribers.c.id).where(subscribers.c.email == address))
        if subscriber_id is not None:
            conn.execute(delete(list_members).where(list_members.c.subscriber_id == subscriber_id))
            conn.execute(delete(list_opt_outs).where(list_opt_outs.c.subscriber_id == subscriber_id))
            conn.execute(delete(subscribers).where(subscribers.c.id == subscriber_id))
        conn.execute(
            update(deliveries).where(deliveries.c.target == address)
            .values(target=f"{FORGOTTEN}:{hashed[:16]}", payload=None)
        )
        known = conn.scalar(select(func.count()).select_from(suppressions).where(suppressions.c.email_hash == hashed))
        if not known:
            conn.execute(insert(suppressions).values(email_hash=hashed, reason=FORGOTTEN, created_at=now))
    store.record_action("cli", "subscriber.forget", target=f"hash:{hashed[:16]}", now=now)
    return subscriber_id is not None
