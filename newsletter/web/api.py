"""The REST API: JSON over the review actions (announcements, digest issues, posts, approvals,
subscribers), for scripts and other tools.

Every endpoint needs `Authorization: Bearer <API token>` (`newsletter users token NAME`) and acts
with that user's role; session cookies are not accepted here, so no page can be made to call it
(no CSRF). The OpenAPI description is built from the same route table, at `/api/v1/openapi.json`.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from newsletter.core.errors import NewsletterError
from newsletter.core.models import Announcement, Delivery, DeliveryKind, DeliveryStatus
from newsletter.core.roles import Role
from newsletter.pipeline import actions, editor
from newsletter.pipeline import subscribers as subscriber_actions
from newsletter.pipeline.actions import ActionResult
from newsletter.store import Subscriber
from newsletter.store.digests import DigestIssue
from newsletter.store.ledger import Ledger
from newsletter.web.auth import NotSignedIn, bearer
from newsletter.web.common import WebState, blocking, signed_in, web_state

PREFIX = "/api/v1"
MAX_PAGE = 200
MAX_BODY = 64 * 1024
Handler = Callable[[Request, WebState, str], Any]


class BadRequest(NewsletterError):
    """The request's body or query is not what the endpoint takes."""


@dataclass(frozen=True)
class Endpoint:
    """One API route: what it does, the role it needs and the JSON body it takes."""

    method: str
    path: str
    summary: str
    role: Role
    handler: Handler
    body: dict[str, Any] = field(default_factory=dict)
    paged: bool = False


def _iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def announcement_json(announcement: Announcement) -> dict[str, Any]:
    """An announcement as the API shows it: metadata, extraction and what a person should check."""
    return {"id": announcement.id, "source": announcement.source, "title": announcement.title,
            "url": announcement.url, "published": _iso(announcement.published), "lede": announcement.lede,
            "checks": announcement.checks, **announcement.extracted()}


def issue_json(issue: DigestIssue, ledger: Ledger | None = None) -> dict[str, Any]:
    """A digest issue: its state, subject, announcements and (with the ledger) delivery counts."""
    data = {"id": issue.id, "digest": issue.digest.name, "status": str(issue.status),
            "subject": issue.digest.subject, "list": issue.digest.list_name,
            "announcements": issue.digest.announcement_ids, "scheduled_for": _iso(issue.digest.scheduled_for),
            "approved_by": issue.approved_by, "approved_at": _iso(issue.approved_at),
            "finished_at": _iso(issue.finished_at), "skip_reason": issue.skip_reason}
    if ledger is not None:
        data["deliveries"] = {str(status): count for status, count in ledger.counts(issue.id).items()}
    return data


def post_json(row: Delivery) -> dict[str, Any]:
    """A post of the ledger: channel, state, text and what the service answered."""
    payload = row.payload
    return {"key": row.key, "channel": row.target, "status": str(row.status), "attempts": row.attempts,
            "platform": payload.get("platform"), "announcement": payload.get("announcement_id"),
            "variant": payload.get("variant"), "text": payload.get("text"),
            "parts": [payload.get("text"), *payload.get("thread", [])], "provider_id": row.provider_id,
            "provider_url": row.provider_url, "error": row.error}


def subscriber_json(subscriber: Subscriber) -> dict[str, Any]:
    """A subscriber: address, name, locale, status, lists and consent."""
    return {"email": subscriber.email, "name": subscriber.name, "locale": subscriber.locale,
            "status": str(subscriber.status), "lists": subscriber.lists,
            "consent_source": subscriber.consent_source, "consent_at": _iso(subscriber.consent_at)}


def _page(request: Request) -> tuple[int, int]:
    try:
        limit = int(request.query_params.get("limit", "50"))
        offset = int(request.query_params.get("offset", "0"))
    except ValueError:
        raise BadRequest("limit and offset must be whole numbers") from None
    if not 1 <= limit <= MAX_PAGE or offset < 0:
        raise BadRequest(f"limit must be 1 to {MAX_PAGE} and offset at least 0")
    return limit, offset


def _paged(request: Request, items: list[Any]) -> dict[str, Any]:
    limit, offset = _page(request)
    return {"total": len(items), "limit": limit, "offset": offset, "items": items[offset:offset + limit]}


def _body(request: Request) -> dict[str, Any]:
    body: dict[str, Any] = request.state.body
    return body


def _text(body: dict[str, Any], key: str, *, required: bool = True) -> str:
    value = body.get(key, "")
    if not isinstance(value, str) or (required and not value.strip()):
        raise BadRequest(f"body.{key}: a non-empty string is required")
    return value


def _result(result: ActionResult) -> dict[str, Any]:
    return {"action": result.action, "target": result.target, "summary": result.summary}


