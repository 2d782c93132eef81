"""The public archive: web copies of sent digest issues (« Voir dans le navigateur »)."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from newsletter.compose.digest import personalise
from newsletter.pipeline.digests import SAFE_ISSUE_ID, archive_path, archive_values
from newsletter.store import DigestIssueStatus
from newsletter.web.common import blocking, render, web_state
from newsletter.web.pages.upcoming import DIGEST_CSP
from newsletter.web.paging import requested_page

PUBLIC_STATUSES = (DigestIssueStatus.SENDING, DigestIssueStatus.SENT)
ARCHIVE_PAGE = 50


async def archive_index(request: Request) -> Response:
    """The sent issues, newest first."""
    store = web_state(request).store
    pages = requested_page(request, ARCHIVE_PAGE)
    sent = [DigestIssueStatus.SENT]
    issues = await blocking(store.issues.list_digest_issues, statuses=sent, limit=pages.size, offset=pages.offset)
    total = await blocking(store.issues.count_digest_issues, statuses=sent)
    return render(request, "archive.html", {"issues": issues, "pages": pages.with_total(total)})


def _copy(request: Request, issue_id: str) -> str:
    """The web copy of a sent issue (the archived file, else rebuilt); 404 for any other id."""
    state = web_state(request)
    issue = state.store.issues.get_digest_issue(issue_id) if SAFE_ISSUE_ID.fullmatch(issue_id) else None
    if issue is None or issue.status not in PUBLIC_STATUSES:
        raise HTTPException(404)
    path = archive_path(state.config, issue_id)
    if path.is_file():
        return path.read_text(encoding="utf-8")
    return personalise(issue.digest.html, archive_values(state.config, issue_id), is_html=True)


async def archive_copy(request: Request) -> Response:
    """The public web copy of one sent issue (never one awaiting approval)."""
    issue_id = request.path_params["issue_id"]
    if issue_id == "preview":
        return render(request, "message.html", {"title_key": "archive_title", "text_key": "preview_link"})
    html = await blocking(_copy, request, issue_id)
    return HTMLResponse(html, headers={"Content-Security-Policy": DIGEST_CSP})


async def issue_link(request: Request) -> Response:
    """Older links (`/issues/<id>`) lead to the archive copy."""
    return RedirectResponse(f"/archive/{request.path_params['issue_id']}", status_code=301)


routes = [
    Route("/archive", archive_index, methods=["GET"]),
    Route("/archive/{issue_id}", archive_copy, methods=["GET"]),
    Route("/issues/{issue_id}", issue_link, methods=["GET"]),
]
