"""The review actions posted from the pages: approve, edit, pick the key, skip and undo, move a
post, edit a digest, send a test."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.background import BackgroundTask
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from newsletter.core.errors import NewsletterError
from newsletter.core.i18n import translator
from newsletter.core.roles import Role
from newsletter.pipeline import actions, editor
from newsletter.pipeline.actions import ActionError, ActionResult
from newsletter.pipeline.editor import DigestEdit, EditOp
from newsletter.web.action_messages import action_message, failure_message, refusal_message
from newsletter.web.common import (
    blocking,
    flash,
    local_path,
    locale,
    posted_form,
    redirect,
    render,
    signed_in,
    web_state,
)
from newsletter.web.upcoming import live_digest


def _field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


async def _act(request: Request, run: Callable[[FormData, str], ActionResult], required: Role) -> Response:
    """Check the user's role and CSRF, run the action off the loop, then go back with a message (or
    400); a digest issue the action made due is sent in the background after the answer."""
    actor = signed_in(request, required).name
    form = await posted_form(request)
    back = local_path(_field(form, "next"))
    state = web_state(request)
    try:
        result = await blocking(run, form, actor)
    except ActionError as error:
        text = await blocking(refusal_message, translator(locale(request)), state.store, error)
        return render(request, "error.html", {"error": text, "back": back}, status_code=400)
    except NewsletterError as error:
        text = failure_message(translator(locale(request)), error)
        return render(request, "error.html", {"error": text, "detail": str(error), "back": back}, status_code=400)
    flash(request, await blocking(action_message, translator(locale(request)), state.store, result,
                                  lang=locale(request), tz=state.config.tz))
    response = redirect(back)
    if result.detail.get("send_now"):
        response.background = BackgroundTask(
            actions.send_now, state.config, state.store, result.target, actor, state.clock())
    return response


def _state(request: Request) -> Any:
    return web_state(request)


async def approve(request: Request) -> Response:
    """Approve a post or a digest issue."""
    state = _state(request)
    return await _act(request, lambda form, actor: actions.approve(
        state.config, state.store, _field(form, "target"), actor, state.clock()), Role.APPROVER)


async def send_now(request: Request) -> Response:
    """Send a digest issue at once (approving it first when it waits), in the background."""
    state = _state(request)

    def run(form: FormData, actor: str) -> ActionResult:
        target = actions.issue_to_send_now(state.config, state.store, _field(form, "target"), actor, state.clock())
        return ActionResult("digest.send_now", target, f"digest issue {target}: sending now", {"send_now": True})

    return await _act(request, run, Role.APPROVER)


async def post_now(request: Request) -> Response:
    """Publish a post at once (approving it first when it waits), whatever its slot."""
    state = _state(request)
    return await _act(request, lambda form, actor: actions.post_now(
        state.config, state.store, _field(form, "target"), actor, state.clock()), Role.APPROVER)


async def settle(request: Request) -> Response:
    """Settle an uncertain post: it went out (`sent=yes`), or it may be posted again."""
    state = _state(request)
    return await _act(request, lambda form, actor: actions.settle(
        state.store, _field(form, "target"), _field(form, "sent") == "yes", actor, state.clock()), Role.APPROVER)


async def retract(request: Request) -> Response:
    """Delete every accepted part of a post from its service."""
    state = _state(request)
    return await _act(request, lambda form, actor: actions.retract(
        state.config, state.store, _field(form, "target"), actor), Role.APPROVER)


async def edit(request: Request) -> Response:
    """Save a post's new text (re-validated against the platform's length)."""
    state = _state(request)
    return await _act(request, lambda form, actor: actions.edit_post(
        state.config, state.store, _field(form, "target"), _field(form, "text"), actor, state.clock()), Role.EDITOR)


async def pick_key(request: Request) -> Response:
    """Make another quote or figure the announcement's key one."""
    state = _state(request)

    def run(form: FormData, actor: str) -> ActionResult:
        try:
            index = int(_field(form, "index"))
        except ValueError:
            raise ActionError("pick a quote or a figure by its number", reason="bad_key_number") from None
        return actions.pick_key(state.config, state.store, _field(form, "target"), _field(form, "kind"), index,
                                actor, state.clock())

    return await _act(request, run, Role.EDITOR)


async def skip(request: Request) -> Response:
    """Skip an announcement, a queued post or a digest issue."""
    state = _state(request)
    return await _act(request, lambda form, actor: actions.skip(
        state.config, state.store, _field(form, "target"), actor, state.clock(), _field(form, "reason")), Role.APPROVER)


async def move(request: Request) -> Response:
    """Move a queued post to another of its channel's next slots."""
    state = _state(request)
    return await _act(request, lambda form, actor: actions.move_post(
        state.config, state.store, _field(form, "target"), _field(form, "slot"), actor, state.clock()), Role.APPROVER)


async def undo_skip(request: Request) -> Response:
    """Bring back a post or a digest issue a person skipped."""
    state = _state(request)
    return await _act(request, lambda form, actor: actions.undo_skip(
        state.config, state.store, _field(form, "target"), actor, state.clock()), Role.APPROVER)


async def edit_digest(request: Request) -> Response:
    """One change to a digest's next issue: move, remove or add an announcement, subject or intro."""
    state = _state(request)

    def run(form: FormData, actor: str) -> ActionResult:
        try:
            operation = EditOp(_field(form, "op"))
        except ValueError:
            expected = ", ".join(EditOp)
            raise ActionError(f"op={_field(form, 'op')!r}: expected one of {expected}", reason="unknown_op",
                              op=_field(form, "op"), expected=expected) from None
        change = DigestEdit(operation, _field(form, "target"), _field(form, "text"))
        return editor.edit_digest(state.config, state.store, _field(form, "digest"), change, actor, state.clock())

    return await _act(request, run, Role.EDITOR)


async def test_send(request: Request) -> Response:
    """Send one copy of a digest's next issue (recorded or rendered now) to one address."""
    state = _state(request)

    def run(form: FormData, actor: str) -> ActionResult:
        now = state.clock()
        name = _field(form, "digest")
        digest_config = actions.digest_named(state.config, name)
        preview = live_digest(state.config, state.store, digest_config, now)
        if preview.digest is None:
            raise ActionError(f"digest {name} has nothing to send now ({preview.skip_reason})",
                              reason="nothing_to_send", digest=name)
        issue = preview.issue or preview.digest
        return actions.send_test(state.config, state.store, issue, _field(form, "address"), actor, now)

    return await _act(request, run, Role.APPROVER)


routes = [
    Route("/actions/approve", approve, methods=["POST"]),
    Route("/actions/send-now", send_now, methods=["POST"]),
    Route("/actions/post-now", post_now, methods=["POST"]),
    Route("/actions/settle", settle, methods=["POST"]),
    Route("/actions/retract", retract, methods=["POST"]),
    Route("/actions/edit", edit, methods=["POST"]),
    Route("/actions/pick-key", pick_key, methods=["POST"]),
    Route("/actions/skip", skip, methods=["POST"]),
    Route("/actions/test-send", test_send, methods=["POST"]),
    Route("/actions/move", move, methods=["POST"]),
    Route("/actions/undo-skip", undo_skip, methods=["POST"]),
    Route("/actions/edit-digest", edit_digest, methods=["POST"]),
]
