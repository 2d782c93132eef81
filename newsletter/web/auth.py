"""Who may use the review pages.

With a review token (from the env var `review.token_env`), every review page needs a session
signed in with that token, or an `Authorization: Bearer <token>` header. Without one the
pages are open, which `newsletter serve` only allows on a loopback address. The session
cookie is signed with a key derived from the token (a random per-process key without one).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets

from starlette.requests import Request

from newsletter.config import Config, is_loopback
from newsletter.core.errors import ConfigError

SESSION_USER = "reviewer"
DEFAULT_ACTOR = "web"
MAX_NAME_LENGTH = 80


class NotSignedIn(Exception):
    """A review page was asked for without a valid login."""


def review_token(config: Config) -> str | None:
    """The team's review token from the environment, or None when unset."""
    return os.environ.get(config.review.token_env) or None


def check_can_serve(config: Config, host: str) -> None:
    """Refuse to serve on a non-loopback host without a review token."""
    if not is_loopback(host) and review_token(config) is None:
        raise ConfigError([
            f"review.host: serving on {host} needs a review token: set the environment variable "
            f"{config.review.token_env} (or bind to 127.0.0.1)"
        ])


def session_secret(token: str | None) -> str:
    """The session signing key: derived from the review token, else random for this process."""
    if token is None:
        return secrets.token_urlsafe(32)
    return hmac.new(token.encode("utf-8"), b"newsletter-review-session", hashlib.sha256).hexdigest()


def token_matches(token: str | None, given: str) -> bool:
    """Whether `given` is the review token (constant time)."""
    return token is not None and hmac.compare_digest(token.encode("utf-8"), given.encode("utf-8"))


def bearer(request: Request) -> str | None:
    """The token of an `Authorization: Bearer …` header, if any."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def reviewer(request: Request, token: str | None) -> str | None:
    """Who is asking: the signed-in name, `token` for a bearer request, None when not allowed."""
    given = bearer(request)
    if given is not None:
        return "token" if token_matches(token, given) else None
    name = request.session.get(SESSION_USER)
    if isinstance(name, str) and name:
        return name
    return DEFAULT_ACTOR if token is None else None


def require_reviewer(request: Request, token: str | None) -> str:
    """The reviewer's name for the audit log; NotSignedIn when the page needs a login."""
    name = reviewer(request, token)
    if name is None:
        raise NotSignedIn()
    return name


def sign_in(request: Request, token: str | None, given_token: str, name: str) -> bool:
    """Start a review session when `given_token` is right (or no token is needed)."""
    if token is not None and not token_matches(token, given_token):
        return False
    clean = " ".join(name.split())[:MAX_NAME_LENGTH] or DEFAULT_ACTOR
    request.session.clear()
    request.session[SESSION_USER] = clean
    return True
