"""`GET /health`: the daemon's status for monitors.

200 with `{"ok": true, …}` when a runner holds the lease and no job's last run failed; 503 with
`{"ok": false, "problems": […]}` otherwise. Visitors who are not signed in get only `ok`;
signed-in users and API-token requests get the whole `collect_status` data.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from newsletter.runtime.status import collect_health
from newsletter.web.auth import current_reviewer
from newsletter.web.common import blocking, web_state


async def health(request: Request) -> Response:
    """The health endpoint."""
    state = web_state(request)
    data = await blocking(collect_health, state.config, state.store, state.clock())
    if current_reviewer(request, state.config, state.store) is None:
        data = {"ok": data["ok"]}
    return JSONResponse(data, status_code=200 if data["ok"] else 503)


routes = [Route("/health", health, methods=["GET"])]
