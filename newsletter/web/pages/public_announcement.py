"""The public page of one announcement (`/announcements/<id>`), linked from digests and posts
when the announcement has no URL of its own; readable without signing in."""

from __future__ import annotations

import re

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from newsletter.core.models import Announcement
from newsletter.web.common import blocking, render, web_state

PARAGRAPH_BREAK = re.compile(r"\n\s*\n")


def paragraphs(body: str) -> list[str]:
    """The body's paragraphs (split on blank lines), each on one line."""
    return [" ".join(part.split()) for part in PARAGRAPH_BREAK.split(body) if part.strip()]


def _announcement(request: Request, announcement_id: str) -> Announcement:
    """The announcement if it is public now (active, past its embargo); 404 otherwise."""
    state = web_state(request)
    found = state.store.announcements.get_public_announcement(announcement_id, now=state.clock())
    if found is None:
        raise HTTPException(404)
    return found


async def announcement_page(request: Request) -> Response:
    """Title, date, lede, body, quotes and figures of one announcement, all escaped."""
    announcement = await blocking(_announcement, request, request.path_params["announcement_id"])
    context = {"announcement": announcement, "paragraphs": paragraphs(announcement.body)}
    return render(request, "announcement.html", context)


routes = [Route("/announcements/{announcement_id}", announcement_page, methods=["GET"])]
