"""What can go wrong when publishing, classified so the posting stage knows what to do.

Publishers translate their library's exceptions into these; `newsletter.pipeline.posting` decides:
wait or reschedule (RateLimited), retry with backoff (Transient; Unconfirmed only after checking
the service), pause the channel
(AuthFailed), record as posted (AlreadyPosted), hand to a person (Uncertain) or give up.
"""

from __future__ import annotations

from datetime import datetime

from newsletter.core.errors import PublishError


class RateLimited(PublishError):
    """The service refused with 429; nothing was posted. `reset_at` is when to try again."""

    def __init__(self, message: str, reset_at: datetime | None):
        super().__init__(message, retryable=True)
        self.reset_at = reset_at


class Transient(PublishError):
    """A 5xx, a refused connection or a timeout that is safe to retry (nothing posted, or the
    service deduplicates the retry)."""

    def __init__(self, message: str):
        super().__init__(message, retryable=True)


class Unconfirmed(Transient):
    """A create request went out but its answer was lost (a read timeout, a dropped connection):
    the post may exist. Retried only after the publisher checked the service for it."""


class AuthFailed(PublishError):
    """401/403: the credentials are wrong or lack a permission; the channel must be paused."""


class AlreadyPosted(PublishError):
    """The service rejected the post as a duplicate of one it already has."""


class Uncertain(PublishError):
    """The post may or may not have gone out (a request in flight failed, a thread was cut)."""


def auth_message(channel: str, env_vars: list[str], detail: str) -> str:
    """The one clear line for a credentials problem: the channel and the env vars to check."""
    names = ", ".join(env_vars)
    return f"channel {channel}: the service refused the credentials ({detail}); check {names}"
