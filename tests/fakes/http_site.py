"""A real HTTP server on 127.0.0.1 serving the feed and page fixtures (pytest-httpserver).

`site.serve_fixture(path, name)` serves `tests/fixtures/feeds/<name>` with `{base}` replaced by
the server's base URL; `site.url(path)` builds absolute URLs. The server is threaded, so a slow
handler does not block the other requests, and is shared by the session (cleared per test).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "feeds"
RSS = "application/rss+xml; charset=utf-8"
ATOM = "application/atom+xml"
HTML = "text/html; charset=utf-8"


class Site:
    """Helpers over one running HTTPServer."""

    def __init__(self, server: HTTPServer):
        self.server = server

    @property
    def base(self) -> str:
        """The server's base URL, without a trailing slash."""
        return self.server.url_for("/").rstrip("/")

    def url(self, path: str) -> str:
        """The absolute URL of `path` on this server."""
        return self.server.url_for(path)

    def fixture(self, name: str) -> bytes:
        """A fixture file with `{base}` replaced by this server's base URL."""
        return (FIXTURES / name).read_bytes().replace(b"{base}", self.base.encode())

    def serve_fixture(self, path: str, name: str, content_type: str | None = None) -> None:
        """Serve a fixture file at `path` (content type guessed from the extension)."""
        guessed = HTML if name.endswith(".html") else RSS if not name.endswith("atom.xml") else ATOM
        self.serve(path, self.fixture(name), content_type or guessed)

    def serve(self, path: str, body: bytes | str, content_type: str = RSS, status: int = 200) -> None:
        """Serve a fixed body at `path`, every time it is asked for."""
        self.server.expect_request(path).respond_with_data(body, status=status, content_type=content_type)

    def serve_with_etag(self, path: str, body: bytes, etag: str, content_type: str = RSS) -> list[str]:
        """Serve `body` with an ETag, answering 304 to a matching If-None-Match; returns the list
        of statuses sent, in order."""
        statuses: list[str] = []

        def handler(request: Request) -> Response:
            if request.headers.get("If-None-Match") == etag:
                statuses.append("304")
                return Response(status=304, headers={"ETag": etag})
            statuses.append("200")
            return Response(body, status=200, content_type=content_type, headers={"ETag": etag})

        self.server.expect_request(path).respond_with_handler(handler)
        return statuses

    def serve_slowly(self, path: str, delay: float, body: bytes = b"", content_type: str = RSS) -> None:
        """Answer `path` only after `delay` seconds (beyond a client's timeout)."""

        def handler(_request: Request) -> Response:
            time.sleep(delay)
            return Response(body, content_type=content_type)

        self.server.expect_request(path).respond_with_handler(handler)

    def redirect(self, path: str, target: str, status: int = 302) -> None:
        """Redirect `path` to `target`."""
        self.server.expect_request(path).respond_with_response(
            Response(status=status, headers={"Location": target})
        )

    def count_requests(self, path: str) -> int:
        """How many requests reached `path` so far."""
        return sum(1 for request, _response in self.server.log if request.path == path)

    def handle(self, path: str, handler: Callable[[Request], Response]) -> None:
        """Answer `path` with an arbitrary handler."""
        self.server.expect_request(path).respond_with_handler(handler)


@pytest.fixture(scope="session")
def http_server() -> Iterator[HTTPServer]:
    """One threaded loopback HTTP server for the session."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    yield server
    server.clear()
    if server.is_running():
        server.stop()


@pytest.fixture
def site(http_server: HTTPServer) -> Iterator[Site]:
    """The loopback server, with no handler left from an earlier test (unknown paths: 404)."""
    http_server.clear()
    http_server.no_handler_status_code = 404
    yield Site(http_server)
    http_server.clear()
