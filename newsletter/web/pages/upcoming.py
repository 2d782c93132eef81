"""The Upcoming page: the next digests in an iframe and every pending post, per channel, a page
of posts at a time for each channel (`?page_<channel>=`)."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from newsletter.web.common import blocking, render, signed_in, web_state
from newsletter.web.paging import Pagination, requested_page
from newsletter.web.upcoming import card_file, channel_previews, digest_html, live_digest

# The digest runs in a sandboxed frame: no script, nothing loaded but images.
DIGEST_CSP = "default-src 'none'; img-src * data:; style-src 'unsafe-inline'; sandbox"
POSTS_PER_PAGE = 50


def _upcoming_data(request: Request) -> dict[str, object]:
    state = web_state(request)
    now = state.clock()

    def channel_page(name: str) -> Pagination:
        return requested_page(request, POSTS_PER_PAGE, f"page_{name}", anchor=f"channel-{name}")

    back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return {
        "now": now,
        "digests": [live_digest(state.config, state.store, d, now) for d in state.config.digests],
        "channels": channel_previews(state.config, state.store, now, channel_page),
        "back": back,
    }


async def home(request: Request) -> Response:
    """The review home is the Upcoming page."""
    return RedirectResponse("/upcoming", status_code=303)


async def upcoming(request: Request) -> Response:
    """What the next scheduled runs would send."""
    signed_in(request)
    return render(request, "upcoming.html", await blocking(_upcoming_data, request))


def _digest_frame(request: Request, name: str) -> str:
    state = web_state(request)
    digest_config = state.config.find_digest(name)
    if digest_config is None:
        raise HTTPException(404)
    preview = live_digest(state.config, state.store, digest_config, state.clock())
    if preview.digest is None or preview.issue is not None:
        raise HTTPException(404)
    return digest_html(state.config, preview.digest)


async def digest_frame(request: Request) -> Response:
    """The next issue of a digest, rendered now with the preview's code and placeholder recipient."""
    signed_in(request)
    html = await blocking(_digest_frame, request, request.path_params["name"])
    return HTMLResponse(html, headers={"Content-Security-Policy": DIGEST_CSP})


async def issue_frame(request: Request) -> Response:
    """A recorded issue (e.g. awaiting approval) as a placeholder recipient would see it."""
    signed_in(request)
    state = web_state(request)
    issue = await blocking(state.store.issues.get_digest_issue, request.path_params["issue_id"])
    if issue is None:
        raise HTTPException(404)
    return HTMLResponse(digest_html(state.config, issue.digest), headers={"Content-Security-Policy": DIGEST_CSP})


async def card_image(request: Request) -> Response:
    """A post's card image (only files inside the card folders)."""
    signed_in(request)
    p = request.path_params
    path = card_file(web_state(request).config, p["kind"], p["channel"], p["name"])
    if path is None:
        raise HTTPException(404)
    return FileResponse(path, media_type="image/png")


routes = [
    Route("/", home, methods=["GET"]),
    Route("/upcoming", upcoming, methods=["GET"]),
    Route("/upcoming/digest/{name}.html", digest_frame, methods=["GET"]),
    Route("/upcoming/issue/{issue_id}.html", issue_frame, methods=["GET"]),
    Route("/cards/{kind}/{channel}/{name}", card_image, methods=["GET"]),
]
