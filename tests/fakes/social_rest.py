"""Loopback HTTP servers standing in for the LinkedIn (versioned REST) and Threads (Graph) APIs.

Built on the fakes of tests/fakes/social_apis.py: every request recorded, faults on demand with
`service.fail(path_part, status, ...)` and `service.stall(path_part, seconds)`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

import pytest

from tests.fakes.social_apis import Answer, FakeService, Recorded, serve


class FakeLinkedIn(FakeService):
    """The Posts and Images APIs of one organisation page, a bearer token and version headers."""

    token = "li-token"
    organization = "urn:li:organization:5515715"

    def handle(self, request: Recorded) -> Answer:
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return 401, {}, {"status": 401, "serviceErrorCode": 65600, "code": "INVALID_ACCESS_TOKEN",
                             "message": "Invalid access token"}
        if request.path.startswith("/dms-uploads/") and request.method == "PUT":
            self.objects[f"upload:{request.path.rsplit('/', 1)[-1]}"] = request.body
            return 201, {}, {}
        if not request.headers.get("linkedin-version", "").isdigit() or \
                request.headers.get("x-restli-protocol-version") != "2.0.0":
            return 400, {}, {"status": 400, "code": "VERSION_MISSING", "message": "A version header is missing"}
        if request.path == "/rest/images" and request.query.get("action") == ["initializeUpload"]:
            return self._initialize_upload(request.json())
        if request.path == "/rest/posts" and request.method == "POST":
            return self._create(request.json())
        if request.path == "/rest/posts" and request.method == "GET":
            return self._by_author(request)
        if request.path.startswith("/rest/posts/") and request.method == "DELETE":
            urn = unquote(request.path.removeprefix("/rest/posts/"))
            return (200, {}, {}) if self.objects.pop(urn, None) else (404, {}, {"status": 404, "message": "Not found"})
        return 404, {}, {"status": 404, "message": f"no resource {request.path}"}

    def posts(self) -> list[tuple[str, dict[str, Any]]]:
        """The organisation's posts (URN, request body), oldest first."""
        return [(key, value) for key, value in self.objects.items() if key.startswith("urn:li:share:")]

    def _initialize_upload(self, body: dict[str, Any]) -> Answer:
        if body["initializeUploadRequest"]["owner"] != self.organization:
            return 403, {}, {"status": 403, "message": "Not an administrator of the owner"}
        image_id = self.next_id()
        return 200, {}, {"value": {"uploadUrlExpiresAt": 1_900_000_000_000, "image": f"urn:li:image:C4D{image_id}",
                                   "uploadUrl": f"{self.url}/dms-uploads/C4D{image_id}"}}

    def _create(self, body: dict[str, Any]) -> Answer:
        for urn, existing in self.posts():
            if existing["commentary"] == body["commentary"]:
                return 422, {}, {"status": 422, "message": f"Content is a duplicate of {urn}"}
        image = ((body.get("content") or {}).get("media") or {}).get("id")
        if image and f"upload:{image.rsplit(':', 1)[-1]}" not in self.objects:
            return 400, {}, {"status": 400, "message": f"image {image} was never uploaded"}
        urn = f"urn:li:share:{self.next_id()}"
        self.objects[urn] = body
        return 201, {"x-restli-id": urn}, {}

    def _by_author(self, request: Recorded) -> Answer:
        if request.query.get("q") != ["author"] or request.headers.get("x-restli-method") != "FINDER":
            return 400, {}, {"status": 400, "message": "finder expected"}
        count = int(request.query.get("count", ["10"])[0])
        elements = [{"id": urn, "author": body["author"], "commentary": body["commentary"],
                     "lifecycleState": body["lifecycleState"]}
                    for urn, body in reversed(self.posts()) if body["author"] == request.query["author"][0]]
        return 200, {}, {"elements": elements[:count], "paging": {"start": 0, "count": count}}