def list_announcements(request: Request, state: WebState, actor: str) -> Any:
    """Active announcements, newest first."""
    found = state.store.announcements.list_announcements(source=request.query_params.get("source"))
    return _paged(request, [announcement_json(a) for a in reversed(found)])


def get_announcement(request: Request, state: WebState, actor: str) -> Any:
    """One announcement."""
    found = state.store.announcements.get_announcement(request.path_params["id"])
    return announcement_json(found) if found else None


def list_issues(request: Request, state: WebState, actor: str) -> Any:
    """Digest issues, newest first, with their delivery counts."""
    ledger = Ledger(state.store)
    issues = state.store.issues.list_digest_issues(digest=request.query_params.get("digest"), limit=10_000)
    return _paged(request, [issue_json(issue, ledger) for issue in issues])


def get_issue(request: Request, state: WebState, actor: str) -> Any:
    """One digest issue with its delivery counts."""
    found = state.store.issues.get_digest_issue(request.path_params["id"])
    return issue_json(found, Ledger(state.store)) if found else None


def _status(request: Request) -> DeliveryStatus | None:
    value = request.query_params.get("status")
    try:
        return DeliveryStatus(value) if value else None
    except ValueError:
        raise BadRequest(f"status: one of {', '.join(s.value for s in DeliveryStatus)}") from None


def list_posts(request: Request, state: WebState, actor: str) -> Any:
    """Posts of the ledger, oldest first (`status`, `channel` filter them)."""
    rows = Ledger(state.store).list_deliveries(status=_status(request), kind=str(DeliveryKind.POST), limit=100_000)
    channel = request.query_params.get("channel")
    return _paged(request, [post_json(row) for row in rows if channel is None or row.target == channel])


def get_post(request: Request, state: WebState, actor: str) -> Any:
    """One post."""
    row = Ledger(state.store).get(request.path_params["key"])
    return post_json(row) if row is not None and row.kind == str(DeliveryKind.POST) else None


def list_approvals(request: Request, state: WebState, actor: str) -> Any:
    """What waits for an approver: posts and digest issues awaiting approval."""
    ledger = Ledger(state.store)
    posts = ledger.list_deliveries(status=DeliveryStatus.AWAITING_APPROVAL, kind=str(DeliveryKind.POST), limit=10_000)
    issues = state.store.issues.list_digest_issues(statuses=["awaiting_approval"], limit=10_000)
    return {"posts": [post_json(row) for row in posts], "issues": [issue_json(issue, ledger) for issue in issues]}


def _target(request: Request) -> str:
    """The post key or the issue/announcement id the path names."""
    return str(request.path_params.get("key") or request.path_params["id"])


def approve(request: Request, state: WebState, actor: str) -> Any:
    """Approve a post or a digest issue; an issue whose time has come is sent at once."""
    return _sent_if_due(state, actor, actions.approve(state.config, state.store, _target(request), actor,
                                                      state.clock()))


def _sent_if_due(state: WebState, actor: str, result: ActionResult) -> dict[str, Any]:
    """Send the digest issue an action made due (approved after its time), then describe the action."""
    if result.detail.get("send_now"):
        actions.send_now(state.config, state.store, result.target, actor, state.clock())
    return _result(result)


def skip(request: Request, state: WebState, actor: str) -> Any:
    """Skip an announcement, a queued post or a digest issue."""
    reason = _text(_body(request), "reason", required=False)
    return _result(actions.skip(state.config, state.store, _target(request), actor, state.clock(), reason))


def send_issue_now(request: Request, state: WebState, actor: str) -> Any:
    """Send a digest issue at once (approving it first when it waits); answers when it is done."""
    report = actions.send_now(state.config, state.store, request.path_params["id"], actor, state.clock())
    return {"issue": report.issue_id, "sent": report.sent, "failed": report.failed, "pending": report.pending}


def edit_post(request: Request, state: WebState, actor: str) -> Any:
    """Replace a queued post's text (checked against the platform's length)."""
    text = _text(_body(request), "text")
    return _result(actions.edit_post(state.config, state.store, request.path_params["key"], text, actor,
                                     state.clock()))


def post_now(request: Request, state: WebState, actor: str) -> Any:
    """Publish a post at once, whatever its slot."""
    return _result(actions.post_now(state.config, state.store, request.path_params["key"], actor, state.clock()))


def settle(request: Request, state: WebState, actor: str) -> Any:
    """Settle an uncertain post: `{"sent": true}` it went out, false it may be posted again."""
    sent = _body(request).get("sent")
    if not isinstance(sent, bool):
        raise BadRequest("body.sent: true or false is required")
    return _result(actions.settle(state.store, request.path_params["key"], sent, actor, state.clock()))


def retract(request: Request, state: WebState, actor: str) -> Any:
    """Delete every accepted part of a post from its service."""
    return _result(actions.retract(state.config, state.store, request.path_params["key"], actor))


