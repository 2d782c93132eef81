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
import queue
import re
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any

from email_validator import EmailNotValidError, validate_email

from newsletter.core.errors import NewsletterError
from newsletter.core.models import BounceKind, DeliveryStatus, SubscriberStatus
from newsletter.store import Store
from newsletter.store.subscribers import FORGOTTEN, NewSubscribers, Subscriber, email_hash

BATCH_SIZE = 5000
QUEUED_BATCHES = 2
WRITING_SWITCH_INTERVAL = 0.0005  # seconds: Python's thread switch interval while an import writes
PLAIN_LOCAL_PART = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*\Z")
MAX_LOCAL_PART = 64  # RFC 5321 4.5.3.1.1, as email-validator enforces it
MAX_ADDRESS = 254
DOMAIN_PROBE = "postmaster"  # a local part every domain accepts, to validate a domain alone
LIST_SEPARATORS = re.compile(r"[;|,]")


CSV_CHARSETS = ["cp1252", "latin_1", "mac_roman", "cp850"]
"""What spreadsheets in France write when they do not write UTF-8, tried first."""


class SubscriberError(NewsletterError):
    """A subscriber operation cannot be done (invalid address, unknown subscriber…)."""


class InvalidAddress(SubscriberError):
    """The text is not a valid email address; `problem` names what is wrong with it (`address_problem`)."""

    def __init__(self, message: str, problem: str = "other"):
        super().__init__(message)
        self.problem = problem


ADDRESS_PROBLEMS = (  # (what email-validator's message says, the problem it names), first match wins
    ("must have an @-sign", "no_at"),
    ("something before the @-sign", "empty_local"),
    ("something after the @-sign", "empty_domain"),
    ("too long", "too_long"),
    ("after the @-sign", "bad_domain"),
    ("periods", "periods"),
    ("before the @-sign", "bad_local"),
)


def address_problem(message: str) -> str:
    """What an email-validator refusal means, as a key the interface words in its language
    (`invalid_row_<problem>`); "other" when the message is not one of the common cases."""
    lowered = message.lower()
    return next((problem for words, problem in ADDRESS_PROBLEMS if words.lower() in lowered), "other")


class SuppressedAddress(SubscriberError):
    """The address was forgotten or is suppressed, so it cannot be added again."""


class UnknownSubscriber(SubscriberError):
    """No stored subscriber has this address or id."""


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
    problem: str = "other"  # the `address_problem` key the interface words in its language


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


def normalise_address(text: str) -> str:
    """The address validated (syntax only, no DNS) and normalised to lower case; raises SubscriberError.

    A plain ASCII local part (RFC 5322 dot-atom) is one email-validator accepts as it is, so such
    an address only needs its domain validated, once per domain: an import of 100,000 rows spends
    most of its time validating otherwise (bench/import.py). Anything else is validated whole."""
    address = text.strip()
    local, at, domain = address.rpartition("@")
    if at and len(local) <= MAX_LOCAL_PART and PLAIN_LOCAL_PART.match(local):
        normalised = f"{local}@{_validated_domain(domain)}".lower()
        if len(normalised) <= MAX_ADDRESS:
            return normalised
    return _validated(address)


