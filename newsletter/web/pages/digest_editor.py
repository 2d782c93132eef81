"""The digest editor page: a digest's next issue as the one plan decides it, with its
announcements to reorder, remove or add, its subject and intro, and its preview."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from newsletter.pipeline.editor import editor_view
from newsletter.web.common import blocking, render, signed_in, web_state
from newsletter.web.paging import requested_page
from newsletter.web.upcoming import plan_preview

CANDIDATES_PER_PAGE = 10


async def editor_page(request: Request) -> Response:
    """The editor of the digest named in the path (404 for an unknown one)."""
    signed_in(request)
    state = web_state(request)
    name = request.path_params["name"]
    digest = state.config.find_digest(name)
    if digest is None:
        raise HTTPException(404)
    view = await blocking(editor_view, state.config, state.store, name, state.clock())
    preview = plan_preview(digest, view.plan)
    pages = requested_page(request, CANDIDATES_PER_PAGE).within(len(view.candidates))
    shown = view.candidates[pages.offset: pages.offset + pages.size]
    return render(request, "digest_editor.html", {
        "view": view, "preview": preview, "candidates": shown, "pages": pages,
        "back": f"/digests/{name}/edit",
    })


routes = [Route("/digests/{name}/edit", editor_page, methods=["GET"])]
