"""`newsletter worker`: senders on other hosts, sharing one PostgreSQL database with the scheduler.

The scheduler (`newsletter run`, one leader by the runner lease) plans, freezes and starts each
issue; a worker only helps send the issues already in `sending` state. It runs the same
`send_digest` as the scheduler's job: it ensures the issue's rows exist (idempotent inserts, so
an issue is only ever finished by a sender that saw every recipient's row), claims batches with
`FOR UPDATE SKIP LOCKED` under its own claim owner and heartbeat, and settles the claims of dead
owners while it waits, so a killed worker's rows are finished by the others or by a restart.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from newsletter.config import Config
from newsletter.pipeline.digest_sender import SendError, SendReport
from newsletter.pipeline.sending import send_digest
from newsletter.store import DigestIssueStatus, Store, utcnow

log = logging.getLogger(__name__)

POLL_SECONDS = 5.0
ISSUES_PER_ROUND = 20


@dataclass
class WorkerSummary:
    """What a worker did before it stopped: one report per send it took part in."""

    reports: list[SendReport] = field(default_factory=list)

    @property
    def sent(self) -> int:
        """Messages this worker sent."""
        return sum(report.sent for report in self.reports)


def sending_issues(store: Store) -> list[str]:
    """Ids of the issues a worker may help send (in `sending` state), oldest first."""
    issues = store.issues.list_digest_issues(statuses=[DigestIssueStatus.SENDING], limit=ISSUES_PER_ROUND)
    return [issue.id for issue in reversed(issues)]


def run_worker(
    config: Config,
    store: Store,
    stop: threading.Event,
    *,
    until_idle: bool = False,
    poll: float = POLL_SECONDS,
    on_report: Callable[[SendReport], None] | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> WorkerSummary:
    """Help send every issue in `sending` state until `stop` is set (or, with `until_idle`,
    until none is left); `on_report` sees each send's report."""
    summary = WorkerSummary()
    while not stop.is_set():
        issues = sending_issues(store)
        for issue_id in issues:
            if stop.is_set():
                break
            report = _help_send(config, store, issue_id, clock(), stop)
            if report is not None:
                summary.reports.append(report)
                if on_report is not None:
                    on_report(report)
        if until_idle and not issues:
            break
        stop.wait(poll if not issues else 0.1)
    return summary


def _help_send(config: Config, store: Store, issue_id: str, now: datetime, stop: threading.Event) -> SendReport | None:
    """One `send_digest` of an issue; None when it stopped being sendable meanwhile (paused, sent)."""
    issue = store.issues.get_digest_issue(issue_id)
    if issue is None or issue.status is not DigestIssueStatus.SENDING:
        return None
    try:
        return send_digest(config, store, issue, now=now, stop=stop, web_copy=False)
    except SendError as error:
        log.warning("worker skipped %s: %s", issue_id, error)
        return None
