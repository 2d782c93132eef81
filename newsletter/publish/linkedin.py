"""LinkedIn publisher: organisation posts through the versioned Posts and Images APIs (httpx).

A post is one request (LinkedIn has no threads): POST /rest/posts, whose answer names the new
post's URN in the `x-restli-id` header. A card is uploaded first (initializeUpload, then PUT of
the bytes) and referenced with its alt text. The commentary is sent in LinkedIn's "little text"
format: reserved characters escaped outside URLs, #hashtags as hashtag templates.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import quote

import httpx

from newsletter.compose.length import find_urls
from newsletter.core.errors import PublishError
from newsletter.core.models import Media, Post
from newsletter.publish.base import PartAccepted, Published
from newsletter.publish.faults import AlreadyPosted, AuthFailed, auth_message
from newsletter.publish.rest import RestClient
from newsletter.publish.settings import LinkedInConfig

RESTLI_VERSION = "2.0.0"
RECENT_POSTS = 20
MAX_ALT_TEXT = 4086
RESERVED = re.compile(r"([\\|{}@\[\]()<>#*_~])")
HASHTAG = re.compile(r"(?<![\w#])#(\w+)")
DUPLICATE = re.compile(r"duplicate of (urn:li:[A-Za-z]+:[0-9]+)")


class LinkedInPublisher:
    """Posts to a LinkedIn organisation page, a card as an image with alt text; no threads."""

    type_name: ClassVar[str] = "linkedin"
    platform: ClassVar[str] = LinkedInConfig.platform

    Config: ClassVar[type[LinkedInConfig]] = LinkedInConfig

    def __init__(self, config: LinkedInConfig, *, environ: Mapping[str, str] | None = None):
        self.config = config
        self.environ = os.environ if environ is None else environ

    @property
    def author(self) -> str:
        """The organisation's URN, the author of every post."""
        return f"urn:li:organization:{self.config.organization_id}"

    def describe(self) -> str:
        """One line describing the channel, secrets redacted."""
        c = self.config
        return f"linkedin channel {c.name} for {self.author} via {c.base_url} (API {c.api_version})"

    def publish(self, post: Post, *, idempotency_key: str, done: Sequence[str] = (),
                on_part: PartAccepted | None = None, verify: bool = False) -> Published:
        """Post the text (never a thread: extra parts are refused), the card with its alt text;
        with `verify`, the organisation's recent posts are searched for the same commentary first."""
        if post.thread:
            raise PublishError(f"channel {self.config.name}: LinkedIn has no threads; the post has "
                               f"{len(post.thread) + 1} parts")
        if done:
            return Published(done[0], self.post_url(done[0]))
        commentary = little_text(post.text)
        client = self._client()
        try:
            urn = self.find_posted(client, commentary) if verify else None
            if urn is None:
                urn = self._create(client, commentary, post.media[0] if post.media else None)
        finally:
            client.close()
        published = Published(urn, self.post_url(urn))
        if on_part is not None:
            on_part(published)
        return published

    def find_posted(self, client: RestClient, commentary: str) -> str | None:
        """The URN of the organisation's recent post with this commentary, if any."""
        response = client.request("GET", "/rest/posts", headers={"X-RestLi-Method": "FINDER"},
                                  params={"author": self.author, "q": "author", "count": RECENT_POSTS})
        wanted = " ".join(commentary.split())
        for element in response.json().get("elements") or []:
            if " ".join(str(element.get("commentary", "")).split()) == wanted:
                return str(element["id"])
        return None

    def delete(self, provider_id: str) -> None:
        """Delete a published post (one already gone counts as deleted)."""
        client = self._client()
        try:
            client.request("DELETE", f"/rest/posts/{quote(provider_id, safe='')}",
                           headers={"X-RestLi-Method": "DELETE"})
        except PublishError as error:
            if "HTTP 404" not in str(error):
                raise
        finally:
            client.close()

    def post_url(self, urn: str) -> str:
        """The public URL of a post."""
        return f"https://www.linkedin.com/feed/update/{urn}/"

    def upload_image(self, client: RestClient, media: Media) -> str:
        """Upload one image through the Images API; its URN."""
        response = client.request("POST", "/rest/images", params={"action": "initializeUpload"},
                                  json={"initializeUploadRequest": {"owner": self.author}})
        value = response.json().get("value") or {}
        upload_url, image = value.get("uploadUrl"), value.get("image")
        if not upload_url or not image:
            raise PublishError(f"channel {self.config.name}: initializeUpload answered without an upload URL")
        client.request("PUT", str(upload_url), content=Path(media.path).read_bytes(),
                       headers={"Content-Type": media.mime_type})
        return str(image)

    def _create(self, client: RestClient, commentary: str, media: Media | None) -> str:
        """Create the post (with the uploaded image); its URN. A duplicate resolves to the original."""
        body: dict[str, Any] = {
            "author": self.author,
            "commentary": commentary,
            "visibility": "PUBLIC",
            "distribution": {"feedDistribution": "MAIN_FEED", "targetEntities": [],
                             "thirdPartyDistributionChannels": []},
            "lifecycleState": "PUBLISHED",
            "isReshareDisabledByAuthor": False,
        }
        if media is not None:
            body["content"] = {"media": {"id": self.upload_image(client, media),
                                         "altText": media.alt_text[:MAX_ALT_TEXT]}}
        try:
            response = client.request("POST", "/rest/posts", json=body, creating=True)
        except AlreadyPosted as error:
            original = DUPLICATE.search(str(error))
            if original is None:
                raise
            return str(original.group(1))
        urn = str(response.headers.get("x-restli-id", ""))
        if not urn:
            raise PublishError(f"channel {self.config.name}: the post was accepted without an x-restli-id")
        return urn

    def _client(self) -> RestClient:
        """A client with the token and the versioned-API headers; AuthFailed when the token is not set."""
        token = self.environ.get(self.config.access_token_env)
        if not token:
            raise AuthFailed(auth_message(self.config.name, [self.config.access_token_env], "token not set"))
        headers = {"LinkedIn-Version": self.config.api_version, "X-Restli-Protocol-Version": RESTLI_VERSION}
        return RestClient(self.config.name, self.config.base_url, self.config.access_token_env, token,
                          timeout=self.config.timeout, headers=headers, classify=self._classify)

    def _classify(self, response: httpx.Response) -> AlreadyPosted | None:
        """LinkedIn's duplicate refusal (422 "Content is a duplicate of urn:li:share:…")."""
        if response.status_code == 422 and "duplicate" in response.text.lower():
            original = DUPLICATE.search(response.text)
            of = f"duplicate of {original.group(1)}" if original else "duplicate of an earlier post"
            return AlreadyPosted(f"channel {self.config.name}: LinkedIn refused the post as a {of}")
        return None


def little_text(text: str) -> str:
    """`text` in LinkedIn's little text format: reserved characters backslash-escaped outside
    URLs, #hashtags as `{hashtag|\\#|tag}` templates."""
    pieces: list[str] = []
    cursor = 0
    for start, end, _ in find_urls(text):
        pieces.append(_escape(text[cursor:start]))
        pieces.append(text[start:end])
        cursor = end
    pieces.append(_escape(text[cursor:]))
    return "".join(pieces)


def _escape(segment: str) -> str:
    """Escape a stretch of plain text, turning its hashtags into templates."""
    out: list[str] = []
    cursor = 0
    for match in HASHTAG.finditer(segment):
        tag = _escape_reserved(match.group(1))
        out += [_escape_reserved(segment[cursor:match.start()]), "{hashtag|\\#|" + tag + "}"]
        cursor = match.end()
    out.append(_escape_reserved(segment[cursor:]))
    return "".join(out)


def _escape_reserved(plain: str) -> str:
    """Backslash-escape little text's reserved characters."""
    return RESERVED.sub(r"\\\1", plain)