def _validated(address: str) -> str:
    try:
        result = validate_email(address, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as error:
        raise InvalidAddress(str(error), address_problem(str(error))) from None
    return (result.ascii_email or result.normalized).lower()


@lru_cache(maxsize=4096)
def _validated_domain(domain: str) -> str:
    """The domain in its normalised ASCII form, as email-validator checks it; SubscriberError if invalid."""
    return _validated(f"{DOMAIN_PROBE}@{domain}").rpartition("@")[2]


@lru_cache(maxsize=1024)
def split_lists(text: str | None) -> tuple[str, ...]:
    """List names from a cell such as `main; culture` (an import repeats a few such cells: cached)."""
    return tuple(name.strip() for name in LIST_SEPARATORS.split(text or "") if name.strip())


ABSENT = 1 << 30  # the position of a column the file does not have: past the end of any row


CsvRow = tuple[int, str, str | None, str | None, str | None]
"""One data row of an import file: its line number, then its stripped email, name, lists and
locale cells (None when empty or absent). A plain tuple: an import reads 100,000 rows."""


def read_rows(path: Path, columns: ColumnNames) -> Iterator[CsvRow]:
    """Each CSV data row, the text decoded (UTF-8, else the detected charset, as French Excel
    writes Windows-1252) and the delimiter (`,` or `;`) read off the header line."""
    text = decode_csv(path)
    header_line = text.split("\n", 1)[0]
    delimiter = ";" if header_line.count(";") > header_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = [name.strip() for name in next(reader, [])]
    if columns.email not in header:
        raise SubscriberError(
            f"{path}, line 1: no {columns.email!r} column (found: {', '.join(header) or 'nothing'})"
        )

    def position(name: str) -> int:
        return header.index(name) if name in header else ABSENT

    email, name, lists, locale = (position(columns.email), position(columns.name), position(columns.lists),
                                  position(columns.locale))
    try:
        for cells in reader:
            if cells:
                count = len(cells)
                yield (reader.line_num, cells[email].strip() if email < count else "",
                       (cells[name].strip() or None) if name < count else None,
                       (cells[lists].strip() or None) if lists < count else None,
                       (cells[locale].strip() or None) if locale < count else None)
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
    from charset_normalizer import from_bytes  # only for the files that are not UTF-8

    match = from_bytes(data, cp_isolation=CSV_CHARSETS).best() or from_bytes(data).best()
    if match is None:
        raise SubscriberError(f"{path}: not a text file (no character set matches)")
    return str(match)


def import_csv(
    store: Store,
    path: Path,
    *,
    now: datetime,
    list_name: str | None = None,
    columns: ColumnNames = ColumnNames(),
    consent_source: str | None = None,
    progress: Callable[[int], None] | None = None,
    actor: str | None = None,
) -> ImportReport:
    """Import subscribers from a CSV file in batches; a bad row is reported, never fatal. With
    `actor`, the audit log records who imported what."""
    report = ImportReport()
    source = consent_source or f"import:{path.name}"
    suppressed = store.subscribers.suppressed_hashes()
    seen: set[str] = set()
    batch = NewSubscribers()
    extra_lists = (list_name,) if list_name else ()
    with BatchWriter(store, report, source, now) as writer:
        for line, raw, name, lists, locale in read_rows(path, columns):
            report.rows += 1
            try:
                address = normalise_address(raw)
            except InvalidAddress as error:
                problem = error.problem if raw else "no_address"
                report.rejected.append(RejectedRow(line, raw, str(error) if raw else "no email address", problem))
                continue
            if address in seen:
                report.duplicates += 1
                continue
            seen.add(address)
            if suppressed and email_hash(address) in suppressed:
                report.suppressed += 1
                continue
            batch.add(address, name, locale, split_lists(lists) + extra_lists)
            if batch.count >= BATCH_SIZE:
                writer.put(batch)
                batch = NewSubscribers()
                if progress:
                    progress(report.rows)
        writer.put(batch)
    if progress:
        progress(report.rows)
    if actor is not None:
        store.audit.record_action(actor, "subscriber.import", source, {
            "rows": report.rows, "added": report.added, "rejected": len(report.rejected)}, now=now)
    return report


class QuickThreadSwitches:
    """Python's thread switch interval lowered to `WRITING_SWITCH_INTERVAL` while at least one
    import writes, and put back when the last one ends. An import's writer thread takes the GIL
    back after every database statement; while the reading thread runs, it waits a whole switch
    interval for it (5 ms by default): 0.12 s of an import of 100,000 rows (bench/import.py)."""

    lock = threading.Lock()
    writing = 0
    saved = 0.0

    def __enter__(self) -> None:
        with self.lock:
            if QuickThreadSwitches.writing == 0:
                QuickThreadSwitches.saved = sys.getswitchinterval()
                sys.setswitchinterval(min(QuickThreadSwitches.saved, WRITING_SWITCH_INTERVAL))
            QuickThreadSwitches.writing += 1

    def __exit__(self, *failure: object) -> None:
        with self.lock:
            QuickThreadSwitches.writing -= 1
            if QuickThreadSwitches.writing == 0:
                sys.setswitchinterval(QuickThreadSwitches.saved)


class BatchWriter:
    """Stores an import's batches on a thread of its own, in order, while the next batch is read
    and validated: the database driver works without holding the GIL, so reading and writing
    overlap (with quick thread switches, `QuickThreadSwitches`), and the reading thread, which
    is quicker, copies SQLite's write-ahead log into the database while the writer writes the
    next batch. At most `QUEUED_BATCHES` wait (memory stays bounded); a failed write stops the
    import at the next batch handed over, with the error."""

    def __init__(self, store: Store, report: ImportReport, source: str, now: datetime):
        self.store = store
        self.report = report
        self.source = source
        self.now = now
        self.queue: queue.Queue[NewSubscribers | None] = queue.Queue(maxsize=QUEUED_BATCHES)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._write, name="import-writer", daemon=True)
        self.switches = QuickThreadSwitches()

    def __enter__(self) -> BatchWriter:
        self.switches.__enter__()
        self.thread.start()
        return self

    def __exit__(self, *failure: object) -> None:
        try:
            self.queue.put(None)
            self.thread.join()
        finally:
            self.switches.__exit__()
        if failure[0] is None:
            self._raise_failure()

    def put(self, batch: NewSubscribers) -> None:
        """Hand one batch over (waiting while the queue is full), then checkpoint the batches
        written so far; raises a write's error."""
        self._raise_failure()
        if batch:
            self.queue.put(batch)
            self.store.checkpoint()

    def _raise_failure(self) -> None:
        if self.error is not None:
            raise self.error

    def _write(self) -> None:
        """Store each batch handed over on one connection; after a failure, take the rest
        without storing them, until the end, so that the importing thread never waits."""
        ended = False
        try:
            with self.store.subscribers.new_subscriber_writer() as writer:
                while (batch := self.queue.get()) is not None:
                    result = writer.store(batch, self.source, self.now)
                    self.report.added += result.added
                    self.report.existing += len(batch) - result.added
                    self.report.memberships_added += result.memberships_added
                ended = True
        except BaseException as error:  # handed to the importing thread, which raises it
            self.error = error
        while not ended and self.queue.get() is not None:
            pass


