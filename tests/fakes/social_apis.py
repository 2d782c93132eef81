"""Loopback HTTP servers standing in for the X, Mastodon and Bluesky APIs.

Each implements the endpoints our publishers' libraries call (tweepy + the v2 media upload,
Mastodon.py, atproto), checks credentials, records every request and fails on demand:
`service.fail(path_part, status, headers=..., body=..., times=1)` or `service.stall(path_part)`
(answers after the client's timeout).
"""

from __future__ import annotations

import base64
import html
import itertools
import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from lxml import html as lxml_html

from newsletter.pipeline.posting import forget_publishers

Answer = tuple[int, dict[str, str], Any]
BLOB_CID = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
RECORD_CID = "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm"
MAX_BLOB_BYTES = 1_000_000


@dataclass
class Recorded:
    """One request as the server saw it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The body as JSON."""
        return json.loads(self.body)

    def form(self) -> dict[str, list[str]]:
        """An urlencoded body."""
        return parse_qs(self.body.decode())

    def multipart(self) -> dict[str, bytes]:
        """A multipart/form-data body: field name -> raw bytes."""
        head = f"Content-Type: {self.headers['content-type']}\r\n\r\n".encode()
        message = message_from_bytes(head + self.body, policy=HTTP)
        return {part.get_param("name", header="content-disposition"): part.get_payload(decode=True)
                for part in message.iter_parts()}


@dataclass
class Fault:
    """A canned failure for requests whose path contains `path_part`."""

    path_part: str
    status: int
    headers: dict[str, str]
    body: Any
    times: int
    stall: float = 0.0
    after: int = 0


