"""Claim owners: every process that claims ledger rows registers itself and keeps a heartbeat,
on the database clock, so that only a *dead* owner's claims are ever recovered.

An owner is dead when its heartbeat is older than `OWNER_TTL_SECONDS` by the database's clock,
or at once when it ran on this host and its process is gone (a killed sender is recovered by
the next command without waiting for the TTL). A live process's claims are never touched, so
any number of senders, posters, daemons and review-app actions can share one database.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Connection, Engine, delete, insert, select, update

from newsletter.store.db import database_now
from newsletter.store.tables import claim_owners

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 5.0
OWNER_TTL_SECONDS = 30.0
HOST = socket.gethostname()[:255]


def process_is_gone(pid: int) -> bool:
    """Whether no live process of this host has `pid` (a zombie waiting to be reaped is gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except (OSError, IndexError):
        return False


class ClaimOwner:
    """This process as the owner of the claims it makes on one database: registered before its
    first claim, kept alive by a heartbeat thread, removed when the store closes."""

    def __init__(self, engine: Engine, *, heartbeat: float = HEARTBEAT_SECONDS, ttl: float = OWNER_TTL_SECONDS):
        self.engine = engine
        self.heartbeat = heartbeat
        self.ttl = ttl
        self.lock = threading.Lock()
        self.registered: str | None = None
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None

    def id(self) -> str:
        """The owner id to write on a claim, registering this process first if needed."""
        with self.lock:
            if self.registered is None:
                self.registered = f"{HOST}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
                self._insert(self.registered)
                self.stop = threading.Event()
                self.thread = threading.Thread(target=self._beat, args=(self.registered, self.stop),
                                               name="claim-owner-heartbeat", daemon=True)
                self.thread.start()
            return self.registered

    def close(self) -> None:
        """Stop the heartbeat and remove the owner row (its remaining claims become recoverable);
        a later claim registers a new owner."""
        with self.lock:
            owner, self.registered = self.registered, None
            self.stop.set()
            thread, self.thread = self.thread, None
        if thread is not None:
            thread.join(timeout=self.heartbeat + 1)
        if owner is not None:
            with self.engine.begin() as conn:
                conn.execute(delete(claim_owners).where(claim_owners.c.id == owner))

    def _insert(self, owner: str) -> None:
        with self.engine.begin() as conn:
            self._insert_on(conn, owner)

    def _beat(self, owner: str, stop: threading.Event) -> None:
        """Refresh the heartbeat until stopped; an owner declared dead while stalled re-registers
        (its old claims were recovered; the marks of those rows then fail, and are reported)."""
        while not stop.wait(self.heartbeat):
            try:
                with self.engine.begin() as conn:
                    beat = update(claim_owners).where(claim_owners.c.id == owner)
                    if conn.execute(beat.values(heartbeat_at=database_now(conn))).rowcount == 0:
                        log.warning("claim owner %s was declared dead while it stalled; registering again", owner)
                        self._insert_on(conn, owner)
            except Exception as error:
                log.warning("claim owner %s missed a heartbeat: %s", owner, error)

    def _insert_on(self, conn: Connection, owner: str) -> None:
        now = database_now(conn)
        conn.execute(insert(claim_owners).values(id=owner, host=HOST, pid=os.getpid(), started_at=now,
                                                 heartbeat_at=now))


def remove_dead_owners(engine: Engine, *, ttl: float = OWNER_TTL_SECONDS, keep: str | None = None) -> list[str]:
    """Delete the owners that are dead (stale heartbeat on the database clock, or a vanished
    process of this host), never `keep`; returns their ids. Their claims are then orphans."""
    t = claim_owners
    with engine.begin() as conn:
        stale_before = database_now(conn) - timedelta(seconds=ttl)
        rows = conn.execute(select(t.c.id, t.c.host, t.c.pid, t.c.heartbeat_at)).all()
        dead = [
            row.id for row in rows
            if row.id != keep and (row.heartbeat_at < stale_before or (row.host == HOST and process_is_gone(row.pid)))
        ]
        if dead:
            conn.execute(delete(t).where(t.c.id.in_(dead)))
    return dead