def add(
    store: Store,
    email: str,
    *,
    now: datetime,
    name: str | None = None,
    locale: str | None = None,
    lists: Iterable[str] = (),
    consent_source: str = "manual",
    actor: str | None = None,
) -> Subscriber:
    """Add one subscriber (or add them to more lists, except lists they left); a forgotten
    address is refused. With `actor`, the audit log records who did it."""
    address = normalise_address(email)
    reason = store.subscribers.suppression_reason(address)
    if reason == FORGOTTEN:
        raise SuppressedAddress(f"{address} asked to be forgotten and cannot be added again")
    if reason is not None:
        raise SuppressedAddress(f"{address} is suppressed ({reason.replace('_', ' ')}) and cannot be added again")
    existing = store.subscribers.get_subscriber(address)
    wanted = list(lists)
    if existing is not None:
        left = store.subscribers.lists_left(existing.id)
        wanted = [name for name in wanted if name not in left]
    store.subscribers.add_subscriber(address, name=name, locale=locale, lists=wanted, consent_source=consent_source,
                         now=now)
    found = store.subscribers.get_subscriber(address)
    assert found is not None
    if actor is not None:
        store.audit.record_action(actor, "subscriber.add", f"subscriber:{found.id}", {"lists": wanted}, now=now)
    return found


def remove(store: Store, email: str, *, now: datetime, list_name: str | None = None,
           actor: str | None = None) -> Subscriber:
    """Take the subscriber off one list as if they had used its unsubscribe link (an opt-out
    is recorded; no list left means unsubscribed), or (without a list) mark them unsubscribed
    from everything. With `actor`, the audit log records who did it."""
    found = _existing(store, email)
    if list_name is None:
        store.subscribers.set_subscriber_status(found.email, SubscriberStatus.UNSUBSCRIBED, now=now)
    else:
        store.subscribers.leave_lists(found.id, [list_name], now)
    if actor is not None:
        store.audit.record_action(actor, "subscriber.remove", f"subscriber:{found.id}", {"list": list_name}, now=now)
    return _existing(store, found.email)


def _existing(store: Store, email: str) -> Subscriber:
    found = store.subscribers.get_subscriber(email.strip())
    if found is None:
        raise UnknownSubscriber(f"no subscriber {email.strip()}")
    return found


def person_record(store: Store, email: str) -> dict[str, Any]:
    """Everything stored about one person (access request): profile, lists and deliveries."""
    found = _existing(store, email)
    history = store.subscribers.person_history(found)
    record = asdict(found)
    record["status"] = str(found.status)
    record["lists_left"] = history.lists_left
    record["deliveries"] = history.deliveries
    record["history"] = history.actions
    return record


