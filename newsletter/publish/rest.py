"""A small JSON-over-HTTP client for the services without a client library (LinkedIn, Threads):
httpx with a bearer token, every failure turned into a publish fault.

The token travels only in the Authorization header (never in a URL, which httpx logs), and no
fault message carries it.
"""

from __future__ import annotations

import email.utils
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from newsletter.core.errors import PublishError
from newsletter.publish.faults import AuthFailed, RateLimited, Transient, Unconfirmed, auth_message

Classifier = Callable[[httpx.Response], PublishError | None]


class RestClient:
    """Sends requests to one service for one channel; raises RateLimited, AuthFailed, Transient,
    Unconfirmed (a create whose answer was lost) or PublishError instead of returning a failure."""

    def __init__(self, channel: str, base_url: str, token_env: str, token: str, *, timeout: float,
                 headers: dict[str, str] | None = None, classify: Classifier | None = None):
        self.channel = channel
        self.token_env = token_env
        self.classify = classify
        self.http = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout,
                                 headers={"Authorization": f"Bearer {token}", **(headers or {})})

    def request(self, method: str, url: str, *, creating: bool = False, **kwargs: Any) -> httpx.Response:
        """Send one request and return its 2xx response (`creating`: a lost answer is Unconfirmed)."""
        try:
            response = self.http.request(method, url, **kwargs)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as error:
            raise Transient(f"channel {self.channel}: {method} {_route(url)}: {type(error).__name__}") from None
        except httpx.HTTPError as error:
            if creating:
                raise Unconfirmed(f"channel {self.channel}: the post request lost its answer "
                                  f"({type(error).__name__})") from None
            raise Transient(f"channel {self.channel}: {method} {_route(url)}: {type(error).__name__}") from None
        if not response.is_success:
            raise self.fault(response, f"{method} {_route(url)}")
        return response

    def fault(self, response: httpx.Response, what: str) -> PublishError:
        """The publish fault for a failed response (the service's own classifier first)."""
        special = self.classify(response) if self.classify else None
        if special is not None:
            return special
        status = response.status_code
        detail = f"HTTP {status} {error_detail(response)}".strip()
        if status == 429:
            return RateLimited(f"channel {self.channel}: rate limited ({what})", reset_time(response))
        if status in (401, 403):
            return AuthFailed(auth_message(self.channel, [self.token_env], detail))
        if status >= 500:
            return Transient(f"channel {self.channel}: {what}: server error {detail}")
        return PublishError(f"channel {self.channel}: {what}: {detail}")

    def close(self) -> None:
        """Close the connection pool."""
        self.http.close()


def reset_time(response: httpx.Response, now: datetime | None = None) -> datetime | None:
    """When a rate limit lifts, from Retry-After (seconds or an HTTP date) or an epoch reset header."""
    now = now or datetime.now(UTC)
    retry_after = response.headers.get("retry-after", "").strip()
    if retry_after.isdigit():
        return now + timedelta(seconds=int(retry_after))
    if retry_after:
        try:
            return email.utils.parsedate_to_datetime(retry_after).astimezone(UTC)
        except (TypeError, ValueError):
            pass
    for name in ("x-ratelimit-reset", "ratelimit-reset"):
        value = response.headers.get(name, "").strip()
        if value.isdigit():
            return datetime.fromtimestamp(int(value), UTC)
    return None


def error_detail(response: httpx.Response) -> str:
    """The service's own words for an error, short (LinkedIn's `message`, Meta's `error.message`)."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, dict):
        inner = body.get("error")
        message = inner.get("message") if isinstance(inner, dict) else body.get("message") or inner
        return str(message or "")[:300]
    return ""


def _route(url: str) -> str:
    """A URL's path without its query, for messages."""
    return httpx.URL(url).path
