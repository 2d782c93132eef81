"""Shared HTTP fetching for network sources: timeouts, size and redirect limits, retries, 304s.

Every request carries a clear User-Agent, follows at most `max_redirects` redirects, stops
reading past `max_bytes` and retries transient failures (timeouts, connection errors, 429 and
5xx answers) with exponential backoff through tenacity before giving up until the next run.
"""

from __future__ import annotations

import ssl
import time
from dataclasses import dataclass
from functools import cache
from types import TracebackType

import certifi
import httpx
from pydantic import BaseModel, NonNegativeFloat, NonNegativeInt, PositiveFloat, PositiveInt
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from newsletter import __version__
from newsletter.core.errors import SourceError

USER_AGENT = f"newsletter/{__version__} (+announcement digest; polite fetcher)"
TRANSIENT_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
CHUNK_SIZE = 64 * 1024


class HttpSettings(BaseModel):
    """The HTTP keys a network source accepts (mixed into its config model)."""

    timeout: PositiveFloat = 20.0
    max_bytes: PositiveInt = 10_000_000
    max_redirects: NonNegativeInt = 5
    retries: PositiveInt = 3
    retry_wait: NonNegativeFloat = 1.0
    user_agent: str = USER_AGENT


@dataclass(frozen=True)
class Response:
    """A fetched body with what the caller needs from the headers."""

    url: str
    status: int
    content: bytes
    content_type: str = ""
    etag: str | None = None
    last_modified: str | None = None

    @property
    def not_modified(self) -> bool:
        """True for a 304 answer to a conditional GET."""
        return self.status == 304

    @property
    def media_type(self) -> str:
        """The content type without parameters, lower case."""
        return self.content_type.split(";", 1)[0].strip().lower()


@cache
def _ssl_context() -> ssl.SSLContext:
    """One TLS context for every client (building one per client costs tens of milliseconds)."""
    return ssl.create_default_context(cafile=certifi.where())


class TransientError(SourceError):
    """A failure worth retrying (timeout, connection error, 429 or 5xx)."""


class Fetcher:
    """An httpx client configured from a source's settings; use as a context manager."""

    def __init__(self, settings: HttpSettings):
        self.settings = settings
        self.client = httpx.Client(
            follow_redirects=True,
            max_redirects=settings.max_redirects,
            timeout=httpx.Timeout(settings.timeout),
            headers={"User-Agent": settings.user_agent},
            verify=_ssl_context(),
        )

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.client.close()

    def get(self, url: str, *, etag: str | None = None, last_modified: str | None = None) -> Response:
        """GET `url` (conditionally when validators are given), retrying transient failures;
        raise SourceError naming the URL and the reason once it gives up."""
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        retrying = Retrying(
            stop=stop_after_attempt(self.settings.retries),
            wait=wait_exponential(multiplier=self.settings.retry_wait, max=30),
            retry=retry_if_exception_type(TransientError),
            reraise=True,
        )
        return retrying(self._get_once, url, headers)

    def _get_once(self, url: str, headers: dict[str, str]) -> Response:
        try:
            with self.client.stream("GET", url, headers=headers) as response:
                if response.status_code in TRANSIENT_STATUSES:
                    raise TransientError(f"{url}: HTTP {response.status_code}")
                if response.status_code >= 400:
                    raise SourceError(f"{url}: HTTP {response.status_code}")
                content = self._read_limited(response, url)
        except httpx.TooManyRedirects:
            raise SourceError(f"{url}: more than {self.settings.max_redirects} redirects") from None
        except httpx.TimeoutException:
            raise TransientError(f"{url}: no answer within {self.settings.timeout:g} s") from None
        except httpx.TransportError as error:
            raise TransientError(f"{url}: {type(error).__name__} ({error})") from None
        except httpx.InvalidURL as error:
            raise SourceError(f"{url}: invalid URL ({error})") from None
        return Response(
            url=str(response.url),
            status=response.status_code,
            content=content,
            content_type=response.headers.get("Content-Type", ""),
            etag=response.headers.get("ETag"),
            last_modified=response.headers.get("Last-Modified"),
        )

    def _read_limited(self, response: httpx.Response, url: str) -> bytes:
        """The body, refusing one larger than `max_bytes` or slower than the timeout overall."""
        limit = self.settings.max_bytes
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > limit:
            raise SourceError(f"{url}: response of {int(declared):,} bytes exceeds the {limit:,}-byte limit")
        deadline = time.monotonic() + self.settings.timeout * 3
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes(CHUNK_SIZE):
            size += len(chunk)
            if size > limit:
                raise SourceError(f"{url}: response exceeds the {limit:,}-byte limit")
            if time.monotonic() > deadline:
                raise TransientError(f"{url}: body not received within {self.settings.timeout * 3:g} s")
            chunks.append(chunk)
        return b"".join(chunks)
