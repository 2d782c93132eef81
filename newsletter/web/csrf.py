"""CSRF protection: a random token per session, required in every form posted to the app.

The only form-less POST accepted without it is the RFC 8058 one-click unsubscribe, which is
authorised by its signed token alone (mail providers send it without cookies).
"""

from __future__ import annotations

import hmac
import secrets

from starlette.datastructures import FormData
from starlette.requests import Request

SESSION_KEY = "csrf"
FIELD = "csrf_token"


class CsrfError(Exception):
    """The posted form carries no CSRF token, or not this session's."""


def csrf_token(request: Request) -> str:
    """This session's CSRF token, created on first use."""
    token = request.session.get(SESSION_KEY)
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        request.session[SESSION_KEY] = token
    return token


def check_csrf(request: Request, form: FormData) -> None:
    """Raise CsrfError unless the form's token matches the session's."""
    expected = request.session.get(SESSION_KEY)
    given = form.get(FIELD)
    if not isinstance(expected, str) or not isinstance(given, str) or not hmac.compare_digest(expected, given):
        raise CsrfError("CSRF token missing or wrong")
