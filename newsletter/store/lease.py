"""The runner lease: at most one scheduler process works on a database at a time.

Every time here is the database's clock (`database_now`), never the caller's: a standby whose
clock runs ahead cannot see a live holder's lease as expired."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine, delete, or_, select, update

from newsletter.store.db import database_now, insert_ignoring_conflicts
from newsletter.store.tables import runner_lease


class LeaseQueries:
    """`store.leases`: named leases; each call is one atomic statement pair, safe across processes."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def acquire_lease(self, name: str, holder: str, ttl_seconds: float) -> bool:
        """Take lease `name` for `holder` if free, expired or already theirs."""
        t = runner_lease
        with self.engine.begin() as conn:
            now = database_now(conn)
            expires_at = now + timedelta(seconds=ttl_seconds)
            inserted = conn.execute(
                insert_ignoring_conflicts(conn, t).values(
                    name=name,
                    holder=holder,
                    acquired_at=now,
                    heartbeat_at=now,
                    expires_at=expires_at,
                )
            )
            if inserted.rowcount == 1:
                return True
            taken = conn.execute(
                update(t)
                .where(t.c.name == name, or_(t.c.expires_at <= now, t.c.holder == holder))
                .values(holder=holder, acquired_at=now, heartbeat_at=now, expires_at=expires_at)
            )
        return taken.rowcount == 1

    def renew_lease(self, name: str, holder: str, ttl_seconds: float) -> bool:
        """Extend `holder`'s lease; False if they lost it (another process took it over)."""
        t = runner_lease
        with self.engine.begin() as conn:
            now = database_now(conn)
            result = conn.execute(
                update(t)
                .where(t.c.name == name, t.c.holder == holder)
                .values(heartbeat_at=now, expires_at=now + timedelta(seconds=ttl_seconds))
            )
        return result.rowcount == 1

    def release_lease(self, name: str, holder: str) -> bool:
        """Give the lease up if `holder` has it."""
        t = runner_lease
        with self.engine.begin() as conn:
            result = conn.execute(delete(t).where(t.c.name == name, t.c.holder == holder))
        return result.rowcount == 1

    def lease_holder(self, name: str) -> str | None:
        """Who holds lease `name` now, or None if it is free or expired."""
        t = runner_lease
        with self.engine.connect() as conn:
            return conn.scalar(select(t.c.holder).where(t.c.name == name, t.c.expires_at > database_now(conn)))
