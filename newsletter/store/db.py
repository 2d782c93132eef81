"""Engine creation (SQLite pragmas, PostgreSQL driver) and the Alembic schema check and upgrade."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import URL, Connection, Engine, create_engine, event, inspect, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.sql.dml import Insert

from newsletter.core.errors import StoreError

if TYPE_CHECKING:
    from alembic.config import Config

PACKAGE_DIR = Path(__file__).resolve().parent
ALEMBIC_INI = PACKAGE_DIR / "alembic.ini"
MIGRATIONS_DIR = PACKAGE_DIR / "migrations"
# The newest shipped migration, stated so that opening a store never imports Alembic (a test
# holds it equal to the migrations' single head).
HEAD_REVISION = "0009_user_email"
VERSION_TABLE = "alembic_version"
SQLITE_BUSY_TIMEOUT_MS = 5000
SUPPORTED_BACKENDS = ("sqlite", "postgresql")
SQLITE_MAX_PARAMETERS = 32766  # SQLITE_MAX_VARIABLE_NUMBER since SQLite 3.32
# Rows of one multi-row INSERT on SQLite: preparing a statement takes time growing faster than its
# rows (5,000 rows: 65-100 ms, 1,000: 5 ms), running it the same per row.
SQLITE_ROWS_PER_STATEMENT = 1000


def parse_url(url: str) -> URL:
    """Parse a database URL; plain `postgresql://` means the psycopg (3) driver."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(f"invalid database URL {url!r}: {exc}") from None
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in SUPPORTED_BACKENDS:
        raise StoreError(f"unsupported database {display_url(parsed)}: use sqlite:/// or postgresql+psycopg://")
    return parsed


def display_url(url: URL) -> str:
    """The URL as shown to users, password hidden."""
    return url.render_as_string(hide_password=True)


def sqlite_file(url: URL) -> Path | None:
    """The file of a SQLite URL, or None for in-memory and non-SQLite databases."""
    if url.get_backend_name() != "sqlite":
        return None
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    return Path(database)


def _set_sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL for concurrent readers, a busy timeout for concurrent writers, enforced foreign keys."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()


