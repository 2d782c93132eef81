"""What became of each digest issue: messages delivered and failed, bounces (refused while
sending, or reported later), spam complaints, people who left the issue's lists after it went
out, and — only when `tracking.clicks` is on — clicks on its links, counted through first-party
redirect links (`pipeline/clicks.py`).

The unsubscribe link names the subscriber and the list, not the issue, so an unsubscribe is
attributed to the issue that was the latest one sent to the list when it happened: it counts
from this issue's first accepted message until the next issue's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from newsletter.config import Config
from newsletter.core.keys import list_names
from newsletter.core.models import BounceKind, DeliveryStatus
from newsletter.store import DigestIssue, Store
from newsletter.store.clicks import LinkClicks
from newsletter.store.ledger import Ledger

MAX_SKIPPED_IN_A_ROW = 10


@dataclass(frozen=True)
class IssueResults:
    """One digest issue and what became of its messages: `bounced_at_send` counts the recipients
    refused while sending (now marked bounced), `bounced_later` the bounce reports (hard or soft)
    received about its messages since; `clicks` is None when click counting is off."""

    issue: DigestIssue
    recipients: int
    delivered: int
    failed: int
    waiting: int
    bounced_at_send: int
    bounced_later: int
    complaints: int
    unsubscribes: int
    sent_at: datetime | None
    clicks: list[LinkClicks] | None = None

    @property
    def bounces(self) -> int:
        """Recipients refused while sending, and bounce reports received since."""
        return self.bounced_at_send + self.bounced_later

    @property
    def total_clicks(self) -> int:
        """Every click on the issue's links."""
        return sum(link.clicks for link in self.clicks or [])


def issue_results(config: Config, store: Store, issues: list[DigestIssue]) -> list[IssueResults]:
    """The results of these issues (newest first, as listed), their bounce reports read at once."""
    ledger = Ledger(store)
    reports = store.bounces.counts_by_issue(issue.id for issue in issues)
    starts = {issue.id: ledger.first_sent_at(issue.id) for issue in issues}
    results = []
    for issue in issues:
        counts, reported = ledger.counts(issue.id), reports[issue.id]
        start = starts[issue.id]
        unsubscribes = 0 if start is None else store.subscribers.opt_outs_between(
            list_names(issue.digest.list_name), start, _next_start(store, ledger, issue, start, starts))
        clicks = store.clicks.clicks_of(issue.id) if config.tracking.clicks else None
        results.append(IssueResults(
            issue, sum(counts.values()), counts[DeliveryStatus.SENT], counts[DeliveryStatus.FAILED],
            counts[DeliveryStatus.PENDING] + counts[DeliveryStatus.CLAIMED],
            ledger.bounced_failures(issue.id), reported[BounceKind.HARD] + reported[BounceKind.SOFT],
            reported[BounceKind.COMPLAINT], unsubscribes, start, clicks))
    return results


def results_of(config: Config, store: Store, issue_id: str) -> IssueResults | None:
    """One issue's results, or None when there is no such issue."""
    issue = store.issues.get_digest_issue(issue_id)
    return issue_results(config, store, [issue])[0] if issue is not None else None


def _next_start(store: Store, ledger: Ledger, issue: DigestIssue, start: datetime,
                known: dict[str, datetime | None]) -> datetime | None:
    """When the next issue of the same digest that went out started going out (skipped ones are
    passed over), if one did; `known` holds the starts already read, by issue id."""
    following = store.issues.successor(issue.digest.name, issue.id)
    for _ in range(MAX_SKIPPED_IN_A_ROW):
        if following is None:
            return None
        moment = known[following.id] if following.id in known else ledger.first_sent_at(following.id)
        if moment is not None and moment > start:
            return moment
        following = store.issues.successor(issue.digest.name, following.id)
    return None
