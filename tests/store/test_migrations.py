"""Schema migrations: one head, upgrade and the refusal of out-of-date databases, no drift."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from newsletter.core.errors import StoreError
from newsletter.store import Store, db
from newsletter.store.db import alembic_config, create_store_engine
from newsletter.store.tables import metadata


def test_migrations_have_a_single_linear_head() -> None:
    scripts = ScriptDirectory.from_config(alembic_config())
    assert scripts.get_heads() == [Store.head_revision()]
    chain = list(scripts.walk_revisions())
    assert chain[-1].down_revision is None
    assert all(len(script.nextrev) <= 1 for script in chain)


def test_open_refuses_a_new_database(database_url: str) -> None:
    with pytest.raises(StoreError, match=r"not initialised: run `newsletter db upgrade`"):
        Store.open(database_url)
    Store.open(database_url, check_schema=False).close()
    with pytest.raises(StoreError, match=r"not initialised: run `newsletter db upgrade`"):
        Store.open(database_url)


def test_open_does_not_create_a_missing_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "typo" / "state.db"
    with pytest.raises(StoreError, match="not initialised"):
        Store.open(f"sqlite:///{path}")
    assert not path.parent.exists()


def test_upgrade_initialises_then_open_works(database_url: str) -> None:
    head = Store.head_revision()
    assert Store.upgrade(database_url) == (None, head)
    with Store.open(database_url) as store:
        assert store.current_revision() == head
        assert store.subscribers.count_subscribers() == 0
    assert Store.upgrade(database_url) == (head, head)


def test_open_with_create_upgrades_the_database(database_url: str) -> None:
    with Store.open(database_url, create=True) as store:
        assert store.current_revision() == Store.head_revision()


PROBE_MIGRATION = """
import sqlalchemy as sa
from alembic import op

revision = "0002_probe"
down_revision = "{head}"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table("probe", sa.Column("id", sa.Integer(), primary_key=True))


def downgrade():
    op.drop_table("probe")
"""


def install_newer_release(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The shipped migrations plus one more, as a later release would ship them."""
    migrations = tmp_path / "migrations"
    shutil.copytree(db.MIGRATIONS_DIR, migrations, ignore=shutil.ignore_patterns("__pycache__"))
    probe = PROBE_MIGRATION.format(head=Store.head_revision())
    (migrations / "versions" / "0002_probe.py").write_text(probe)
    monkeypatch.setattr(db, "MIGRATIONS_DIR", migrations)
    monkeypatch.setattr(db, "HEAD_REVISION", "0002_probe")
    return "0002_probe"


def test_open_refuses_an_out_of_date_database_until_upgraded(
    database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    first = Store.head_revision()
    Store.upgrade(database_url)
    newer_head = install_newer_release(tmp_path, monkeypatch)
    with pytest.raises(StoreError) as error:
        Store.open(database_url)
    expected = f"is at revision {first}, expected {newer_head}: run `newsletter db upgrade`"
    assert str(error.value).endswith(expected)
    with pytest.raises(StoreError, match="run `newsletter db upgrade`"):
        Store.open(database_url, create=True)
    assert Store.upgrade(database_url) == (first, newer_head)
    with Store.open(database_url) as store:
        assert "probe" in inspect(store.engine).get_table_names()


def test_open_refuses_a_database_from_a_newer_release(database_url: str) -> None:
    Store.upgrade(database_url)
    with Store.open(database_url, check_schema=False) as store, store.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'ffff_future'"))
    with pytest.raises(StoreError, match="at revision ffff_future, which this version"):
        Store.open(database_url)


def test_tables_match_the_migrations(database_url: str) -> None:
    Store.upgrade(database_url)
    engine = create_store_engine(database_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, metadata) == []
    finally:
        engine.dispose()


def test_downgrade_removes_every_table(database_url: str) -> None:
    Store.upgrade(database_url)
    engine = create_store_engine(database_url)
    config = alembic_config()
    try:
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, "base")
        assert set(inspect(engine).get_table_names()) == {"alembic_version"}
    finally:
        engine.dispose()
    with pytest.raises(StoreError, match="not initialised"):
        Store.open(database_url)


def test_sqlite_store_uses_wal_busy_timeout_and_foreign_keys(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "folder" / "state.db"
    with Store.open(f"sqlite:///{path}", create=True) as store, store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1
    assert path.is_file()


def test_unsupported_or_invalid_urls_are_refused() -> None:
    with pytest.raises(StoreError, match="unsupported database"):
        Store.open("mysql://user:secret@localhost/db")
    with pytest.raises(StoreError, match="invalid database URL"):
        Store.open("not a url")


def test_error_messages_hide_the_password() -> None:
    url = "postgresql+psycopg://someone:s3cret@127.0.0.1:1/nothing"
    with pytest.raises(StoreError) as error:
        Store.open(url)
    assert "s3cret" not in str(error.value)
    assert "someone:***@127.0.0.1" in str(error.value)
