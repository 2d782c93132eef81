"""The runner lease: at most one scheduler process works on a database at a time."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, or_, select, update

from newsletter.store.db import insert_ignoring_conflicts
from newsletter.store.tables import runner_lease, utcnow


class LeaseQueries:
    """Lease methods of `Store`; each is one atomic statement pair, safe across processes."""

    engine: Engine

    def acquire_lease(self, name: str, holder: str, ttl_seconds: float, now: datetime | None = None) -> bool:
        """Take lease `name` for `holder` if free, expired or already theirs."""
        now = now or utcnow()
        expires_at = now + timedelta(seconds=ttl_seconds)
        t = runner_lease
        with self.engine.begin() as conn:
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

    def renew_lease(self, name: str, holder: str, ttl_seconds: float, now: datetime | None = None) -> bool:
        """Extend `holder`'s lease; False if they lost it (another process took it over)."""
        now = now or utcnow()
        t = runner_lease
        with self.engine.begin() as conn:
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

    def lease_holder(self, name: str, now: datetime | None = None) -> str | None:
        """Who holds lease `name` now, or None if it is free or expired."""
        t = runner_lease
        with self.engine.connect() as conn:
            return conn.scalar(select(t.c.holder).where(t.c.name == name, t.c.expires_at > (now or utcnow())))
