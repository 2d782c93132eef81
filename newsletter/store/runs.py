"""Job runs: when each scheduled job started and finished, its outcome and counts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, insert, select, update

from newsletter.core.errors import StoreError
from newsletter.core.models import RunOutcome
from newsletter.store.owners import ClaimOwner, remove_dead_owners
from newsletter.store.tables import claim_owners, runs, utcnow


@dataclass
class RunRecord:
    """One stored job run."""

    id: int
    job: str
    started_at: datetime
    outcome: RunOutcome
    scheduled_for: datetime | None = None
    finished_at: datetime | None = None
    counts: dict[str, Any] = field(default_factory=dict)
    message: str | None = None


class RunQueries:
    """`store.runs`: job run history, each run recorded with its owner."""

    def __init__(self, engine: Engine, claim_owner: ClaimOwner) -> None:
        self.engine = engine
        self.claim_owner = claim_owner

    def start_run(self, job: str, scheduled_for: datetime | None = None, *, now: datetime | None = None) -> int:
        """Record that `job` started; returns the run id for `finish_run`."""
        with self.engine.begin() as conn:
            result = conn.execute(
                insert(runs)
                .values(
                    job=job,
                    scheduled_for=scheduled_for,
                    started_at=now or utcnow(),
                    outcome=str(RunOutcome.RUNNING),
                    counts={},
                    owner=self.claim_owner.id(),
                )
                .returning(runs.c.id)
            )
            return int(result.scalar_one())

    def finish_run(
        self,
        run_id: int,
        outcome: RunOutcome | str,
        counts: dict[str, Any],
        message: str | None = None,
        *,
        now: datetime | None = None,
    ) -> None:
        """Record how run `run_id` ended."""
        outcome = RunOutcome(outcome)
        with self.engine.begin() as conn:
            result = conn.execute(
                update(runs)
                .where(runs.c.id == run_id)
                .values(
                    outcome=str(outcome),
                    counts=counts,
                    message=message,
                    finished_at=now or utcnow(),
                )
            )
        if result.rowcount != 1:
            raise StoreError(f"no run with id {run_id}")

    def interrupt_running(self, message: str, *, now: datetime | None = None) -> int:
        """Close the runs still `running` whose process died as interrupted (a live process's
        runs, such as an operator's `send digest` beside the daemon, are left running)."""
        remove_dead_owners(self.engine, keep=self.claim_owner.registered)
        orphaned = runs.c.owner.is_(None) | runs.c.owner.not_in(select(claim_owners.c.id))
        with self.engine.begin() as conn:
            return conn.execute(
                update(runs)
                .where(runs.c.outcome == str(RunOutcome.RUNNING), orphaned)
                .values(outcome=str(RunOutcome.INTERRUPTED), message=message, finished_at=now or utcnow())
            ).rowcount

    def reopen_run(self, run_id: int) -> None:
        """Mark an interrupted run as running again (its work is being resumed)."""
        with self.engine.begin() as conn:
            conn.execute(
                update(runs).where(runs.c.id == run_id).values(
                    outcome=str(RunOutcome.RUNNING), finished_at=None, owner=self.claim_owner.id()
                )
            )

    def count_runs(self) -> int:
        """How many runs are recorded."""
        with self.engine.connect() as conn:
            return int(conn.scalar(select(func.count()).select_from(runs)) or 0)

    def last_runs(self, job: str | None = None, limit: int = 10, offset: int = 0) -> list[RunRecord]:
        """The latest runs, newest first (from `offset`), of one job or of all."""
        query = select(runs).order_by(runs.c.started_at.desc(), runs.c.id.desc()).limit(limit).offset(offset)
        if job is not None:
            query = query.where(runs.c.job == job)
        with self.engine.connect() as conn:
            return [
                RunRecord(
                    id=row.id,
                    job=row.job,
                    started_at=row.started_at,
                    outcome=RunOutcome(row.outcome),
                    scheduled_for=row.scheduled_for,
                    finished_at=row.finished_at,
                    counts=row.counts or {},
                    message=row.message,
                )
                for row in conn.execute(query)
            ]
