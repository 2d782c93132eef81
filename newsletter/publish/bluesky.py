"""Bluesky publisher: atproto's `Client` against the configured PDS.

Links and hashtags become rich-text facets through atproto's `TextBuilder`; a card becomes an
image embed with its alt text, re-encoded when needed to stay under the 1,000,000-byte blob
limit. The client stays on the configured `base_url` (a gateway or a loopback server) rather
than following the PDS named in the session's DID document.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import httpx
from atproto import Client, models
from atproto_client.exceptions import (
    AtProtocolError,
    NetworkError,
    RateLimitExceededError,
    RequestException,
    UnauthorizedError,
)
from atproto_client.request import Request
from atproto_client.utils import TextBuilder
from PIL import Image

from newsletter.compose.length import find_urls
from newsletter.core.errors import PublishError
from newsletter.core.models import Media, Post
from newsletter.publish.base import Published
from newsletter.publish.faults import AuthFailed, RateLimited, Transient, Uncertain, auth_message
from newsletter.publish.settings import BlueskyConfig

MAX_IMAGE_BYTES = 1_000_000
HASHTAG = re.compile(r"(?<![\w#])#(\w+)")


class PinnedClient(Client):
    """An atproto client that keeps talking to the URL it was given."""

    def _update_pds_endpoint(self, pds_endpoint: str) -> None:
        """Ignore the PDS named in the session: the configured base URL is the way in."""


class BlueskyPublisher:
    """Posts to Bluesky with link facets and image embeds with alt text."""

    type_name: ClassVar[str] = "bluesky"
    platform: ClassVar[str] = BlueskyConfig.platform

    Config: ClassVar[type[BlueskyConfig]] = BlueskyConfig

    def __init__(self, config: BlueskyConfig, *, environ: Mapping[str, str] | None = None):
        self.config = config
        self.environ = os.environ if environ is None else environ

    def describe(self) -> str:
        """One line describing the channel, secrets redacted."""
        return f"bluesky channel {self.config.name} as {self.config.handle} via {self.config.base_url}"

    def publish(self, post: Post, *, idempotency_key: str) -> Published:
        """Post the text (and thread replies), the card as an image embed on the first post."""
        client = self._login()
        embed = self._embed(client, post.media) if post.media else None
        created: list[Any] = []
        for index, text in enumerate([post.text, *post.thread]):
            reply_to = None
            if created:
                reply_to = models.AppBskyFeedPost.ReplyRef(
                    root=models.create_strong_ref(created[0]), parent=models.create_strong_ref(created[-1])
                )
            try:
                response = self._call(
                    client.send_post, rich_text(text), reply_to=reply_to, embed=embed if index == 0 else None,
                    langs=[post.language], creating=True,
                )
            except PublishError as error:
                if created:
                    done = ",".join(r.uri for r in created)
                    raise Uncertain(f"thread cut after {done}: {error}") from error
                raise
            created.append(response)
        return Published(",".join(r.uri for r in created), self.post_url(created[0].uri))

    def delete(self, provider_id: str) -> None:
        """Delete a published post (every part of a thread, last first)."""
        client = self._login()
        for uri in reversed(provider_id.split(",")):
            self._call(client.delete_post, uri)

    def post_url(self, uri: str) -> str:
        """The bsky.app URL of a post's AT URI."""
        return f"https://bsky.app/profile/{self.config.handle}/post/{uri.rsplit('/', 1)[-1]}"

    def _login(self) -> PinnedClient:
        """A client logged in with the app password; AuthFailed when it is not set or refused."""
        password = self.environ.get(self.config.app_password_env)
        if not password:
            raise AuthFailed(auth_message(self.config.name, [self.config.app_password_env], "app password not set"))
        client = PinnedClient(self.config.base_url, request=Request(timeout=self.config.timeout))
        self._call(client.login, self.config.handle, password)
        return client

    def _embed(self, client: PinnedClient, media: list[Media]) -> models.AppBskyEmbedImages.Main:
        """The image embed for the cards (at most four), each uploaded as a blob with its alt text."""
        images = []
        for item in media[:4]:
            data, width, height = image_under_limit(Path(item.path).read_bytes())
            blob = self._call(client.upload_blob, data).blob
            ratio = models.AppBskyEmbedDefs.AspectRatio(width=width, height=height)
            images.append(models.AppBskyEmbedImages.Image(alt=item.alt_text, image=blob, aspect_ratio=ratio))
        return models.AppBskyEmbedImages.Main(images=images)

    def _call(self, function: Any, *args: Any, creating: bool = False, **kwargs: Any) -> Any:
        """Call atproto, turning its errors into publish faults (`creating`: a failure in flight is uncertain)."""
        name = self.config.name
        try:
            return function(*args, **kwargs)
        except RateLimitExceededError as error:
            raise RateLimited(f"channel {name}: rate limited", error.reset_at) from None
        except UnauthorizedError as error:
            raise AuthFailed(auth_message(name, [self.config.app_password_env], str(error)[:300])) from None
        except NetworkError as error:
            if creating and not _never_sent(error):
                raise Uncertain(f"channel {name}: the post request failed in flight ({type(error).__name__})") from None
            raise Transient(f"channel {name}: network error ({type(error).__name__}: {error})") from None
        except RequestException as error:
            status = error.response.status_code if error.response is not None else 0
            if status >= 500:
                raise Transient(f"channel {name}: server error {error}") from None
            raise PublishError(f"channel {name}: {error}") from None
        except AtProtocolError as error:
            raise PublishError(f"channel {name}: {type(error).__name__}: {error}") from None


def rich_text(text: str) -> TextBuilder:
    """`text` as a TextBuilder: URLs as link facets, #hashtags as tag facets."""
    spans = [(start, end, "link", url) for start, end, url in find_urls(text)]
    spans += [(m.start(), m.end(), "tag", m.group(1)) for m in HASHTAG.finditer(text)
              if not any(s <= m.start() < e for s, e, _, _ in spans)]
    builder = TextBuilder()
    cursor = 0
    for start, end, kind, value in sorted(spans):
        if start < cursor:
            continue
        if start > cursor:
            builder.text(text[cursor:start])
        if kind == "link":
            builder.link(text[start:end], value if "://" in value else f"https://{value}")
        else:
            builder.tag(text[start:end], value)
        cursor = end
    if cursor < len(text):
        builder.text(text[cursor:])
    return builder


def image_under_limit(data: bytes) -> tuple[bytes, int, int]:
    """The image bytes (re-encoded as JPEG, smaller each time, if over 1,000,000 bytes) and size."""
    image = Image.open(io.BytesIO(data))
    width, height = image.size
    if len(data) <= MAX_IMAGE_BYTES:
        return data, width, height
    rgb = image.convert("RGB")
    for quality in (90, 80, 70, 60, 50):
        out = io.BytesIO()
        rgb.save(out, format="JPEG", quality=quality, optimize=True)
        if out.tell() <= MAX_IMAGE_BYTES:
            return out.getvalue(), width, height
        rgb = rgb.resize((max(1, rgb.width * 3 // 4), max(1, rgb.height * 3 // 4)))
    raise PublishError(f"image of {len(data)} bytes cannot be brought under {MAX_IMAGE_BYTES} bytes")


def _never_sent(error: NetworkError) -> bool:
    """True when the request surely never reached the server (connection refused)."""
    cause = error.__cause__
    return error.response is None and isinstance(cause, httpx.ConnectError | httpx.ConnectTimeout)