def move_post(request: Request, state: WebState, actor: str) -> Any:
    """Move a queued post to another of its channel's next slots (`{"slot": "<ISO time>"}`)."""
    slot = _text(_body(request), "slot")
    return _result(actions.move_post(state.config, state.store, request.path_params["key"], slot, actor,
                                     state.clock()))


def undo_skip(request: Request, state: WebState, actor: str) -> Any:
    """Bring back a post or a digest issue a person skipped; an issue back as approved after its time is sent."""
    return _sent_if_due(state, actor, actions.undo_skip(state.config, state.store, _target(request), actor,
                                                        state.clock()))


def next_issue(request: Request, state: WebState, actor: str) -> Any:
    """A digest's next issue as the plan decides it, with what may be added to it."""
    name = request.path_params["name"]
    if state.config.find_digest(name) is None:
        return None
    view = editor.editor_view(state.config, state.store, name, state.clock())
    plan = view.plan
    return {"digest": name, "issue": plan.issue.id if plan.issue else None,
            "status": str(plan.issue.status) if plan.issue else "planned", "subject": plan.subject,
            "scheduled_for": _iso(plan.scheduled_for), "skip_reason": plan.skip_reason, "editable": view.editable,
            "announcements": [a.id for a in view.announcements], "addable": [a.id for a in view.candidates]}


def edit_digest(request: Request, state: WebState, actor: str) -> Any:
    """One change to a digest's next issue: `{"op": "up|down|remove|add|subject|intro", "announcement", "text"}`."""
    body = _body(request)
    try:
        operation = editor.EditOp(_text(body, "op"))
    except ValueError:
        raise BadRequest(f"body.op: one of {', '.join(editor.EditOp)}") from None
    change = editor.DigestEdit(operation, _text(body, "announcement", required=False),
                               _text(body, "text", required=False))
    return _result(editor.edit_digest(state.config, state.store, request.path_params["name"], change, actor,
                                      state.clock()))


def list_subscribers(request: Request, state: WebState, actor: str) -> Any:
    """Subscribers (`list`, `status` (default active, `all` for every status) filter them)."""
    status = request.query_params.get("status", "active")
    found = state.store.subscribers.list_subscribers(request.query_params.get("list"),
                                                     None if status == "all" else status)
    return _paged(request, [subscriber_json(s) for s in found])


def add_subscriber(request: Request, state: WebState, actor: str) -> Any:
    """Add a subscriber (or lists to a known one) with the consent recorded as `api:<user>`."""
    body = _body(request)
    lists = body.get("lists", [])
    if not isinstance(lists, list) or not all(isinstance(name, str) for name in lists):
        raise BadRequest("body.lists: a list of list names is required")
    added = subscriber_actions.add(state.store, _text(body, "email"), now=state.clock(),
                                   name=_text(body, "name", required=False) or None, lists=lists,
                                   consent_source=f"api:{actor}")
    state.store.audit.record_action(actor, "subscriber.add", added.email, {"lists": lists}, now=state.clock())
    return subscriber_json(added)


def remove_subscriber(request: Request, state: WebState, actor: str) -> Any:
    """Unsubscribe a person from one list (`list` in the query) or from everything."""
    email = request.path_params["email"]
    list_name = request.query_params.get("list")
    removed = subscriber_actions.remove(state.store, email, now=state.clock(), list_name=list_name)
    state.store.audit.record_action(actor, "subscriber.remove", removed.email, {"list": list_name},
                                    now=state.clock())
    return subscriber_json(removed)


