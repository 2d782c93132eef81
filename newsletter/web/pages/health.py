"""`GET /health`: the daemon's status for monitors.

200 with `{"ok": true, …}` when a runner holds the lease and no job's last run failed; 503 with
`{"ok": false, "problems": […]}` otherwise. Visitors who are not signed in (when a review token
is set) get only `ok`; reviewers and bearer-token requests get the whole `collect_status` data.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from newsletter.config import Config
from newsletter.runtime.daemon import LEASE_NAME
from newsletter.runtime.status import collect_status
from newsletter.store import Store
from newsletter.web.auth import reviewer
from newsletter.web.common import blocking, web_state


def health_data(config: Config, store: Store, now: datetime) -> dict[str, Any]:
    """`collect_status` plus `ok`, the lease holder and the problems that make it not ok."""
    status = collect_status(config, store, now)
    holder = store.lease_holder(LEASE_NAME, now)
    problems = [] if holder else ["no runner holds the lease (absent or stale): is `newsletter run` running?"]
    for job in status["jobs"]:
        last = job["last_run"]
        if last and last["outcome"] == "failed":
            problems.append(f"job {job['id']} failed at {last['started_at']}: {last['message'] or 'no message'}")
    return {"ok": not problems, "problems": problems, "runner": holder, **status}


async def health(request: Request) -> Response:
    """The health endpoint."""
    state = web_state(request)
    data = await blocking(health_data, state.config, state.store, state.clock())
    if reviewer(request, state.token) is None:
        data = {"ok": data["ok"]}
    return JSONResponse(data, status_code=200 if data["ok"] else 503)


routes = [Route("/health", health, methods=["GET"])]
