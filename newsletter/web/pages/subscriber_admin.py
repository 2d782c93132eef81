"""The Subscribers pages (admin only: they show personal data): search and filter, one person's
history, add to or remove from a list, CSV import with its progress and report, CSV export, and
forget (after a confirmation step). Every action goes through `pipeline/subscribers.py`, the
same use-cases as `newsletter subscribers …`."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path, PurePath

from starlette.background import BackgroundTask
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from newsletter.core.i18n import translator
from newsletter.core.models import SubscriberStatus
from newsletter.core.roles import Role
from newsletter.pipeline import subscribers as subs
from newsletter.web.common import blocking, flash, locale, posted_form, redirect, render, signed_in, web_state
from newsletter.web.csrf import check_csrf
from newsletter.web.imports import run_import
from newsletter.web.paging import requested_page

PAGE_SIZE = 50
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
UPLOAD_CHUNK = 1 << 20
ALL_LISTS = ""


def _field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _refusal(t: Callable[..., str], error: subs.SubscriberError, address: str) -> str:
    """Why an address was not added or removed, in the interface language."""
    if isinstance(error, subs.InvalidAddress):
        return t("subscriber_invalid", email=address)
    if isinstance(error, subs.SuppressedAddress):
        return t("subscriber_suppressed", email=address)
    return t("subscriber_unknown", email=address)


def _status(value: str | None) -> SubscriberStatus | None:
    try:
        return SubscriberStatus(value) if value else None
    except ValueError:
        return None


async def subscribers_page(request: Request) -> Response:
    """Subscribers whose address or name contains the search, of one list and status, a page at a time."""
    signed_in(request, Role.ADMIN)
    state = web_state(request)
    params = request.query_params
    text, list_name, status = params.get("q", ""), params.get("list") or None, _status(params.get("status"))
    pages = requested_page(request, PAGE_SIZE)
    found = await blocking(state.store.subscribers.search_subscribers, text, list_name, status,
                           limit=pages.size, offset=pages.offset)
    names = await blocking(state.store.subscribers.list_names)
    lists = list(dict.fromkeys([*state.config.offered_lists(), *names]))
    return render(request, "subscribers.html", {
        "found": found.subscribers, "pages": pages.with_total(found.total), "total": found.total,
        "query": text, "list_name": list_name or ALL_LISTS, "status": str(status or ""), "lists": lists,
        "statuses": [str(s) for s in SubscriberStatus],
    })


async def subscriber_page(request: Request) -> Response:
    """One subscriber and their history: issues sent or failed, bounces, complaints, lists joined and left."""
    signed_in(request, Role.ADMIN)
    state = web_state(request)
    try:
        history = await blocking(subs.subscriber_history, state.store, request.path_params["subscriber_id"])
    except subs.SubscriberError:
        raise HTTPException(404) from None
    return render(request, "subscriber.html", {"history": history, "person": history.subscriber})


async def add_subscriber(request: Request) -> Response:
    """Add an address to a list (an address that left the list or was forgotten is not put back)."""
    actor = signed_in(request, Role.ADMIN).name
    form = await posted_form(request)
    state = web_state(request)
    t = translator(locale(request))
    address, list_name = _field(form, "email"), _field(form, "list")
    if not list_name:
        return render(request, "error.html", {"error": t("choose_list"), "back": "/subscribers"}, status_code=400)
    try:
        found = await blocking(subs.add, state.store, address, now=state.clock(), name=_field(form, "name") or None,
                               lists=[list_name], consent_source=f"web:{actor}", actor=actor)
    except subs.SubscriberError as error:
        return render(request, "error.html", {"error": _refusal(t, error, address), "back": "/subscribers"},
                      status_code=400)
    joined = list_name in found.lists
    flash(request, t("subscriber_added" if joined else "subscriber_not_joined", email=found.email,
                     list=state.config.list_title(list_name)))
    return redirect(f"/subscribers/{found.id}")


async def remove_subscriber(request: Request) -> Response:
    """Take an address off one list (an opt-out is recorded) or, with no list, off everything."""
    actor = signed_in(request, Role.ADMIN).name
    form = await posted_form(request)
    state = web_state(request)
    t = translator(locale(request))
    list_name, address = _field(form, "list") or None, _field(form, "email")
    try:
        found = await blocking(subs.remove, state.store, address, now=state.clock(), list_name=list_name, actor=actor)
    except subs.SubscriberError as error:
        return render(request, "error.html", {"error": _refusal(t, error, address), "back": "/subscribers"},
                      status_code=400)
    key = "subscriber_removed_from" if list_name else "subscriber_removed"
    flash(request, t(key, email=found.email, list=state.config.list_title(list_name) if list_name else ""))
    return redirect(f"/subscribers/{found.id}")


async def import_subscribers(request: Request) -> Response:
    """Take the uploaded CSV and import it after answering; the answer leads to its progress page."""
    actor = signed_in(request, Role.ADMIN).name
    form = await request.form(max_files=1, max_fields=10)
    check_csrf(request, form)
    upload = form.get("file")
    t = translator(locale(request))
    if not isinstance(upload, UploadFile) or not upload.filename:
        return render(request, "error.html", {"error": t("import_no_file"), "back": "/subscribers"}, status_code=400)
    path = await _saved_upload(upload)
    if path is None:
        return render(request, "error.html", {"error": t("import_too_large", megabytes=MAX_UPLOAD_BYTES >> 20),
                                              "back": "/subscribers"}, status_code=413)
    state = web_state(request)
    file_name = PurePath(upload.filename.replace("\\", "/")).name[:100]
    progress = await blocking(state.imports.start, file_name, path, actor)
    response = redirect(f"/subscribers/import/{progress.id}")
    response.background = BackgroundTask(run_import, state.store, progress, path, now=state.clock(),
                                         list_name=_field(form, "list") or None)
    return response


async def _saved_upload(upload: UploadFile) -> Path | None:
    """The upload copied to a temporary file; None (and nothing kept) when it is over the size limit."""
    with tempfile.NamedTemporaryFile(prefix="newsletter-import-", suffix=".csv", delete=False) as handle:
        path, size = Path(handle.name), 0
        while chunk := await upload.read(UPLOAD_CHUNK):
            size += len(chunk)
            if size > MAX_UPLOAD_BYTES:
                break
            handle.write(chunk)
    if size > MAX_UPLOAD_BYTES:
        path.unlink(missing_ok=True)
        return None
    return path


async def import_page(request: Request) -> Response:
    """An import's progress (the page refreshes itself until it is done), then its report."""
    signed_in(request, Role.ADMIN)
    progress = web_state(request).imports.get(request.path_params["import_id"])
    if progress is None:
        raise HTTPException(404)
    seen = replace(progress)  # one reading of an import that runs on: the page shows a single state
    return render(request, "subscriber_import.html", {"progress": seen, "report": seen.report})


