"""The audit log of operator actions, and per-channel pause state."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, insert, select, update

from newsletter.store.db import insert_ignoring_conflicts
from newsletter.store.tables import actions, channel_state, utcnow


@dataclass
class ActionRecord:
    """One audit log entry."""

    id: int
    at: datetime
    actor: str
    action: str
    target: str | None
    detail: dict[str, Any] | None


class AuditQueries:
    """`store.audit`: the action log and channel pauses."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def record_action(
        self,
        actor: str,
        action: str,
        target: str | None = None,
        detail: dict[str, Any] | None = None,
        *,
        now: datetime | None = None,
    ) -> int:
        """Append an entry to the audit log; returns its id."""
        with self.engine.begin() as conn:
            result = conn.execute(
                insert(actions)
                .values(at=now or utcnow(), actor=actor, action=action, target=target, detail=detail)
                .returning(actions.c.id)
            )
            return int(result.scalar_one())

    def count_actions(self) -> int:
        """How many entries the audit log holds."""
        with self.engine.connect() as conn:
            return int(conn.scalar(select(func.count()).select_from(actions)) or 0)

    def list_actions(self, limit: int = 50, offset: int = 0) -> list[ActionRecord]:
        """The latest audit log entries, newest first (from `offset`)."""
        query = select(actions).order_by(actions.c.at.desc(), actions.c.id.desc()).limit(limit).offset(offset)
        with self.engine.connect() as conn:
            return [
                ActionRecord(row.id, row.at, row.actor, row.action, row.target, row.detail)
                for row in conn.execute(query)
            ]

    def has_action(self, action: str, target: str) -> bool:
        """Whether the audit log holds at least one `action` on `target`."""
        t = actions
        with self.engine.connect() as conn:
            found = conn.scalar(select(t.c.id).where(t.c.action == action, t.c.target == target).limit(1))
        return found is not None

    def last_action(self, action: str, target: str) -> ActionRecord | None:
        """The latest `action` on `target` in the audit log, or None."""
        t = actions
        query = select(t).where(t.c.action == action, t.c.target == target).order_by(t.c.at.desc(), t.c.id.desc())
        with self.engine.connect() as conn:
            row = conn.execute(query.limit(1)).first()
        return ActionRecord(row.id, row.at, row.actor, row.action, row.target, row.detail) if row else None

    def targets_with_action(self, action: str, targets: Iterable[str]) -> set[str]:
        """Which of `targets` have at least one `action` in the audit log (one query for many rows)."""
        wanted = list(set(targets))
        if not wanted:
            return set()
        query = select(actions.c.target).where(actions.c.action == action, actions.c.target.in_(wanted)).distinct()
        with self.engine.connect() as conn:
            return {row.target for row in conn.execute(query)}

    def set_channel_paused(
        self, channel: str, paused: bool, reason: str | None = None, now: datetime | None = None
    ) -> None:
        """Pause or resume posting to a channel."""
        values = {
            "paused": paused,
            "reason": reason,
            "paused_at": (now or utcnow()) if paused else None,
        }
        with self.engine.begin() as conn:
            conn.execute(insert_ignoring_conflicts(conn, channel_state).values(channel=channel, **values))
            conn.execute(update(channel_state).where(channel_state.c.channel == channel).values(**values))

    def channel_pause(self, channel: str) -> tuple[bool, str | None]:
        """Whether a channel is paused, and why."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(channel_state.c.paused, channel_state.c.reason).where(channel_state.c.channel == channel)
            ).first()
        return (bool(row.paused), row.reason) if row else (False, None)