@dataclass
class FakeService:
    """State shared by a fake API's handler: requests, faults, created objects."""

    name: str
    url: str = ""
    requests: list[Recorded] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    ids: Iterator[int] = field(default_factory=lambda: itertools.count(1000))
    lock: threading.Lock = field(default_factory=threading.Lock)
    objects: dict[str, Any] = field(default_factory=dict)

    def fail(self, path_part: str, status: int, *, headers: dict[str, str] | None = None, body: Any = None,
             times: int = 1, after: int = 0) -> None:
        """Answer the next `times` requests to a matching path with `status` (once `after` went through)."""
        self.faults.append(Fault(path_part, status, headers or {}, body or {"error": f"fake {status}"}, times,
                                 after=after))

    def stall(self, path_part: str, seconds: float, *, times: int = 1, after: int = 0) -> None:
        """Handle the next matching requests normally, but only after `seconds` (once `after` went through)."""
        self.faults.append(Fault(path_part, 0, {}, None, times, stall=seconds, after=after))

    def calls(self, path_part: str, method: str = "POST") -> list[Recorded]:
        """Recorded requests whose path contains `path_part`."""
        return [r for r in self.requests if path_part in r.path and r.method == method]

    def take_fault(self, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.path_part in path and fault.after > 0:
                    fault.after -= 1
                    return None
                if fault.path_part in path and fault.times > 0:
                    fault.times -= 1
                    return fault
        return None

    def next_id(self) -> str:
        with self.lock:
            return str(next(self.ids))


class FakeX(FakeService):
    """The X API v2: tweets, v2 media upload and metadata, OAuth 1.0a by consumer key."""

    consumer_key = "x-key"
    user_id = "4242"

    def handle(self, request: Recorded) -> Answer:
        auth = request.headers.get("authorization", "")
        if not auth.startswith("OAuth ") or f'oauth_consumer_key="{self.consumer_key}"' not in auth:
            return 401, {}, {"title": "Unauthorized", "detail": "Unauthorized", "status": 401}
        if request.path == "/2/tweets" and request.method == "POST":
            return self._create(request.json())
        if request.path.startswith("/2/tweets/") and request.method == "DELETE":
            self.objects.pop(request.path.rsplit("/", 1)[-1], None)
            return 200, {}, {"data": {"deleted": True}}
        if request.path == "/2/users/me" and request.method == "GET":
            return 200, {}, {"data": {"id": self.user_id, "name": "Ministère", "username": "ministere"}}
        if request.path == f"/2/users/{self.user_id}/tweets" and request.method == "GET":
            query = {name: values[0] for name, values in request.query.items()}
            return 200, {}, self._timeline(int(query.get("max_results", "10")), int(query.get("pagination_token", "0")))
        if request.path == "/2/media/upload":
            media_id = self.next_id()
            self.objects[f"media:{media_id}"] = request.multipart()
            return 200, {}, {"data": {"id": media_id, "media_key": f"3_{media_id}"}}
        if request.path == "/2/media/metadata":
            return 200, {}, {"data": {"associated_metadata": True, "id": request.json()["id"]}}
        return 404, {}, {"title": "Not Found"}

    def tweets(self) -> list[tuple[str, dict[str, Any]]]:
        """The account's posts (id, request body), oldest first."""
        return [(key, value) for key, value in self.objects.items() if not key.startswith("media:")]

    def _timeline(self, size: int, skip: int) -> dict[str, Any]:
        """One page of the v2 user timeline: the latest posts first (after the `skip` newest, which
        the pagination token carries), replies with their `referenced_tweets`."""
        newest_first = list(reversed(self.tweets()))
        data = []
        for tweet_id, body in newest_first[skip:skip + size]:
            tweet: dict[str, Any] = {"id": tweet_id, "text": body.get("text"), "edit_history_tweet_ids": [tweet_id]}
            parent = (body.get("reply") or {}).get("in_reply_to_tweet_id")
            if parent:
                tweet["referenced_tweets"] = [{"type": "replied_to", "id": parent}]
            data.append(tweet)
        meta: dict[str, Any] = {"result_count": len(data)}
        if skip + size < len(newest_first):
            meta["next_token"] = str(skip + size)
        return {"data": data, "meta": meta} if data else {"meta": meta}

    def _create(self, body: dict[str, Any]) -> Answer:
        if any(isinstance(t, dict) and t.get("text") == body.get("text") for t in self.objects.values()):
            return 403, {}, {"detail": "You are not allowed to create a Tweet with duplicate content.",
                             "title": "Forbidden", "status": 403, "type": "about:blank"}
        tweet_id = self.next_id()
        self.objects[tweet_id] = body
        return 201, {}, {"data": {"id": tweet_id, "text": body.get("text"), "edit_history_tweet_ids": [tweet_id]}}


class FakeMastodon(FakeService):
    """A Mastodon instance: instance info, v2 media, statuses with Idempotency-Key (kept until
    `expire_idempotency_keys`, as an instance keeps them an hour), the account's statuses, bearer token."""

    token = "masto-token"
    account_id = "109000"

    def account(self) -> dict[str, Any]:
        """The token's account, as verify_credentials returns it."""
        return {"id": self.account_id, "username": "fake", "acct": "fake", "display_name": "Fake",
                "url": f"{self.url}/@fake", "created_at": "2024-01-01T00:00:00.000Z"}

    def statuses(self) -> list[dict[str, Any]]:
        """The account's statuses, oldest first."""
        return [value for value in self.objects.values() if isinstance(value, dict) and "content" in value]

    def texts(self) -> list[str]:
        """The account's statuses as the text they were posted with, oldest first."""
        return [_status_text(status["content"]) for status in self.statuses()]

    def expire_idempotency_keys(self) -> None:
        """Forget every Idempotency-Key, as the instance does after an hour."""
        with self.lock:
            for key in [k for k in self.objects if k.startswith("idem:")]:
                del self.objects[key]

    def handle(self, request: Recorded) -> Answer:
        if request.path in ("/api/v1/instance", "/api/v2/instance"):
            return 200, {}, {"uri": "127.0.0.1", "title": "fake", "version": "4.3.0",
                             "api_versions": {"mastodon": 2}}
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return 401, {}, {"error": "The access token is invalid"}
        if request.path == "/api/v2/media":
            media_id = self.next_id()
            parts = request.multipart()
            self.objects[f"media:{media_id}"] = parts
            return 200, {}, {"id": media_id, "type": "image", "url": None, "preview_url": None,
                             "description": request.query.get("description", [None])[0]
                             or (parts.get("description") or b"").decode() or None}
        if request.path == "/api/v1/accounts/verify_credentials":
            return 200, {}, self.account()
        if request.path == f"/api/v1/accounts/{self.account_id}/statuses":
            limit = int(request.query.get("limit", ["20"])[0])
            return 200, {}, list(reversed(self.statuses()))[:limit]
        if request.path == "/api/v1/statuses" and request.method == "POST":
            return self._create(request)
        if request.path.startswith("/api/v1/statuses/") and request.method == "DELETE":
            status = self.objects.pop(request.path.rsplit("/", 1)[-1], None)
            return (200, {}, status) if status else (404, {}, {"error": "Record not found"})
        return 404, {}, {"error": "Record not found"}

    def _create(self, request: Recorded) -> Answer:
        key = request.headers.get("idempotency-key")
        if key and f"idem:{key}" in self.objects:
            return 200, {}, self.objects[self.objects[f"idem:{key}"]]
        body = _params(request)
        status_id = self.next_id()
        status = {
            "id": status_id, "uri": f"{self.url}/users/fake/statuses/{status_id}",
            "url": f"{self.url}/@fake/{status_id}", "content": _status_html(body.get("status") or ""),
            "created_at": "2025-03-24T09:00:00.000Z", "in_reply_to_id": body.get("in_reply_to_id"),
            "visibility": body.get("visibility", "public"), "media_attachments": [],
            "sensitive": False, "spoiler_text": "", "mentions": [], "tags": [], "emojis": [],
            "reblogs_count": 0, "favourites_count": 0, "replies_count": 0,
        }
        self.objects[status_id] = status
        if key:
            self.objects[f"idem:{key}"] = status_id
        return 200, {}, status


class FakeBluesky(FakeService):
    """A PDS: sessions, profile, blob upload (1,000,000-byte limit), records."""

    handle_name = "newsroom.test"
    password = "app-password"
    did = "did:plc:fake0000000000000000000"

    def handle(self, request: Recorded) -> Answer:
        nsid = request.path.removeprefix("/xrpc/")
        if nsid == "com.atproto.server.createSession":
            body = request.json()
            if body.get("password") != self.password:
                return 401, {}, {"error": "AuthenticationRequired", "message": "Invalid identifier or password"}
            return 200, {}, {"did": self.did, "handle": self.handle_name, "active": True,
                             "accessJwt": _jwt(self.did, "com.atproto.appPass"),
                             "refreshJwt": _jwt(self.did, "com.atproto.refresh")}
        if not request.headers.get("authorization", "").startswith("Bearer ey"):
            return 401, {}, {"error": "AuthenticationRequired", "message": "Authentication Required"}
        if nsid == "app.bsky.actor.getProfile":
            return 200, {}, {"did": self.did, "handle": self.handle_name}
        if nsid == "com.atproto.repo.uploadBlob":
            if len(request.body) > MAX_BLOB_BYTES:
                return 400, {}, {"error": "BlobTooLarge", "message": "This file is too large"}
            return 200, {}, {"blob": {"$type": "blob", "ref": {"$link": BLOB_CID},
                                      "mimeType": request.headers.get("content-type", "image/png"),
                                      "size": len(request.body)}}
        if nsid == "com.atproto.repo.createRecord":
            return self._create(request.json())
        if nsid == "com.atproto.repo.getRecord":
            query = {name: values[0] for name, values in request.query.items()}
            uri = f"at://{query['repo']}/{query['collection']}/{query['rkey']}"
            if uri not in self.objects:
                return 400, {}, {"error": "RecordNotFound", "message": f"Could not locate record: {uri}"}
            return 200, {}, {"uri": uri, "cid": RECORD_CID, "value": self.objects[uri]}
        if nsid == "com.atproto.repo.deleteRecord":
            body = request.json()
            self.objects.pop(f"at://{body['repo']}/{body['collection']}/{body['rkey']}", None)
            return 200, {}, {}
        return 501, {}, {"error": "MethodNotImplemented", "message": f"{nsid} not served"}


    def _create(self, body: dict[str, Any]) -> Answer:
        """createRecord: at the given rkey (refused when taken, as a PDS does) or a fresh one."""
        rkey = body.get("rkey") or f"3l{self.next_id()}aaaaaa"
        uri = f"at://{self.did}/{body['collection']}/{rkey}"
        with self.lock:
            if uri in self.objects:
                return 400, {}, {"error": "InvalidRequest", "message": f"Record already exists: {uri}"}
            self.objects[uri] = body["record"]
        return 200, {}, {"uri": uri, "cid": RECORD_CID}

    def posts(self) -> list[dict[str, Any]]:
        """The records of the account's posts, in creation order."""
        return [record for uri, record in self.objects.items() if uri.startswith("at://")]


def _status_html(text: str) -> str:
    """A status's text as Mastodon renders it: escaped, paragraphs and line breaks, links shown
    shortened (the scheme and the tail in invisible spans)."""
    def link(match: re.Match[str]) -> str:
        scheme, rest = match.group(1), match.group(2)
        return (f'<a href="{match.group(0)}" rel="nofollow noopener" target="_blank">'
                f'<span class="invisible">{scheme}</span><span class="ellipsis">{rest[:30]}</span>'
                f'<span class="invisible">{rest[30:]}</span></a>')

    paragraphs = [re.sub(r"(https?://)([^\s<]+)", link, html.escape(part, quote=False)).replace("\n", "<br />")
                  for part in text.split("\n\n")]
    return "".join(f"<p>{part}</p>" for part in paragraphs)


def _status_text(content: str) -> str:
    """The text a status's HTML was rendered from (`_status_html` undone)."""
    marked = content.replace("<br />", "\n").replace("</p><p>", "\n\n")
    return lxml_html.fromstring(marked).text_content()


def _jwt(did: str, scope: str) -> str:
    """An unsigned-looking JWT with the claims atproto reads (sub, scope, exp)."""
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    claims = {"sub": did, "scope": scope, "iat": int(time.time()), "exp": int(time.time()) + 7200}
    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(claims)}.c2lnbmF0dXJl"


