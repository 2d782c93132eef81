"""First-party redirects of tracked digest links (`tracking.clicks`): `/r/<token>` counts one
click and leads to the URL recorded for that token when its issue was recorded; any other token
is a 404, so the route never sends anyone to an address of their choosing."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from newsletter.web.common import blocking, web_state

MAX_TOKEN = 32


async def follow_link(request: Request) -> Response:
    """Count the click and redirect to the recorded link."""
    token = request.path_params["token"]
    if len(token) > MAX_TOKEN:
        raise HTTPException(404)
    state = web_state(request)
    target = await blocking(state.store.clicks.follow, token, state.clock())
    if target is None:
        raise HTTPException(404)
    return RedirectResponse(target, status_code=302, headers={"Cache-Control": "no-store",
                                                               "Referrer-Policy": "no-referrer"})


routes = [Route("/r/{token}", follow_link, methods=["GET"])]
