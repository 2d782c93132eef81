"""The state store: announcements, subscribers, digest issues, deliveries, runs and leases.

`Store.open(url)` connects to SQLite (WAL, busy timeout) or PostgreSQL (`postgresql+psycopg://`)
and refuses a database whose schema is not at the migrations' head; `Store.upgrade(url)`
applies the migrations. The delivery ledger lives in `newsletter.store.ledger`.
"""

from __future__ import annotations

from types import TracebackType

from sqlalchemy import URL, Engine
from sqlalchemy.exc import OperationalError

from newsletter.core.errors import StoreError
from newsletter.core.models import AnnouncementStatus, DigestIssueStatus, RunOutcome, SubscriberStatus
from newsletter.store import db
from newsletter.store.announcements import AnnouncedItem, AnnouncementQueries, UpsertResult
from newsletter.store.audit import ActionRecord, AuditQueries
from newsletter.store.bounces import BounceQueries
from newsletter.store.clicks import ClickQueries
from newsletter.store.digests import DigestIssue, DigestIssueQueries
from newsletter.store.lease import LeaseQueries
from newsletter.store.owners import ClaimOwner
from newsletter.store.public import PublicRequestQueries
from newsletter.store.runs import RunQueries, RunRecord
from newsletter.store.sources import SourceStateQueries
from newsletter.store.subscribers import Subscriber, SubscriberQueries
from newsletter.store.tables import utcnow
from newsletter.store.users import User, UserQueries

__all__ = [
    "ActionRecord",
    "AnnouncedItem",
    "AnnouncementStatus",
    "DigestIssue",
    "DigestIssueStatus",
    "RunOutcome",
    "RunRecord",
    "Store",
    "StoreError",
    "Subscriber",
    "SubscriberStatus",
    "UpsertResult",
    "User",
    "utcnow",
]


class Store:
    """A connection to the state store, composed of one part per topic (`store.subscribers`,
    `store.issues`, `store.bounces`…); every query runs in its own short transaction."""

    def __init__(self, engine: Engine, url: URL):
        self.engine = engine
        self.url = url
        self.claim_owner = ClaimOwner(engine)
        self.announcements = AnnouncementQueries(engine)
        self.source_states = SourceStateQueries(engine)
        self.runs = RunQueries(engine, self.claim_owner)
        self.leases = LeaseQueries(engine)
        self.issues = DigestIssueQueries(engine)
        self.subscribers = SubscriberQueries(engine)
        self.audit = AuditQueries(engine)
        self.users = UserQueries(engine)
        self.public_requests = PublicRequestQueries(engine)
        self.bounces = BounceQueries(engine)
        self.clicks = ClickQueries(engine)

    @classmethod
    def open(cls, url: str, *, check_schema: bool = True, create: bool = False) -> Store:
        """Connect to the database at `url`; with `create`, initialise a new (never migrated)
        database; with `check_schema`, refuse a database that is not at the head revision
        (an existing database is only upgraded by `newsletter db upgrade`)."""
        parsed = db.parse_url(url)
        path = db.sqlite_file(parsed)
        if check_schema and not create and path is not None and not path.exists():
            raise StoreError(f"database at {db.display_url(parsed)} is not initialised: run `newsletter db upgrade`")
        store = cls(db.create_store_engine(parsed), parsed)
        try:
            if create and store.current_revision() is None:
                store._upgrade()
            if check_schema:
                store.check_schema()
        except BaseException:
            store.close()
            raise
        return store

    @classmethod
    def upgrade(cls, url: str) -> tuple[str | None, str]:
        """Apply the pending migrations to the database at `url`; returns (from, to) revisions."""
        store = cls.open(url, check_schema=False)
        try:
            before = store.current_revision()
            store._upgrade()
            return before, store.head_revision()
        finally:
            store.close()

    @staticmethod
    def head_revision() -> str:
        """The revision the shipped migrations lead to."""
        return db.head_revision()

    def current_revision(self) -> str | None:
        """The revision the database is at (None if never migrated)."""
        try:
            with self.engine.connect() as conn:
                return db.current_revision(conn)
        except OperationalError as exc:
            raise StoreError(f"cannot open the database at {self.display_url}: {exc.orig}") from None

    def check_schema(self) -> None:
        """Raise StoreError unless the database is at the head revision."""
        current, head = self.current_revision(), self.head_revision()
        if current is None:
            raise StoreError(f"database at {self.display_url} is not initialised: run `newsletter db upgrade`")
        if current != head and not db.is_known_revision(current):
            raise StoreError(
                f"database at {self.display_url} is at revision {current}, which this version "
                "of newsletter does not know: it was upgraded by a newer release"
            )
        if current != head:
            raise StoreError(
                f"database at {self.display_url} is at revision {current}, expected {head}: run `newsletter db upgrade`"
            )

    @property
    def display_url(self) -> str:
        """The database URL with any password hidden."""
        return db.display_url(self.url)

    def checkpoint(self) -> None:
        """Copy what SQLite's write-ahead log holds into the database file now, neither waiting
        for nor blocking a writer (a passive checkpoint); nothing on PostgreSQL. Done between an
        import's batches by its reading thread, it spares the writer thread's commits SQLite's
        automatic checkpoints (bench/import.py)."""
        if self.engine.dialect.name == "sqlite":
            with self.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").all()

    def close(self) -> None:
        """Retire this process's claim owner, then close every pooled connection."""
        try:
            self.claim_owner.close()
        finally:
            self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _upgrade(self) -> None:
        """Migrate this database to the head revision."""
        try:
            db.upgrade_to_head(self.engine)
        except OperationalError as exc:
            raise StoreError(f"cannot upgrade the database at {self.display_url}: {exc.orig}") from None