TARGET = {"reason": {"type": "string", "description": "why it is skipped (optional)"}}
ENDPOINTS = [
    Endpoint("GET", "/announcements", "List announcements, newest first", Role.EDITOR, list_announcements,
             paged=True),
    Endpoint("GET", "/announcements/{id}", "One announcement", Role.EDITOR, get_announcement),
    Endpoint("POST", "/announcements/{id}/skip", "Skip an announcement", Role.APPROVER, skip, TARGET),
    Endpoint("GET", "/issues", "List digest issues with their delivery counts", Role.EDITOR, list_issues,
             paged=True),
    Endpoint("GET", "/issues/{id}", "One digest issue", Role.EDITOR, get_issue),
    Endpoint("POST", "/issues/{id}/approve", "Approve a digest issue", Role.APPROVER, approve),
    Endpoint("POST", "/issues/{id}/send-now", "Send a digest issue now", Role.APPROVER, send_issue_now),
    Endpoint("POST", "/issues/{id}/skip", "Skip a digest issue", Role.APPROVER, skip, TARGET),
    Endpoint("GET", "/posts", "List posts (status, channel)", Role.EDITOR, list_posts, paged=True),
    Endpoint("GET", "/posts/{key}", "One post", Role.EDITOR, get_post),
    Endpoint("POST", "/posts/{key}/approve", "Approve a post", Role.APPROVER, approve),
    Endpoint("POST", "/posts/{key}/edit", "Replace a queued post's text", Role.EDITOR, edit_post,
             {"text": {"type": "string"}}),
    Endpoint("POST", "/posts/{key}/post-now", "Publish a post now", Role.APPROVER, post_now),
    Endpoint("POST", "/posts/{key}/skip", "Skip a queued post", Role.APPROVER, skip, TARGET),
    Endpoint("POST", "/posts/{key}/settle", "Settle an uncertain post", Role.APPROVER, settle,
             {"sent": {"type": "boolean"}}),
    Endpoint("POST", "/posts/{key}/retract", "Delete a published post", Role.APPROVER, retract),
    Endpoint("POST", "/posts/{key}/move", "Move a queued post to another of its channel's next slots",
             Role.APPROVER, move_post, {"slot": {"type": "string", "format": "date-time"}}),
    Endpoint("POST", "/posts/{key}/undo-skip", "Bring back a skipped post", Role.APPROVER, undo_skip),
    Endpoint("POST", "/issues/{id}/undo-skip", "Bring back a skipped digest issue", Role.APPROVER, undo_skip),
    Endpoint("GET", "/digests/{name}/next", "A digest's next issue and what may be added", Role.EDITOR, next_issue),
    Endpoint("POST", "/digests/{name}/edit", "Change a digest's next issue", Role.EDITOR, edit_digest,
             {"op": {"type": "string", "enum": ["up", "down", "remove", "add", "subject", "intro"]},
              "announcement": {"type": "string"}, "text": {"type": "string"}}),
    Endpoint("GET", "/approvals", "What awaits approval", Role.EDITOR, list_approvals),
    Endpoint("GET", "/subscribers", "List subscribers (list, status)", Role.ADMIN, list_subscribers, paged=True),
    Endpoint("POST", "/subscribers", "Add a subscriber", Role.ADMIN, add_subscriber,
             {"email": {"type": "string"}, "name": {"type": "string"},
              "lists": {"type": "array", "items": {"type": "string"}}}),
    Endpoint("DELETE", "/subscribers/{email}", "Unsubscribe a person (from `list`, else from all)", Role.ADMIN,
             remove_subscriber),
]


async def _read_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    if len(raw) > MAX_BODY:
        raise BadRequest(f"the body is over {MAX_BODY} bytes")
    try:
        body = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise BadRequest(f"the body is not JSON: {error}") from None
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return body


def _serve(endpoint: Endpoint) -> Callable[[Request], Awaitable[Response]]:
    async def serve(request: Request) -> Response:
        if bearer(request) is None:
            raise NotSignedIn()
        actor = signed_in(request, endpoint.role).name
        try:
            request.state.body = await _read_body(request)
            data = await blocking(endpoint.handler, request, web_state(request), actor)
        except NewsletterError as error:
            return JSONResponse({"error": str(error)}, status_code=400)
        if data is None:
            return JSONResponse({"error": "not found"}, status_code=404)
        return JSONResponse(data)

    serve.__doc__ = endpoint.summary
    return serve


def openapi() -> dict[str, Any]:
    """The OpenAPI 3.1 description of ENDPOINTS."""
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in ENDPOINTS:
        operation: dict[str, Any] = {
            "summary": endpoint.summary, "description": f"Needs the {endpoint.role} role.",
            "security": [{"bearer": []}],
            "parameters": [{"name": name.strip("{}"), "in": "path", "required": True, "schema": {"type": "string"}}
                           for name in endpoint.path.split("/") if name.startswith("{")],
            "responses": {"200": {"description": "done"}, "400": {"description": "refused, with the reason"},
                          "401": {"description": "no valid API token"}, "403": {"description": "role too low"},
                          "404": {"description": "no such item"}},
        }
        if endpoint.paged:
            operation["parameters"] += [{"name": name, "in": "query", "schema": {"type": "integer"}}
                                        for name in ("limit", "offset")]
        if endpoint.body:
            operation["requestBody"] = {"content": {"application/json": {"schema": {
                "type": "object", "properties": endpoint.body}}}}
        paths.setdefault(PREFIX + endpoint.path, {})[endpoint.method.lower()] = operation
    return {"openapi": "3.1.0", "info": {"title": "newsletter review API", "version": "1"}, "paths": paths,
            "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}}}


async def openapi_json(request: Request) -> Response:
    """The API's OpenAPI description (public: it holds no data)."""
    return JSONResponse(openapi())


routes = [
    Route(f"{PREFIX}/openapi.json", openapi_json, methods=["GET"]),
    *[Route(PREFIX + e.path, _serve(e), methods=[e.method]) for e in ENDPOINTS],
]
