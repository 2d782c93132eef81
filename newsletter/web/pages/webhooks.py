"""Providers' event webhooks: `POST /webhooks/ses` (Amazon SNS) and `POST /webhooks/brevo`.

Machine to machine: no session, sign-in or CSRF token, each authenticated its own way (the
SNS signature, Brevo's shared token) by `pipeline/webhooks.py`, which this only calls.
"""

from __future__ import annotations

import base64
import binascii

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from newsletter.pipeline.webhooks import (
    WebhookMalformed,
    WebhookNotConfigured,
    WebhookResult,
    WebhookUnauthorised,
    WebhookUnavailable,
    receive_brevo,
    receive_sns,
)
from newsletter.publish.email.sns import SnsMalformed, SnsRejected, SnsUnreachable
from newsletter.web.common import blocking, web_state

MAX_BODY = 256 * 1024
STATUS_BY_ERROR: dict[type[Exception], int] = {
    WebhookNotConfigured: 404, SnsMalformed: 400, WebhookMalformed: 400, SnsRejected: 403, WebhookUnauthorised: 401,
    SnsUnreachable: 503, WebhookUnavailable: 503,
}


class BodyTooLarge(Exception):
    """The request body is over `MAX_BODY`."""


REFUSED: tuple[type[Exception], ...] = (BodyTooLarge, *STATUS_BY_ERROR)


async def ses_events(request: Request) -> Response:
    """An SNS message: a subscription confirmation, or SES bounce and complaint notifications."""
    state = web_state(request)
    try:
        body = await _body(request)
        result = await blocking(receive_sns, state.config, state.store, body, state.sns_certificates, state.clock())
    except REFUSED as error:
        return _refused(error)
    return _answer(result)


async def brevo_events(request: Request) -> Response:
    """One delivery of Brevo's event webhook (one event or a batch)."""
    state = web_state(request)
    try:
        body = await _body(request)
        result = await blocking(receive_brevo, state.config, state.store, body, _credential(request), state.clock())
    except REFUSED as error:
        return _refused(error)
    return _answer(result)


async def _body(request: Request) -> bytes:
    """The request body, read up to `MAX_BODY` bytes."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise BodyTooLarge(f"the body is over {MAX_BODY} bytes")
    return body


def _credential(request: Request) -> str | None:
    """The token of `Authorization: Bearer <token>`, or the password of basic auth."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer" and value:
        return value
    if scheme.lower() == "basic" and value:
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return decoded.partition(":")[2] or None
    return None


def _refused(error: Exception) -> Response:
    status = 413 if isinstance(error, BodyTooLarge) else STATUS_BY_ERROR[type(error)]
    headers = {"WWW-Authenticate": 'Bearer realm="webhooks"'} if status == 401 else None
    return JSONResponse({"error": str(error)}, status_code=status, headers=headers)


def _answer(result: WebhookResult) -> Response:
    """200 with what was done; 500 when an event failed to apply, so the provider retries."""
    return JSONResponse(result.summary(), status_code=500 if result.failed else 200)


routes = [
    Route("/webhooks/ses", ses_events, methods=["POST"]),
    Route("/webhooks/brevo", brevo_events, methods=["POST"]),
]
