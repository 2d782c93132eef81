"""Auto-pause on errors (listmonk's `max_send_errors`): a send whose messages keep failing is
paused before it burns the sender's reputation on the rest of the list.

A run's failures and deferrals are counted as its progress is reported (by its sender threads,
or summed from its sender processes): past `smtp.max_send_errors` of them, or past
`smtp.max_error_rate` of the messages tried once `smtp.error_rate_after` were, the issue is
set PAUSED: this process's sender threads stop before their next message, sender processes
when they next look at the issue (within half a second). The run then records the pause in
the audit log and alerts the comms team; `newsletter send resume` carries on, with a fresh count.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from newsletter.config import Config, SmtpConfig
from newsletter.store import DigestIssueStatus, Store

if TYPE_CHECKING:
    from newsletter.pipeline.digest_sender import SendReport

ACTOR = "send"


@dataclass(frozen=True)
class ErrorBudget:
    """How many errors a run may have: a count (0: any), a rate once `rate_after` were tried."""

    max_errors: int = 0
    max_rate: float | None = None
    rate_after: int = 100

    @classmethod
    def of(cls, smtp: SmtpConfig) -> ErrorBudget:
        """The budget `smtp.max_send_errors`, `max_error_rate` and `error_rate_after` set."""
        return cls(smtp.max_send_errors, smtp.max_error_rate, smtp.error_rate_after)

    @property
    def limited(self) -> bool:
        """Whether any limit is set."""
        return bool(self.max_errors) or self.max_rate is not None

    def exceeded(self, sent: int, errors: int) -> str | None:
        """Why a run with these counts must pause, or None while it is within the budget."""
        if self.max_errors and errors >= self.max_errors:
            return f"{errors} message(s) failed or were deferred in this run (smtp.max_send_errors: {self.max_errors})"
        tried = sent + errors
        if self.max_rate is not None and tried >= self.rate_after and errors / tried > self.max_rate:
            return (f"{errors} of {tried} messages failed or were deferred in this run, over "
                    f"smtp.max_error_rate {self.max_rate:.0%}")
        return None


class AutoPause:
    """A run's progress callback that pauses its issue once the budget is exceeded, then hands
    the report on to the caller's own callback."""

    def __init__(self, store: Store, issue_id: str, budget: ErrorBudget,
                 progress: Callable[[SendReport], None] | None, now: datetime):
        self.store = store
        self.issue_id = issue_id
        self.budget = budget
        self.progress = progress
        self.now = now
        self.reason: str | None = None
        self.paused = threading.Event()  # set when this run paused the issue: its threads stop at once

    def __call__(self, report: SendReport) -> None:
        if self.reason is None:
            reason = self.budget.exceeded(report.sent, report.failed + report.retried)
            if reason is not None and self.store.issues.set_digest_issue_status(
                self.issue_id, DigestIssueStatus.PAUSED, expected=(DigestIssueStatus.SENDING,), now=self.now
            ):
                self.reason = reason
                self.paused.set()
        if self.progress is not None:
            self.progress(report)

    def settle(self, config: Config, report: SendReport) -> None:
        """After the run: when it paused the issue, say so in the report, the audit log and an alert."""
        if self.reason is None:
            return
        report.paused, report.auto_paused = True, self.reason
        report.note(f"paused automatically: {self.reason}")
        self.store.audit.record_action(ACTOR, "send.auto_pause", target=self.issue_id, now=self.now, detail={
            "reason": self.reason, "sent": report.sent, "failed": report.failed, "deferred": report.retried})
        from newsletter.runtime.alerts import send_paused  # the alert transport loads only when needed

        send_paused(config, self.issue_id, report.digest, self.reason, report.errors)
