"""The History page: past runs, digests sent (recipients, failures, bounces), posts, action log."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from newsletter.ledger import Ledger
from newsletter.models import DeliveryStatus
from newsletter.posting import list_posts
from newsletter.store import DigestIssue, Store, SubscriberStatus
from newsletter.store.tables import deliveries, subscribers
from newsletter.web.common import blocking, render, review_actor, web_state

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


def bounces(store: Store, issue_id: str) -> int:
    """Failed messages of the issue whose recipient is now marked bounced."""
    t = deliveries
    query = (
        select(func.count()).select_from(t.join(subscribers, subscribers.c.email == t.c.target))
        .where(t.c.issue_id == issue_id, t.c.status == str(DeliveryStatus.FAILED),
               subscribers.c.status == str(SubscriberStatus.BOUNCED))
    )
    with store.engine.connect() as conn:
        return int(conn.scalar(query) or 0)


def issue_summaries(store: Store) -> list[IssueSummary]:
    """The latest issues with their ledger counts."""
    ledger = Ledger(store)
    summaries = []
    for issue in store.list_digest_issues(limit=SHOWN):
        counts = ledger.counts(issue.id)
        summaries.append(IssueSummary(issue, sum(counts.values()), counts[DeliveryStatus.SENT],
                                      counts[DeliveryStatus.FAILED], bounces(store, issue.id)))
    return summaries


def _data(request: Request) -> dict[str, object]:
    store = web_state(request).store
    posts = [row for status in POST_STATUSES for row in list_posts(store, status=status, limit=SHOWN)]
    return {
        "runs": store.last_runs(limit=SHOWN),
        "issues": issue_summaries(store),
        "posts": posts,
        "actions": store.list_actions(limit=SHOWN),
    }


async def history(request: Request) -> Response:
    """Past runs, sends and actions."""
    review_actor(request)
    return render(request, "history.html", await blocking(_data, request))


routes = [Route("/history", history, methods=["GET"])]