class FakeThreads(FakeService):
    """Meta's Threads API for one account: containers, publishing, recent posts, replies, deletion."""

    token = "threads-token"
    user_id = "17841400000000001"

    def handle(self, request: Recorded) -> Answer:
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return 400, {}, {"error": {"message": "Invalid OAuth access token - Cannot parse access token",
                                       "type": "OAuthException", "code": 190, "fbtrace_id": "Afake"}}
        parts = request.path.removeprefix("/v1.0/").split("/")
        owner = parts[0] in ("me", self.user_id)
        if request.method == "POST" and owner and parts[1:] == ["threads"]:
            return self._container(_params(request))
        if request.method == "POST" and owner and parts[1:] == ["threads_publish"]:
            return self._publish(_params(request).get("creation_id", ""))
        if request.method == "GET" and owner and parts[1:] == ["threads"]:
            return 200, {}, {"data": [{"id": i, "text": p.get("text")} for i, p in reversed(self.posts())
                                      if not p.get("reply_to_id")]}
        if request.method == "GET" and parts[1:] == ["replies"]:
            return 200, {}, {"data": [{"id": i, "text": p.get("text"), "is_reply_owned_by_me": True}
                                      for i, p in self.posts() if p.get("reply_to_id") == parts[0]]}
        if len(parts) == 1:
            return self._node(request.method, parts[0])
        return 400, {}, {"error": {"message": "Unsupported request", "type": "GraphMethodException", "code": 100}}

    def posts(self) -> list[tuple[str, dict[str, Any]]]:
        """The account's published posts (id, container parameters), oldest first."""
        return [(key.removeprefix("post:"), value) for key, value in self.objects.items() if key.startswith("post:")]

    def _container(self, params: dict[str, str]) -> Answer:
        if params.get("media_type") == "IMAGE" and not params.get("image_url", "").startswith(("http://", "https://")):
            return 400, {}, {"error": {"message": "image_url is required", "type": "THApiException", "code": 100}}
        reply_to = params.get("reply_to_id")
        if reply_to and f"post:{reply_to}" not in self.objects:
            return 400, {}, {"error": {"message": "reply_to_id does not exist", "type": "THApiException", "code": 100}}
        container_id = self.next_id()
        self.objects[f"container:{container_id}"] = {**params, "status": "FINISHED"}
        return 200, {}, {"id": container_id}

    def _publish(self, creation_id: str) -> Answer:
        container = self.objects.get(f"container:{creation_id}")
        if container is None or container["status"] != "FINISHED":
            return 400, {}, {"error": {"message": "The media is not ready to be published", "code": 24,
                                       "type": "THApiException"}}
        container["status"] = "PUBLISHED"
        post_id = self.next_id()
        self.objects[f"post:{post_id}"] = {k: v for k, v in container.items() if k != "status"}
        return 200, {}, {"id": post_id}

    def _node(self, method: str, node_id: str) -> Answer:
        if method == "GET" and f"container:{node_id}" in self.objects:
            return 200, {}, {"id": node_id, "status": self.objects[f"container:{node_id}"]["status"]}
        if method == "GET" and f"post:{node_id}" in self.objects:
            return 200, {}, {"id": node_id, "permalink": f"https://www.threads.net/@newsroom/post/C{node_id}"}
        if method == "DELETE" and self.objects.pop(f"post:{node_id}", None) is not None:
            return 200, {}, {"success": True, "deleted_id": node_id}
        return 400, {}, {"error": {"message": f"Object {node_id} does not exist", "type": "GraphMethodException",
                                   "code": 100}}


def _params(request: Recorded) -> dict[str, str]:
    """The query and form parameters of a Graph API call, one value each."""
    form = request.form() if request.body else {}
    return {key: values[0] for key, values in {**request.query, **form}.items()}


@pytest.fixture
def fake_linkedin() -> Iterator[FakeLinkedIn]:
    """A loopback LinkedIn API."""
    yield from serve(FakeLinkedIn("linkedin"))  # type: ignore[misc]


@pytest.fixture
def fake_threads() -> Iterator[FakeThreads]:
    """A loopback Threads API."""
    yield from serve(FakeThreads("threads"))  # type: ignore[misc]
