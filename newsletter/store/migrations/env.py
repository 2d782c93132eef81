"""Alembic environment: runs migrations on the connection `Store.upgrade` hands over.

Run from the command line (`alembic -c newsletter/store/alembic.ini upgrade head`), it reads
the database URL from `-x url=...` or the NEWSLETTER_DATABASE_URL environment variable.
"""

import os

from alembic import context
from sqlalchemy import Connection

from newsletter.store.db import create_store_engine
from newsletter.store.tables import metadata


def run_on(connection: Connection) -> None:
    """Run the pending migrations on one connection, in one transaction."""
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    """Use the caller's connection, or open one from the URL given on the command line."""
    connection = context.config.attributes.get("connection")
    if connection is not None:
        run_on(connection)
        return
    url = context.get_x_argument(as_dictionary=True).get("url") or os.environ.get("NEWSLETTER_DATABASE_URL")
    if not url:
        raise SystemExit("give the database URL with -x url=... or NEWSLETTER_DATABASE_URL")
    engine = create_store_engine(url)
    try:
        with engine.connect() as conn:
            run_on(conn)
            conn.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; connect to the database")
run_online()