def export(
    store: Store, fmt: str, *, email: str | None = None, list_name: str | None = None, actor: str | None = None
) -> str:
    """One person's record (with `email`) or every subscriber, as JSON or CSV text. With `actor`,
    the audit log records who took the data out."""
    if actor is not None:
        store.audit.record_action(actor, "subscriber.export", list_name or "all", {"format": fmt})
    if email is not None:
        records = [person_record(store, email)]
    else:
        records = [
            dict(asdict(s), status=str(s.status)) for s in store.subscribers.list_subscribers(list_name, status=None)
        ]
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


def forget(store: Store, email: str, *, now: datetime, actor: str = "cli") -> bool:
    """Erase a person (profile, memberships, address in the ledger), keeping only a hashed
    suppression entry so they are never imported again. False if they were not stored."""
    existed = store.subscribers.forget_subscriber(email, now)
    store.audit.record_action(actor, "subscriber.forget", target=f"hash:{email_hash(email)[:16]}", now=now)
    return existed


def count_rows(path: Path) -> int:
    """How many data rows a CSV file holds, counted by its lines (for a progress bar; 0 if unreadable)."""
    try:
        with path.open("rb") as handle:
            return max(0, sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b"")) - 1)
    except OSError:
        return 0


class HistoryKind(StrEnum):
    """What one line of a person's history says happened."""

    CONSENT = "consent"
    SENT = "sent"
    FAILED = "failed"
    WAITING = "waiting"
    BOUNCED = "bounced"
    SOFT_BOUNCE = "soft_bounce"
    COMPLAINED = "complained"
    SUBSCRIBED = "subscribed"
    UNSUBSCRIBED = "unsubscribed"


DELIVERY_HISTORY = {str(DeliveryStatus.SENT): HistoryKind.SENT, str(DeliveryStatus.FAILED): HistoryKind.FAILED}
REPORT_HISTORY = {BounceKind.HARD: HistoryKind.BOUNCED, BounceKind.SOFT: HistoryKind.SOFT_BOUNCE,
                  BounceKind.COMPLAINT: HistoryKind.COMPLAINED, BounceKind.UNSUBSCRIBE: HistoryKind.UNSUBSCRIBED}


@dataclass(frozen=True)
class HistoryEntry:
    """One thing that happened to a person: a digest issue sent or failed, a bounce or complaint
    report, joining or leaving a list. `issue_id` names the issue, `list_name` the list, `detail`
    the server's reply or the report's diagnostic."""

    at: datetime | None
    kind: HistoryKind
    issue_id: str | None = None
    list_name: str | None = None
    detail: str = ""


@dataclass(frozen=True)
class SubscriberHistory:
    """A subscriber and everything that happened to them, oldest first."""

    subscriber: Subscriber
    entries: list[HistoryEntry]


def subscriber_history(store: Store, subscriber_id: int) -> SubscriberHistory:
    """The subscriber's consent, digest messages (ledger rows `email:<issue>:<subscriber>`),
    bounce and complaint reports, and list joins (of the lists they are on) and departures, in
    time order; SubscriberError if unknown."""
    found = store.subscribers.get_subscriber_by_id(subscriber_id)
    if found is None:
        raise UnknownSubscriber(f"no subscriber number {subscriber_id}")
    entries = [HistoryEntry(found.consent_at, HistoryKind.CONSENT, detail=found.consent_source or "")
               ] if found.consent_at is not None else []
    entries += [
        HistoryEntry(row["sent_at"] or row["created_at"], DELIVERY_HISTORY.get(row["status"], HistoryKind.WAITING),
                     issue_id=row["issue_id"], detail=row["error"] or "")
        for row in store.subscribers.person_history(found).deliveries if row["issue_id"] is not None
    ]
    entries += [HistoryEntry(r.occurred_at, REPORT_HISTORY[r.kind], issue_id=r.issue_id, detail=r.diagnostic)
                for r in store.bounces.reports_about(found.email)]
    entries += [HistoryEntry(e.at, HistoryKind(e.kind), list_name=e.list_name)
                for e in store.subscribers.membership_events(found.id)]
    entries.sort(key=lambda e: e.at or datetime.min.replace(tzinfo=UTC))
    return SubscriberHistory(found, entries)
