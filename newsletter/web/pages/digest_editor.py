"""The digest editor page: a digest's next issue as the one plan decides it, with its
announcements to reorder, remove or add, its subject and intro, and its preview."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from newsletter.pipeline.editor import editor_view
from newsletter.web.common import blocking, render, signed_in, web_state
from newsletter.web.upcoming import plan_preview

CANDIDATES_PER_PAGE = 10


def page_number(raw: str | None) -> int:
    """The `?page=` asked for (1 when absent or unreadable)."""
    return int(raw) if raw and raw.isdigit() and int(raw) > 0 else 1


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
    page = page_number(request.query_params.get("page"))
    pages = max(1, -(-len(view.candidates) // CANDIDATES_PER_PAGE))
    page = min(page, pages)
    shown = view.candidates[(page - 1) * CANDIDATES_PER_PAGE: page * CANDIDATES_PER_PAGE]
    return render(request, "digest_editor.html", {
        "view": view, "preview": preview, "candidates": shown, "page": page, "pages": pages,
        "back": f"/digests/{name}/edit",
    })


routes = [Route("/digests/{name}/edit", editor_page, methods=["GET"])]
