"""The Announcements page: stored announcements with their quotes and figures, by source and
date, a page at a time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from newsletter.runtime.status import skipped_documents as skipped_documents_of
from newsletter.web.common import blocking, render, signed_in, web_state
from newsletter.web.paging import Pagination, requested_page

PAGE_SIZE = 50


@dataclass(frozen=True)
class AnnouncementFilter:
    """What the visitor asked for: one source, and a range of publication dates."""

    source: str | None = None
    start: date | None = None
    end: date | None = None


def _date(value: str | None) -> date | None:
    """An ISO date from the query string, or None when absent or malformed."""
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def filter_from(request: Request) -> AnnouncementFilter:
    """The filter in the query string (bad dates are ignored)."""
    params = request.query_params
    return AnnouncementFilter(params.get("source") or None, _date(params.get("from")), _date(params.get("to")))


def _data(request: Request, chosen: AnnouncementFilter, pages: Pagination) -> dict[str, object]:
    """The page's context: one page of the filtered announcements, newest first, and the source choices."""
    store = web_state(request).store
    kept, total = store.announcements.browse_announcements(
        source=chosen.source, published_from=chosen.start, published_to=chosen.end, limit=pages.size,
        offset=pages.offset)
    sources = sorted({s.name for s in web_state(request).config.sources} | set(store.announcements.source_names()))
    skipped_documents = [d for d in skipped_documents_of(web_state(request).config, store)
                         if chosen.source in (None, d["source"])]
    return {
        "announcements": kept,
        "pages": pages.with_total(total),
        "filter": chosen,
        "sources": sources,
        "skipped": store.announcements.not_announced_ids(),
        "skipped_documents": skipped_documents,
    }


async def announcements_page(request: Request) -> Response:
    """Stored announcements, newest first, with their extracted quotes and figures."""
    signed_in(request)
    pages = requested_page(request, PAGE_SIZE)
    return render(request, "announcements.html", await blocking(_data, request, filter_from(request), pages))


routes = [Route("/announcements", announcements_page, methods=["GET"])]
