"""Threads publisher: Meta's Threads API (graph.threads.net) through httpx.

Each part is a media container (POST /v1.0/{user-id}/threads: TEXT, or IMAGE with an image URL
Threads fetches itself, and its alt text), published by POST /v1.0/{user-id}/threads_publish;
a thread's later parts reply to the part before. Only the publish call creates a post: a lost
answer there is Unconfirmed, and `verify` then looks for the part among the account's recent
posts (the first part) or the replies under the part before.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import httpx

from newsletter.core.errors import PublishError
from newsletter.core.models import Media, Post
from newsletter.publish.base import PartAccepted, Published
from newsletter.publish.faults import AuthFailed, RateLimited, Transient, auth_message
from newsletter.publish.rest import RestClient, error_detail, reset_time
from newsletter.publish.settings import ThreadsConfig

API = "/v1.0"
RECENT_POSTS = 25
MAX_ALT_TEXT = 1000
POLL_SECONDS = 1.0
RATE_LIMIT_CODES = frozenset({4, 17, 32, 613})  # Meta's "too many calls" error codes
TOKEN_ERROR_CODE = 190  # Meta's invalid or expired access token


class ThreadsPublisher:
    """Posts to a Threads account: text or an image with alt text, threads as reply chains."""

    type_name: ClassVar[str] = "threads"
    platform: ClassVar[str] = ThreadsConfig.platform

    Config: ClassVar[type[ThreadsConfig]] = ThreadsConfig

    def __init__(self, config: ThreadsConfig, *, environ: Mapping[str, str] | None = None,
                 sleep: Callable[[float], None] = time.sleep):
        self.config = config
        self.environ = os.environ if environ is None else environ
        self.sleep = sleep

    def describe(self) -> str:
        """One line describing the channel, secrets redacted."""
        c = self.config
        return f"threads channel {c.name} as {c.account or c.user_id} via {c.base_url} (images from {c.image_base_url})"

    def publish(self, post: Post, *, idempotency_key: str, done: Sequence[str] = (),
                on_part: PartAccepted | None = None, verify: bool = False) -> Published:
        """Post the parts of the text and thread after `done` (the image on the first), each a reply
        to the previous; with `verify`, each part is looked for on the service before it is created."""
        client = self._client()
        ids = list(done)
        texts = [post.text, *post.thread]
        try:
            for index in range(len(ids), len(texts)):
                reply_to = ids[-1] if ids else None
                found = self.find_posted(client, texts[index], reply_to) if verify else None
                if found is None:
                    media = post.media[0] if index == 0 and post.media else None
                    found = self._create(client, texts[index], media, reply_to)
                ids.append(found)
                if on_part is not None:
                    on_part(Published(found, self._permalink(client, found)))
            return Published(",".join(ids), self._permalink(client, ids[0]))
        finally:
            client.close()

    def find_posted(self, client: RestClient, text: str, reply_to: str | None) -> str | None:
        """The id of the account's recent post with this text (or its reply under `reply_to`), if any."""
        if reply_to is None:
            url, fields = f"{API}/{self.config.user_id}/threads", "id,text"
        else:
            url, fields = f"{API}/{reply_to}/replies", "id,text,is_reply_owned_by_me"
        response = client.request("GET", url, params={"fields": fields, "limit": RECENT_POSTS})
        wanted = " ".join(text.split())
        for item in response.json().get("data") or []:
            mine = reply_to is None or item.get("is_reply_owned_by_me", False)
            if mine and " ".join(str(item.get("text") or "").split()) == wanted:
                return str(item["id"])
        return None

    def delete(self, provider_id: str) -> None:
        """Delete a published post (every part of a thread, last first)."""
        client = self._client()
        try:
            for media_id in reversed(provider_id.split(",")):
                client.request("DELETE", f"{API}/{media_id}")
        finally:
            client.close()

    def image_url(self, media: Media) -> str:
        """The public URL Threads fetches a card from: `<image_base_url>/<channel folder>/<file>`."""
        if not self.config.image_base_url:
            raise PublishError(f"channel {self.config.name}: a card needs image_base_url (a public URL)")
        path = Path(media.path)
        return f"{self.config.image_base_url.rstrip('/')}/{path.parent.name}/{path.name}"

    def _create(self, client: RestClient, text: str, media: Media | None, reply_to: str | None) -> str:
        """Create one part's container, wait until it is ready, publish it; the post's id."""
        data: dict[str, str] = {"media_type": "TEXT", "text": text}
        if media is not None:
            data |= {"media_type": "IMAGE", "image_url": self.image_url(media),
                     "alt_text": media.alt_text[:MAX_ALT_TEXT]}
        if reply_to is not None:
            data["reply_to_id"] = reply_to
        container = self._id(client.request("POST", f"{API}/{self.config.user_id}/threads", data=data))
        self._wait_until_ready(client, container)
        published = client.request("POST", f"{API}/{self.config.user_id}/threads_publish",
                                   data={"creation_id": container}, creating=True)
        return self._id(published)

    def _wait_until_ready(self, client: RestClient, container: str) -> None:
        """Poll the container until Threads has processed it (fetched the image); Transient if it takes too long."""
        deadline = time.monotonic() + self.config.container_wait
        while True:
            body = client.request("GET", f"{API}/{container}", params={"fields": "status,error_message"}).json()
            status = body.get("status")
            if status in ("FINISHED", None):
                return
            if status in ("ERROR", "EXPIRED"):
                raise PublishError(f"channel {self.config.name}: container {status}: {body.get('error_message', '')}")
            if time.monotonic() >= deadline:
                raise Transient(f"channel {self.config.name}: container {container} still {status}")
            self.sleep(POLL_SECONDS)

    def _permalink(self, client: RestClient, media_id: str) -> str | None:
        """The post's public URL, when Threads answers (the post exists either way)."""
        try:
            body = client.request("GET", f"{API}/{media_id}", params={"fields": "permalink"}).json()
        except PublishError:
            return None
        return str(body["permalink"]) if body.get("permalink") else None

    def _id(self, response: httpx.Response) -> str:
        """The `id` of a created container or post."""
        created = response.json().get("id")
        if not created:
            raise PublishError(f"channel {self.config.name}: Threads answered without an id")
        return str(created)

    def _client(self) -> RestClient:
        """A client with the token; AuthFailed when it is not set."""
        token = self.environ.get(self.config.access_token_env)
        if not token:
            raise AuthFailed(auth_message(self.config.name, [self.config.access_token_env], "token not set"))
        return RestClient(self.config.name, self.config.base_url, self.config.access_token_env, token,
                          timeout=self.config.timeout, classify=self._classify)

    def _classify(self, response: httpx.Response) -> PublishError | None:
        """Meta's error codes: rate limits and invalid tokens come as HTTP 400 with a code."""
        code = _error_code(response)
        if code in RATE_LIMIT_CODES:
            return RateLimited(f"channel {self.config.name}: rate limited (code {code})", reset_time(response))
        if code == TOKEN_ERROR_CODE:
            return AuthFailed(auth_message(self.config.name, [self.config.access_token_env], error_detail(response)))
        return None


def _error_code(response: httpx.Response) -> int | None:
    """The `error.code` of a Graph API error body, if any."""
    try:
        body: Any = response.json()
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    return code if isinstance(code, int) else None
