"""The History page: past runs, digests sent (recipients, failures, bounces, complaints,
unsubscribes), posts, action log; and each issue's results page."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from newsletter.core.models import DeliveryKind, DeliveryStatus
from newsletter.pipeline.results import issue_results, results_of
from newsletter.store.ledger import Ledger
from newsletter.web.common import blocking, render, signed_in, web_state
from newsletter.web.paging import requested_page

SHOWN = 50
POST_STATUSES = (DeliveryStatus.SENT, DeliveryStatus.FAILED, DeliveryStatus.UNCERTAIN)


def _data(request: Request) -> dict[str, object]:
    """The page's context: a page each of the digest issues, finished posts (newest first), runs and actions."""
    state = web_state(request)
    store = state.store
    issues, posts, runs, actions = (requested_page(request, SHOWN, param)
                                    for param in ("issues", "posts", "runs", "actions"))
    ledger, post_kind = Ledger(store), str(DeliveryKind.POST)
    return {
        "runs": store.runs.last_runs(limit=runs.size, offset=runs.offset),
        "runs_pages": runs.with_total(store.runs.count_runs()),
        "issues": issue_results(state.config, store, store.issues.list_digest_issues(limit=issues.size,
                                                                                      offset=issues.offset)),
        "issues_pages": issues.with_total(store.issues.count_digest_issues()),
        "posts": ledger.list_deliveries(status=POST_STATUSES, kind=post_kind, limit=posts.size, offset=posts.offset,
                                        newest_first=True),
        "posts_pages": posts.with_total(ledger.count_deliveries(status=POST_STATUSES, kind=post_kind)),
        "actions": store.audit.list_actions(limit=actions.size, offset=actions.offset),
        "actions_pages": actions.with_total(store.audit.count_actions()),
    }


async def history(request: Request) -> Response:
    """Past runs, sends and actions."""
    signed_in(request)
    return render(request, "history.html", await blocking(_data, request))


async def issue_page(request: Request) -> Response:
    """One issue's results: delivered, failed, bounces, complaints, unsubscribes and (when counted) clicks."""
    signed_in(request)
    state = web_state(request)
    results = await blocking(results_of, state.config, state.store, request.path_params["issue_id"])
    if results is None:
        raise HTTPException(404)
    return render(request, "issue_results.html", {"r": results})


routes = [Route("/history", history, methods=["GET"]), Route("/history/issues/{issue_id}", issue_page, methods=["GET"])]