def create_store_engine(url: str | URL) -> Engine:
    """Create the engine for a store URL; a SQLite file's parent folders are created."""
    parsed = parse_url(url) if isinstance(url, str) else url
    path = sqlite_file(parsed)
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the folder of {path}: {exc}") from None
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(parsed, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        event.listen(engine, "connect", _set_sqlite_pragmas)
        return engine
    try:
        return create_engine(parsed, pool_pre_ping=True)
    except ModuleNotFoundError as exc:
        raise StoreError(
            f"the driver for {display_url(parsed)} is not installed ({exc.name}); install newsletter[postgres]"
        ) from None


@contextmanager
def unchecked_connection(engine: Engine) -> Iterator[Connection]:
    """A connection whose writes SQLite does not check against foreign keys, for writes that are
    consistent by construction (an import's memberships: 0.20 -> 0.15 s of 100,000 rows,
    bench/import.py); on other databases, a plain connection. The pragma is set once for the
    connection's whole use: SQLite ignores it inside a transaction (pysqlite begins one only
    before a write) and changing it expires every prepared statement, which the driver's cache
    would otherwise reuse. It is set back when the use ends, failed or not: a pooled connection
    never goes back to the pool unchecked."""
    with engine.connect() as conn:
        if conn.dialect.name != "sqlite":
            yield conn
            return
        _set_foreign_keys(conn, "OFF")
        try:
            yield conn
        finally:
            if not conn.invalidated:
                conn.rollback()  # a transaction left open would keep the pragma from taking effect
                _set_foreign_keys(conn, "ON")


def _set_foreign_keys(conn: Connection, state: str) -> None:
    """SQLite's foreign key checks on or off for `conn`, outside any transaction."""
    conn.exec_driver_sql(f"PRAGMA foreign_keys={state}")
    conn.commit()  # SQLAlchemy's autobegun transaction ended: the driver began none for a pragma


def alembic_config() -> Config:
    """The Alembic configuration shipped with the package."""
    from alembic.config import Config

    config = Config(str(ALEMBIC_INI))
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str:
    """The revision the shipped migrations lead to."""
    return HEAD_REVISION


def is_known_revision(revision: str) -> bool:
    """Whether the shipped migrations contain `revision`."""
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    try:
        return ScriptDirectory.from_config(alembic_config()).get_revision(revision) is not None
    except CommandError:
        return False


def current_revision(connection: Connection) -> str | None:
    """The revision the database is at, or None when it was never migrated (read as Alembic
    stores it, without importing Alembic)."""
    if not inspect(connection).has_table(VERSION_TABLE):
        return None
    return connection.exec_driver_sql(f"SELECT version_num FROM {VERSION_TABLE}").scalar_one_or_none()


def upgrade_to_head(engine: Engine) -> None:
    """Apply every pending migration to the database of `engine`."""
    from alembic import command

    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def insert_ignoring_conflicts(engine_or_conn: Engine | Connection, table: Any) -> Insert:
    """An INSERT … ON CONFLICT DO NOTHING for the dialect in use; its result's rowcount
    is the number of rows inserted. The dialect's module is imported when first used: a SQLite
    store never loads PostgreSQL's (a CLI start-up cost)."""
    dialect = importlib.import_module(f"sqlalchemy.dialects.{engine_or_conn.dialect.name}")
    statement = dialect.insert(table).on_conflict_do_nothing()
    return statement.execution_options(preserve_rowcount=True)


def bulk_insert_ignoring_conflicts(
    conn: Connection, table: Any, columns: Sequence[str], values: Sequence[Any], constants: Mapping[str, Any],
) -> int:
    """Insert many rows, given as their `columns` values one row after the other in the flat
    `values`, each completed with the same `constants`, skipping conflicting rows; returns how
    many were inserted. The values go straight to the driver (constants converted once by their
    column types): SQLAlchemy's per-row parameter processing costs five times the insert itself
    (bench/import.py). On SQLite the rows go in multi-row statements (`_sqlite_rows_insert`);
    elsewhere through the driver's executemany."""
    if not values:
        return 0
    dialect = conn.dialect
    fixed = tuple(_bound(table.c[name], value, dialect) for name, value in constants.items())
    quote = dialect.identifier_preparer.quote
    target = f"INSERT INTO {quote(table.name)} ({', '.join(quote(name) for name in [*columns, *constants])}) "
    width = len(columns)
    if dialect.name == "sqlite":
        return _sqlite_rows_insert(conn, target, width, values, fixed)
    markers = ", ".join([placeholder(conn)] * (width + len(fixed)))
    rows = [(*values[start:start + width], *fixed) for start in range(0, len(values), width)]
    return int(conn.exec_driver_sql(f"{target}VALUES ({markers}) ON CONFLICT DO NOTHING", rows).rowcount)


def _sqlite_rows_insert(conn: Connection, target: str, width: int, values: Sequence[Any], fixed: tuple[Any, ...]
                        ) -> int:
    """`target` (an INSERT's head) fed by multi-row VALUES of `SQLITE_ROWS_PER_STATEMENT` rows,
    the constants bound once a statement. One statement is one step of the database without
    Python's GIL, where executemany takes the GIL back after every row: an import's writer
    thread then waits on the reading thread for each row, and the two hardly overlap
    (bench/import.py)."""
    per_statement = min(SQLITE_ROWS_PER_STATEMENT, max(1, (SQLITE_MAX_PARAMETERS - len(fixed)) // width)) * width
    selected = ", ".join([*(f"column{n + 1}" for n in range(width)), *["?"] * len(fixed)])
    row_marker = f"({', '.join('?' * width)})"
    inserted = 0
    for start in range(0, len(values), per_statement):
        chunk = values[start:start + per_statement]
        sql = (f"{target}SELECT {selected} FROM (VALUES {', '.join([row_marker] * (len(chunk) // width))}) "
               "WHERE true ON CONFLICT DO NOTHING")
        inserted += int(conn.exec_driver_sql(sql, (*fixed, *chunk)).rowcount)
    return inserted


def placeholder(conn: Connection) -> str:
    """The driver's positional parameter marker (`?` on SQLite, `%s` on PostgreSQL)."""
    return "?" if conn.dialect.paramstyle == "qmark" else "%s"


def in_values(conn: Connection, column: str, values: Sequence[Any]) -> tuple[str, tuple[Any, ...]]:
    """The SQL condition `column` is one of `values`, and its driver parameters: one placeholder
    per value on SQLite, one array on PostgreSQL (SQLAlchemy's expanding IN costs more than the
    query for the thousands of values of an import batch)."""
    if conn.dialect.paramstyle == "qmark":
        return f"{column} IN ({', '.join('?' * len(values))})", tuple(values)
    return f"{column} = ANY(%s)", (list(values),)


def driver_value(conn: Connection, column: Any, value: Any) -> Any:
    """`value` as the driver receives it for `column` (its type's bind processing applied), for
    statements sent straight to the driver."""
    return _bound(column, value, conn.dialect)


def driver_converter(column_type: Any, dialect: Any) -> Callable[[Any], Any]:
    """The function turning a value of `column_type` into what the driver receives (the type's
    bind processing), looked up once for statements that convert many values."""
    return column_type.dialect_impl(dialect).bind_processor(dialect) or _unchanged


def _unchanged(value: Any) -> Any:
    return value


def _bound(column: Any, value: Any, dialect: Any) -> Any:
    """`value` as the driver receives it for `column` (its type's bind processing applied)."""
    return driver_converter(column.type, dialect)(value)


def database_now(connection: Connection) -> datetime:
    """The database server's current time (aware UTC): the one clock every process on every
    host agrees on, so leases and heartbeats never compare two machines' clocks."""
    if connection.dialect.name == "sqlite":
        text_now = connection.exec_driver_sql("SELECT strftime('%Y-%m-%d %H:%M:%f', 'now')").scalar_one()
        return datetime.fromisoformat(text_now).replace(tzinfo=UTC)
    moment: datetime = connection.exec_driver_sql("SELECT clock_timestamp()").scalar_one()
    return moment.astimezone(UTC)