async def export_subscribers(request: Request) -> Response:
    """Every subscriber (of one list when asked) as a CSV download."""
    actor = signed_in(request, Role.ADMIN).name
    state = web_state(request)
    list_name = request.query_params.get("list") or None
    text = await blocking(subs.export, state.store, "csv", list_name=list_name, actor=actor)
    name = f"subscribers-{list_name}.csv" if list_name else "subscribers.csv"
    return Response(text, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})


async def forget_page(request: Request) -> Response:
    """Ask for confirmation before erasing a subscriber."""
    signed_in(request, Role.ADMIN)
    found = await blocking(web_state(request).store.subscribers.get_subscriber_by_id,
                           request.path_params["subscriber_id"])
    if found is None:
        raise HTTPException(404)
    return render(request, "subscriber_forget.html", {"person": found})


async def forget_subscriber(request: Request) -> Response:
    """Erase a subscriber for good, keeping only a hashed suppression entry; needs the confirmation box."""
    actor = signed_in(request, Role.ADMIN).name
    form = await posted_form(request)
    state = web_state(request)
    t = translator(locale(request))
    address = _field(form, "email")
    if _field(form, "confirm") != "yes" or not address:
        return render(request, "error.html", {"error": t("forget_unconfirmed"), "back": "/subscribers"},
                      status_code=400)
    await blocking(subs.forget, state.store, address, now=state.clock(), actor=actor)
    flash(request, t("subscriber_forgotten"))
    return redirect("/subscribers")


routes = [
    Route("/subscribers", subscribers_page, methods=["GET"]),
    Route("/subscribers/export.csv", export_subscribers, methods=["GET"]),
    Route("/subscribers/import", import_subscribers, methods=["POST"]),
    Route("/subscribers/import/{import_id}", import_page, methods=["GET"]),
    Route("/subscribers/add", add_subscriber, methods=["POST"]),
    Route("/subscribers/remove", remove_subscriber, methods=["POST"]),
    Route("/subscribers/forget", forget_subscriber, methods=["POST"]),
    Route("/subscribers/{subscriber_id:int}", subscriber_page, methods=["GET"]),
    Route("/subscribers/{subscriber_id:int}/forget", forget_page, methods=["GET"]),
]
