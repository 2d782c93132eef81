"""What the providers' HTTP APIs (`ses.py`, `brevo.py`) share: endpoints, secrets, throttling, sessions.

A provider transport builds the HTTP request for one message and reads the answer into a
`SendResult`; `ApiSession` sends it on an httpx client of its own, after the transport's rate
limit and any pause a throttling answer asked for. Timeouts and dropped connections are
transient; refused credentials are a ConfigError, raised so the run stops with its rows pending.
Secrets are read from the environment variables the config names and never put in a message.
"""

from __future__ import annotations

import ipaddress
import os
import threading
import time
from collections.abc import Callable
from typing import Any, ClassVar, Protocol
from urllib.parse import urlsplit

import httpx

from newsletter.core.errors import ConfigError
from newsletter.publish.email.base import Outcome, SendResult, TransportUnavailable
from newsletter.publish.email.smtp import RateLimiter

DEFAULT_PAUSE = 1.0
MAX_PAUSE = 60.0


def api_endpoint(setting: str, url: str) -> str:
    """The endpoint without a trailing slash: https, or plain http only to a loopback address."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme == "https" and host:
        return url.rstrip("/")
    if parts.scheme == "http" and (host == "localhost" or _is_loopback(host)):
        return url.rstrip("/")
    raise ConfigError([f"{setting}: {url!r} must be an https:// URL (plain http only to 127.0.0.1 or localhost)"])


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def env_secret(setting: str, name: str, purpose: str) -> str:
    """The value of the environment variable `name` (named by `setting`); ConfigError when unset."""
    value = os.environ.get(name, "")
    if not value:
        raise ConfigError([f"{setting}: environment variable {name} is not set (it holds {purpose})"])
    return value


def answer_json(response: httpx.Response) -> dict[str, Any]:
    """The answer's JSON object, or an empty one when the body is not JSON."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def seconds_header(response: httpx.Response, *names: str) -> float | None:
    """The first of these headers holding a number of seconds (e.g. Retry-After), else None."""
    for name in names:
        try:
            return float(response.headers[name])
        except (KeyError, ValueError):
            continue
    return None


class Throttle:
    """Shared by a transport's sessions: after a throttling answer, every session waits until
    the provider's window reopens before its next request."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep):
        self.clock = clock
        self.sleep = sleep
        self.lock = threading.Lock()
        self.resume_at = 0.0

    def hold(self, seconds: float | None) -> None:
        """Pause every session for `seconds` (the provider's hint, else one second; at most a minute)."""
        pause = min(MAX_PAUSE, max(seconds if seconds is not None else DEFAULT_PAUSE, 0.0)) or DEFAULT_PAUSE
        with self.lock:
            self.resume_at = max(self.resume_at, self.clock() + pause)

    def wait(self) -> None:
        """Sleep until the pause, if any, is over."""
        with self.lock:
            left = self.resume_at - self.clock()
        if left > 0:
            self.sleep(left)


class ApiTransport(Protocol):
    """What `ApiSession` needs from a provider transport."""

    type_name: ClassVar[str]
    timeout: float
    rate: RateLimiter
    throttle: Throttle

    def send_request(self, envelope_from: str, recipient: str, message: bytes) -> httpx.Request:
        """The signed or keyed HTTP request sending `message` to `recipient` (ValueError if it cannot)."""
        ...

    def send_result(self, response: httpx.Response, recipient: str) -> SendResult:
        """The outcome the provider's answer means (ConfigError for refused credentials)."""
        ...


class ApiSession:
    """One httpx client of a provider transport, used by one worker at a time."""

    def __init__(self, transport: ApiTransport):
        self.transport = transport
        self.client: httpx.Client | None = None

    def open(self) -> None:
        """Create the client (connections are made, and reused, as requests go)."""
        if self.client is None:
            self.client = httpx.Client(timeout=self.transport.timeout, follow_redirects=False)

    def send(self, envelope_from: str, recipient: str, message: bytes) -> SendResult:
        """Wait for the rate limit and any throttling pause, send, and classify the answer."""
        self.open()
        assert self.client is not None
        transport = self.transport
        try:
            request = transport.send_request(envelope_from, recipient, message)
        except ValueError as error:  # a message the provider's fields cannot carry
            return SendResult(Outcome.PERMANENT, f"{transport.type_name}: {recipient}: {error}")
        transport.rate.acquire()
        transport.throttle.wait()
        try:
            response = self.client.send(request)
        except httpx.TimeoutException:
            return SendResult(Outcome.TRANSIENT, f"{transport.type_name}: {recipient}: timed out")
        except httpx.TransportError as error:
            return SendResult(Outcome.TRANSIENT, f"{transport.type_name}: {recipient}: connection failed ({error})")
        return transport.send_result(response, recipient)

    def close(self) -> None:
        """Close the client and its connections."""
        client, self.client = self.client, None
        if client is not None:
            client.close()


def probe(type_name: str, timeout: float, request: httpx.Request) -> httpx.Response:
    """Send one check request; TransportUnavailable when the provider cannot be reached now."""
    try:
        with httpx.Client(timeout=timeout, follow_redirects=False) as client:
            response = client.send(request)
    except httpx.TimeoutException:
        raise TransportUnavailable(f"{type_name}: {request.url.host} timed out") from None
    except httpx.TransportError as error:
        raise TransportUnavailable(f"{type_name}: cannot reach {request.url.host} ({error})") from None
    if response.status_code == 429 or response.status_code >= 500:
        raise TransportUnavailable(f"{type_name}: {request.url.host} answered {response.status_code}")
    return response


def reply_text(text: object) -> str:
    """A provider's message on one line, at most 300 characters."""
    return " ".join(str(text).split())[:300]
