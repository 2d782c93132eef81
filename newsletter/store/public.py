"""Counters of the public pages' requests, per address or per client, in the store so that
they survive a restart and hold across processes (each count is one atomic update)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, case, delete, literal, update

from newsletter.core.models import RequestKind
from newsletter.store.db import insert_ignoring_conflicts
from newsletter.store.tables import UTCDateTime, public_requests


@dataclass(frozen=True)
class RequestCount:
    """How many requests a key made in its current window (this one included), and when the window ends."""

    count: int
    resets_at: datetime


class PublicRequestQueries:
    """`store.public_requests`: fixed-window request counters keyed by a hash."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def count_request(self, kind: RequestKind, key: str, now: datetime, window: timedelta) -> RequestCount:
        """Count one more request for `key`; a window older than `window` starts afresh at `now`."""
        t = public_requests
        started = literal(now, UTCDateTime())
        expired = t.c.window_start <= now - window
        with self.engine.begin() as conn:
            conn.execute(insert_ignoring_conflicts(conn, t).values(kind=str(kind), key=key, window_start=now, count=0))
            row = conn.execute(
                update(t)
                .where(t.c.kind == str(kind), t.c.key == key)
                .values(count=case((expired, 1), else_=t.c.count + 1),
                        window_start=case((expired, started), else_=t.c.window_start))
                .returning(t.c.count, t.c.window_start)
            ).one()
        return RequestCount(int(row.count), row.window_start + window)

    def forget_before(self, moment: datetime) -> int:
        """Delete the counters whose window started before `moment`; returns how many."""
        with self.engine.begin() as conn:
            return int(conn.execute(delete(public_requests).where(public_requests.c.window_start < moment)).rowcount)