def _params(request: Recorded) -> dict[str, Any]:
    """Form or JSON parameters of a Mastodon request (lists for `name[]` keys)."""
    if request.headers.get("content-type", "").startswith("application/json"):
        return request.json()
    if request.headers.get("content-type", "").startswith("multipart/"):
        return {k: v.decode() for k, v in request.multipart().items()}
    merged: dict[str, Any] = {}
    for key, values in {**request.query, **request.form()}.items():
        merged[key] = values if key.endswith("[]") else values[0]
    return merged


def _handler(service: FakeService) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            parts = urlsplit(self.path)
            request = Recorded(self.command, parts.path.rstrip("/") or "/", parse_qs(parts.query),
                               {k.lower(): v for k, v in self.headers.items()}, self.rfile.read(length))
            service.requests.append(request)
            fault = service.take_fault(parts.path)
            if fault and fault.stall:
                time.sleep(fault.stall)
                fault = None
            status, headers, body = (fault.status, fault.headers, fault.body) if fault else service.handle(request)
            data = json.dumps(body).encode()
            try:
                self.send_response(status)
                for name, value in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the client gave up (a timeout test)

        do_GET = do_POST = do_DELETE = do_PUT = do_HEAD = _serve

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

    return Handler


def serve(service: FakeService) -> Iterator[FakeService]:
    """Run `service` on 127.0.0.1 in a thread for the duration of a test."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(service))
    server.daemon_threads = True
    service.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield service
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(autouse=True)
def fresh_publishers() -> Iterator[None]:
    """Each test starts with no kept publisher (a fake's port may be reused by a later test)."""
    forget_publishers()
    yield
    forget_publishers()


@pytest.fixture
def fake_x() -> Iterator[FakeX]:
    """A loopback X API."""
    yield from serve(FakeX("x"))  # type: ignore[misc]


@pytest.fixture
def fake_mastodon() -> Iterator[FakeMastodon]:
    """A loopback Mastodon instance."""
    yield from serve(FakeMastodon("mastodon"))  # type: ignore[misc]


@pytest.fixture
def fake_bluesky() -> Iterator[FakeBluesky]:
    """A loopback Bluesky PDS."""
    yield from serve(FakeBluesky("bluesky"))  # type: ignore[misc]
