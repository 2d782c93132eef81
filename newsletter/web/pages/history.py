"""The History page: past runs, digests sent (recipients, failures, bounces), posts, action log."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from newsletter.core.models import DeliveryStatus
from newsletter.pipeline.posting import list_posts
from newsletter.store import DigestIssue, Store
from newsletter.store.ledger import Ledger
from newsletter.web.common import blocking, render, signed_in, web_state

SHOWN = 50
POST_STATUSES = (DeliveryStatus.SENT, DeliveryStatus.FAILED, DeliveryStatus.UNCERTAIN)


@dataclass
class IssueSummary:
    """One digest issue and what became of its messages."""

    issue: DigestIssue
    recipients: int
    sent: int
    failed: int
    bounces: int


def issue_summaries(store: Store) -> list[IssueSummary]:
    """The latest issues with their ledger counts."""
    ledger = Ledger(store)
    summaries = []
    for issue in store.issues.list_digest_issues(limit=SHOWN):
        counts = ledger.counts(issue.id)
        summaries.append(IssueSummary(issue, sum(counts.values()), counts[DeliveryStatus.SENT],
                                      counts[DeliveryStatus.FAILED], ledger.bounced_failures(issue.id)))
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
