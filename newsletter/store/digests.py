"""Digest issues, frozen when a digest run starts: approval and resume act on what was rendered."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Row, exists, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from newsletter.core.errors import StoreError
from newsletter.core.models import Digest, DigestEdits, DigestIssueStatus
from newsletter.store.clicks import insert_links
from newsletter.store.tables import UTCDateTime, digest_issues, utcnow

FINISHED_STATUSES = frozenset({DigestIssueStatus.SENT, DigestIssueStatus.SKIPPED})
FIRST_ISSUE = ""


@dataclass
class DigestIssue:
    """A stored digest issue: the frozen digest and its approval/sending state."""

    digest: Digest
    status: DigestIssueStatus
    created_at: datetime
    approved_by: str | None = None
    approved_at: datetime | None = None
    finished_at: datetime | None = None
    skip_reason: str | None = None
    rendered_at: datetime | None = None

    @property
    def id(self) -> str:
        """The issue id (same as `digest.issue_id`)."""
        return self.digest.issue_id


def _issue_from_row(row: Row[Any]) -> DigestIssue:
    """Rebuild a stored digest issue."""
    digest = Digest(
        name=row.digest,
        issue_id=row.id,
        subject=row.subject,
        list_name=row.list_name,
        announcement_ids=list(row.announcement_ids),
        html=row.html,
        text=row.text,
        preheader=row.preheader,
        scheduled_for=row.scheduled_for,
        edits=DigestEdits.from_json(row.edits),
    )
    return DigestIssue(
        digest=digest,
        status=DigestIssueStatus(row.status),
        created_at=row.created_at,
        approved_by=row.approved_by,
        approved_at=row.approved_at,
        finished_at=row.finished_at,
        skip_reason=row.skip_reason,
        rendered_at=row.rendered_at,
    )


def _issue_conditions(digest: str | None, statuses: Iterable[DigestIssueStatus | str] | None) -> list[Any]:
    """The WHERE clauses selecting the issues of one digest and in some statuses."""
    t = digest_issues
    conditions: list[Any] = [t.c.digest == digest] if digest is not None else []
    if statuses is not None:
        conditions.append(t.c.status.in_([str(DigestIssueStatus(s)) for s in statuses]))
    return conditions


class DigestIssueQueries:
    """`store.issues`: digest issues and their chain per digest."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create_digest_issue(
        self,
        digest: Digest,
        *,
        status: DigestIssueStatus | str = DigestIssueStatus.AWAITING_APPROVAL,
        follows: str,
        now: datetime | None = None,
    ) -> DigestIssue:
        """Freeze `digest` (ids, subject, compiled HTML and text) as a new issue, the one after
        issue `follows` (`digest_chain_tip` when its plan was made): the database refuses a
        second issue after the same one, so two racing freezes record one issue."""
        status = DigestIssueStatus(status)
        now = now or utcnow()
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    insert(digest_issues).values(
                        id=digest.issue_id,
                        digest=digest.name,
                        list_name=digest.list_name,
                        created_at=now,
                        scheduled_for=digest.scheduled_for,
                        subject=digest.subject,
                        preheader=digest.preheader,
                        announcement_ids=list(digest.announcement_ids),
                        html=digest.html,
                        text=digest.text,
                        status=str(status),
                        follows=follows,
                        edits=digest.edits.to_json() or None,
                    )
                )
                insert_links(conn, digest.issue_id, digest.tracked_links, now)
        except IntegrityError:
            raise StoreError(f"digest issue {digest.issue_id} already exists") from None
        return DigestIssue(digest=digest, status=status, created_at=now)

    def digest_chain_tip(self, digest: str) -> str:
        """The id of the digest's latest issue (the one no issue follows yet), or FIRST_ISSUE."""
        t, successor = digest_issues, digest_issues.alias("successor")
        followed = exists().where(successor.c.digest == t.c.digest, successor.c.follows == t.c.id)
        query = select(t.c.id).where(t.c.digest == digest, ~followed).order_by(t.c.created_at.desc()).limit(1)
        with self.engine.connect() as conn:
            return conn.scalar(query) or FIRST_ISSUE

    def successor(self, digest: str, issue_id: str) -> DigestIssue | None:
        """The issue recorded after this one in the digest's chain (the one that `follows` it), if any."""
        t = digest_issues
        with self.engine.connect() as conn:
            row = conn.execute(select(t).where(t.c.digest == digest, t.c.follows == issue_id)).first()
        return _issue_from_row(row) if row else None

    def get_digest_issue(self, issue_id: str) -> DigestIssue | None:
        """The stored issue with this id, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(select(digest_issues).where(digest_issues.c.id == issue_id)).first()
        return _issue_from_row(row) if row else None

    def list_digest_issues(
        self,
        *,
        digest: str | None = None,
        statuses: Iterable[DigestIssueStatus | str] | None = None,
        limit: int = 20,
        offset: int = 0,
    ) -> list[DigestIssue]:
        """The latest issues, newest first (from `offset`), optionally of one digest and in some statuses."""
        t = digest_issues
        query = (select(t).where(*_issue_conditions(digest, statuses))
                 .order_by(t.c.created_at.desc(), t.c.id.desc()).limit(limit).offset(offset))
        with self.engine.connect() as conn:
            return [_issue_from_row(row) for row in conn.execute(query)]

    def issues_between(self, start: datetime, end: datetime, limit: int = 200) -> list[DigestIssue]:
        """Issues finished (sent, skipped) or scheduled in [start, end), by that time."""
        t = digest_issues
        at = func.coalesce(t.c.finished_at, t.c.scheduled_for, t.c.created_at, type_=UTCDateTime)
        query = select(t).where(at >= start, at < end).order_by(at, t.c.id).limit(limit)
        with self.engine.connect() as conn:
            return [_issue_from_row(row) for row in conn.execute(query)]

    def reopen_skipped_issue(self, issue_id: str, status: DigestIssueStatus, *, actor: str, now: datetime) -> bool:
        """Put a skipped issue back as `status` (awaiting approval, or approved by `actor`) if no
        issue follows it yet (atomic); False otherwise."""
        t, successor = digest_issues, digest_issues.alias("successor")
        followed = exists().where(successor.c.digest == t.c.digest, successor.c.follows == t.c.id)
        approved = status is DigestIssueStatus.APPROVED
        query = (
            update(t)
            .where(t.c.id == issue_id, t.c.status == str(DigestIssueStatus.SKIPPED), ~followed)
            .values(status=str(status), finished_at=None, skip_reason=None,
                    approved_by=actor if approved else None, approved_at=now if approved else None)
        )
        with self.engine.begin() as conn:
            return conn.execute(query).rowcount == 1

    def count_digest_issues(self, *, digest: str | None = None,
                            statuses: Iterable[DigestIssueStatus | str] | None = None) -> int:
        """How many issues `list_digest_issues` could list in all."""
        query = select(func.count()).select_from(digest_issues).where(*_issue_conditions(digest, statuses))
        with self.engine.connect() as conn:
            return int(conn.scalar(query) or 0)

    def set_digest_issue_status(
        self,
        issue_id: str,
        status: DigestIssueStatus | str,
        *,
        expected: Iterable[DigestIssueStatus | str] | None = None,
        actor: str | None = None,
        reason: str | None = None,
        now: datetime | None = None,
    ) -> bool:
        """Move an issue to `status` (only from one of `expected`, if given; atomic).

        `approved` records `actor` and the time; `sent`/`skipped` the finish time and
        (skipped) `reason`. Returns False when the issue was not in an expected status.
        """
        status = DigestIssueStatus(status)
        now = now or utcnow()
        values: dict[str, Any] = {"status": str(status)}
        if status is DigestIssueStatus.APPROVED:
            values |= {"approved_by": actor, "approved_at": now}
        if status in FINISHED_STATUSES:
            values["finished_at"] = now
        if status is DigestIssueStatus.SKIPPED:
            values["skip_reason"] = reason
        t = digest_issues
        query = update(t).where(t.c.id == issue_id).values(**values)
        if expected is not None:
            query = query.where(t.c.status.in_([str(DigestIssueStatus(s)) for s in expected]))
        with self.engine.begin() as conn:
            result = conn.execute(query)
        if result.rowcount == 0 and self.get_digest_issue(issue_id) is None:
            raise StoreError(f"no digest issue {issue_id}")
        return result.rowcount == 1

    def rerender_digest_issue(
        self,
        digest: Digest,
        *,
        expected: Iterable[DigestIssueStatus | str],
        needs_approval: bool = False,
        now: datetime | None = None,
    ) -> bool:
        """Replace issue `digest.issue_id`'s announcements, subject and parts (same id) if it is
        in one of the `expected` statuses (checked in the same statement); False otherwise.
        `needs_approval` sends it back to awaiting approval, forgetting who approved what it was."""
        t = digest_issues
        values: dict[str, Any] = {
            "subject": digest.subject,
            "preheader": digest.preheader,
            "announcement_ids": list(digest.announcement_ids),
            "html": digest.html,
            "text": digest.text,
            "edits": digest.edits.to_json() or None,
            "rendered_at": now or utcnow(),
        }
        if needs_approval:
            values |= {"status": str(DigestIssueStatus.AWAITING_APPROVAL), "approved_by": None, "approved_at": None}
        query = (
            update(t)
            .where(t.c.id == digest.issue_id, t.c.status.in_([str(DigestIssueStatus(s)) for s in expected]))
            .values(**values)
        )
        with self.engine.begin() as conn:
            done = conn.execute(query).rowcount == 1
            if done:
                insert_links(conn, digest.issue_id, digest.tracked_links, values["rendered_at"])
            return done
