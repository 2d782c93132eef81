"""Signed unsubscribe tokens (HMAC-SHA256) and the idempotent unsubscribe action.

A token names a subscriber id and the list(s) of the digest it was sent with, signed with a
secret from the environment, so a link cannot be forged or altered to unsubscribe someone else.
Unsubscribing is per list (like listmonk lists or Mailchimp audiences): the person leaves the
lists the token names, and becomes `unsubscribed` only when they are on no other list. The web
app's handler (GET confirmation page and RFC 8058 one-click POST) calls `unsubscribe`.
"""

from __future__ import annotations

import base64
import hmac
import os
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from newsletter.config import Config
from newsletter.core.errors import ConfigError, NewsletterError
from newsletter.core.keys import list_names
from newsletter.store import Store

TOKEN_VERSION = "v1"
SIGNATURE_BYTES = 16
MIN_SECRET_LENGTH = 16


class InvalidTokenError(NewsletterError):
    """The token is malformed, forged or altered."""


@dataclass(frozen=True)
class TokenClaims:
    """What a verified token says: who, and from which list(s) (`a,b` when the digest goes to several)."""

    subscriber_id: int
    list_name: str

    @property
    def lists(self) -> list[str]:
        """The lists the token unsubscribes from."""
        return list_names(self.list_name)


class UnsubscribeOutcome(StrEnum):
    """What `unsubscribe` did: took the person off the list(s), found them already off, or
    found nobody (forgotten)."""

    UNSUBSCRIBED = "unsubscribed"
    ALREADY = "already"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class UnsubscribeResult:
    """The outcome of one unsubscribe request."""

    outcome: UnsubscribeOutcome
    list_name: str
    email: str | None = None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(secret: str, payload: str) -> str:
    mac = hmac.digest(secret.encode("utf-8"), payload.encode("ascii"), "sha256")
    return _b64(mac[:SIGNATURE_BYTES])


def make_token(secret: str, subscriber_id: int, list_name: str) -> str:
    """A URL-safe token naming the subscriber and list(s) (`a,b`), signed with `secret`."""
    payload = f"{TOKEN_VERSION}.{int(subscriber_id)}.{_b64(list_name.encode('utf-8'))}"
    return f"{payload}.{_signature(secret, payload)}"


def verify_token(secret: str, token: str) -> TokenClaims:
    """The token's claims; raises InvalidTokenError unless it was signed with `secret`."""
    parts = token.strip().split(".")
    if len(parts) != 4 or parts[0] != TOKEN_VERSION:
        raise InvalidTokenError("malformed unsubscribe token")
    payload, signature = ".".join(parts[:3]), parts[3]
    if not hmac.compare_digest(_signature(secret, payload), signature):
        raise InvalidTokenError("unsubscribe token signature does not match")
    try:
        return TokenClaims(int(parts[1]), _unb64(parts[2]).decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise InvalidTokenError("malformed unsubscribe token") from None


def unsubscribe_url(config: Config, token: str) -> str:
    """The public link carrying `token` (footer and List-Unsubscribe)."""
    return f"{config.public_base_url}/unsubscribe/{token}"


def secret_from_env(config: Config) -> str:
    """The signing secret from the environment variable the config names."""
    name = config.unsubscribe.secret_env
    secret = os.environ.get(name, "")
    if len(secret) < MIN_SECRET_LENGTH:
        problem = "is not set" if not secret else f"is shorter than {MIN_SECRET_LENGTH} characters"
        raise ConfigError([f"unsubscribe.secret_env: environment variable {name} {problem}"])
    return secret


def unsubscribe(store: Store, token: str, secret: str, now: datetime) -> UnsubscribeResult:
    """Take the token's subscriber off the token's list(s) for good (idempotent; `unsubscribed`
    status once on no list, other lists kept); a forged token raises InvalidTokenError."""
    claims = verify_token(secret, token)
    email, left = store.subscribers.unsubscribe_id(claims.subscriber_id, claims.lists, now)
    if email is None:
        return UnsubscribeResult(UnsubscribeOutcome.UNKNOWN, claims.list_name)
    if not left:
        return UnsubscribeResult(UnsubscribeOutcome.ALREADY, claims.list_name, email)
    store.audit.record_action("subscriber", "unsubscribe", target=f"subscriber:{claims.subscriber_id}",
                        detail={"list": claims.list_name}, now=now)
    return UnsubscribeResult(UnsubscribeOutcome.UNSUBSCRIBED, claims.list_name, email)
