"""The History page: past runs, digests sent (recipients, failures, bounces, complaints), posts,
action log."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from newsletter.core.models import BounceKind, DeliveryStatus
from newsletter.pipeline.posting import list_posts
from newsletter.store import DigestIssue, Store
from newsletter.store.ledger import Ledger
from newsletter.web.common import blocking, render, signed_in, web_state

SHOWN = 50
POST_STATUSES = (DeliveryStatus.SENT, DeliveryStatus.FAILED, DeliveryStatus.UNCERTAIN)


@dataclass
class IssueSummary:
    """One digest issue and what became of its messages: `bounces` counts the recipients refused
    while sending and the bounce reports (hard or soft) received since, `complaints` the spam
    reports."""

    issue: DigestIssue
    recipients: int
    sent: int
    failed: int
    bounces: int
    complaints: int


def issue_summaries(store: Store) -> list[IssueSummary]:
    """The latest issues with their ledger counts and the bounce reports about them."""
    ledger = Ledger(store)
    issues = store.issues.list_digest_issues(limit=SHOWN)
    reports = store.bounces.counts_by_issue(issue.id for issue in issues)
    summaries = []
    for issue in issues:
        counts, reported = ledger.counts(issue.id), reports[issue.id]
        bounces = ledger.bounced_failures(issue.id) + reported[BounceKind.HARD] + reported[BounceKind.SOFT]
        summaries.append(IssueSummary(issue, sum(counts.values()), counts[DeliveryStatus.SENT],
                                      counts[DeliveryStatus.FAILED], bounces, reported[BounceKind.COMPLAINT]))
    return summaries


def _data(request: Request) -> dict[str, object]:
    """The page's context: latest runs, digest issues, finished posts and actions."""
    store = web_state(request).store
    posts = [row for status in POST_STATUSES for row in list_posts(store, status=status, limit=SHOWN)]
    return {
        "runs": store.runs.last_runs(limit=SHOWN),
        "issues": issue_summaries(store),
        "posts": posts,
        "actions": store.audit.list_actions(limit=SHOWN),
    }


async def history(request: Request) -> Response:
    """Past runs, sends and actions."""
    signed_in(request)
    return render(request, "history.html", await blocking(_data, request))


routes = [Route("/history", history, methods=["GET"])]
