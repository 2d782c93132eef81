"""A real throwaway PostgreSQL server for the test session, and store fixtures on both backends.

`postgres_server` starts one server per session (initdb into a temporary folder, pg_ctl on a
free loopback port; as root, the server runs as the `postgres` user), or uses the server at
NEWSLETTER_TEST_PG_URL. `postgres_url` gives each test a fresh database, dropped afterwards.
`database_url` and `store` are parametrised over SQLite and PostgreSQL.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import make_url

from newsletter.store import Store

PG_URL_ENV = "NEWSLETTER_TEST_PG_URL"
TEMPLATE_DB = "newsletter_migrated_template"


@dataclass
class PostgresServer:
    """A running server: its superuser URL and whether this session owns it."""

    admin_url: str
    data_dir: Path | None = None
    run_as: str | None = None
    major_version: int = 0

    def database_url(self, name: str) -> str:
        """The SQLAlchemy URL of database `name` on this server."""
        url = make_url(self.admin_url).set(drivername="postgresql+psycopg", database=name)
        return url.render_as_string(hide_password=False)

    def execute(self, sql: str) -> None:
        """Run one statement as the superuser, outside a transaction."""
        import psycopg

        url = make_url(self.admin_url).set(drivername="postgresql")
        with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as conn:
            conn.execute(sql)
            self.major_version = conn.info.server_version // 10000


def _require_or_skip(reason: str) -> None:
    """Skip (or fail under NEWSLETTER_REQUIRE_ALL=1) because PostgreSQL is absent."""
    from tests.conftest import require_or_skip

    require_or_skip(reason)


def _find_bindir() -> Path | None:
    """The folder holding initdb and pg_ctl: pg_config's, Debian's newest, or on PATH."""
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        result = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True)
        if result.returncode == 0:
            candidates.append(Path(result.stdout.strip()))
    debian = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key, reverse=True)
    candidates += [Path(p) for p in debian]
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(Path(initdb).resolve().parent)
    for folder in candidates:
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    return None


def _version_key(path: str) -> int:
    """Sort key of /usr/lib/postgresql/<major>/bin by major version."""
    major = Path(path).parent.name
    return int(major) if major.isdigit() else 0


def _free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run(command: list[str], run_as: str | None) -> subprocess.CompletedProcess[str]:
    """Run a server command, as `run_as` when given (PostgreSQL refuses to run as root)."""
    if run_as is not None:
        command = ["runuser", "-u", run_as, "--", *command]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def _start_server(bindir: Path) -> PostgresServer:
    """initdb and start a fast, non-durable server on a free port; raise on failure."""
    run_as = None
    base = Path(tempfile.mkdtemp(prefix="newsletter-pg-"))
    if os.geteuid() == 0:
        run_as = "postgres"
        user = pwd.getpwnam(run_as)
        os.chown(base, user.pw_uid, user.pw_gid)
    data_dir = base / "data"
    init = _run(
        [
            str(bindir / "initdb"),
            "-D",
            str(data_dir),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        ],
        run_as,
    )
    if init.returncode != 0:
        raise RuntimeError(f"initdb failed: {init.stderr or init.stdout}")
    port = _free_port()
    options = (
        f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off -c max_connections=60"
    )
    log = base / "server.log"
    start = _run(
        [
            str(bindir / "pg_ctl"),
            "-D",
            str(data_dir),
            "-l",
            str(log),
            "-o",
            options,
            "-w",
            "-t",
            "30",
            "start",
        ],
        run_as,
    )
    if start.returncode != 0:
        log_text = log.read_text(errors="replace") if log.exists() else ""
        raise RuntimeError(f"pg_ctl start failed: {start.stderr or start.stdout}\n{log_text}")
    return PostgresServer(f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres", data_dir, run_as)


def _stop_server(server: PostgresServer, bindir: Path) -> None:
    """Stop the session's server and delete its files."""
    assert server.data_dir is not None
    _run(
        [str(bindir / "pg_ctl"), "-D", str(server.data_dir), "-m", "immediate", "-w", "stop"],
        server.run_as,
    )
    shutil.rmtree(server.data_dir.parent, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the whole session (skipped when PostgreSQL is absent)."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _require_or_skip("psycopg is not installed (pip install newsletter[postgres])")
    if os.environ.get(PG_URL_ENV):
        yield PostgresServer(os.environ[PG_URL_ENV])
        return
    bindir = _find_bindir()
    if bindir is None:
        _require_or_skip("PostgreSQL server binaries (initdb, pg_ctl) not found; see .ci/postgres.sh")
    assert bindir is not None
    if os.geteuid() == 0 and not _user_exists("postgres"):
        _require_or_skip("running as root and no `postgres` user to run the server as")
    server = _start_server(bindir)
    try:
        yield server
    finally:
        _stop_server(server, bindir)


def _user_exists(name: str) -> bool:
    """Whether the system has user `name`."""
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


@contextlib.contextmanager
def _database(server: PostgresServer, template: str | None = None) -> Iterator[str]:
    """A new database on `server` (optionally copied from `template`), dropped afterwards."""
    name = f"test_{uuid.uuid4().hex[:16]}"
    suffix = ""
    if template:
        fast_copy = " STRATEGY FILE_COPY" if server.major_version >= 15 else ""
        suffix = f" TEMPLATE {template}{fast_copy}"
    server.execute(f"CREATE DATABASE {name}{suffix}")
    try:
        yield server.database_url(name)
    finally:
        server.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """The URL of a fresh, empty PostgreSQL database for one test."""
    with _database(postgres_server) as url:
        yield url


@pytest.fixture(scope="session")
def migrated_postgres_template(postgres_server: PostgresServer) -> Iterator[str]:
    """A database migrated to head once per session, copied by `migrated_postgres_url`."""
    postgres_server.execute(f"DROP DATABASE IF EXISTS {TEMPLATE_DB} WITH (FORCE)")
    postgres_server.execute(f"CREATE DATABASE {TEMPLATE_DB}")
    Store.upgrade(postgres_server.database_url(TEMPLATE_DB))
    try:
        yield TEMPLATE_DB
    finally:
        postgres_server.execute(f"DROP DATABASE IF EXISTS {TEMPLATE_DB} WITH (FORCE)")


@pytest.fixture
def migrated_postgres_url(postgres_server: PostgresServer, migrated_postgres_template: str) -> Iterator[str]:
    """The URL of a fresh PostgreSQL database already at the head revision."""
    with _database(postgres_server, migrated_postgres_template) as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database URL: a SQLite file, then a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def migrated_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database URL at the head revision, on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'state.db'}"
        Store.upgrade(url)
        return url
    return str(request.getfixturevalue("migrated_postgres_url"))


@pytest.fixture
def store(migrated_url: str) -> Iterator[Store]:
    """An open store at the head revision, on SQLite and on PostgreSQL."""
    opened = Store.open(migrated_url)
    try:
        yield opened
    finally:
        opened.close()
