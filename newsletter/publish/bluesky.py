"""Bluesky publisher: atproto's `Client` against the configured PDS.

Links and hashtags become the rich-text facets atproto's detection finds (as the app does); a
card becomes an image embed with its alt text, re-encoded when needed to stay under the 1,000,000-byte blob
limit. The client stays on the configured `base_url` (a gateway or a loopback server) rather
than following the PDS named in the session's DID document.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import httpx
from atproto import Client, models
from atproto_client.exceptions import (
    AtProtocolError,
    NetworkError,
    RateLimitExceededError,
    RequestErrorBase,
    UnauthorizedError,
)
from atproto_client.request import Request
from atproto_client.utils.facet_detection import detect_facets
from PIL import Image

from newsletter.core.errors import PublishError
from newsletter.core.models import Media, Post
from newsletter.publish.base import PartAccepted, Published
from newsletter.publish.faults import AuthFailed, RateLimited, Transient, Uncertain, Unconfirmed, auth_message
from newsletter.publish.settings import BlueskyConfig

MAX_IMAGE_BYTES = 1_000_000
TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"
TID_EPOCH_MICROS = 1_672_531_200_000_000  # 2023-01-01: derived record keys read as past times
TID_SPAN_MICROS = 365 * 86_400_000_000


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
        self.client: PinnedClient | None = None

    def describe(self) -> str:
        """One line describing the channel, secrets redacted."""
        return f"bluesky channel {self.config.name} as {self.config.handle} via {self.config.base_url}"

    def publish(self, post: Post, *, idempotency_key: str, done: Sequence[str] = (),
                on_part: PartAccepted | None = None, verify: bool = False) -> Published:
        """Post the text and thread replies after `done`, the card as an image embed on the first.
        Each part's record key is derived from the idempotency key, so a repeated create finds
        the record already there (and with `verify` it is looked up first) instead of posting twice."""
        client = self._session()
        refs = [self._ref(client, uri) for uri in done]
        texts = [post.text, *post.thread]
        for index in range(len(refs), len(texts)):
            rkey = record_key(idempotency_key, index)
            ref = self._existing(client, rkey) if verify else None
            if ref is None:
                embed = self._embed(client, post.media) if index == 0 and post.media else None
                record = models.AppBskyFeedPost.Record(
                    created_at=client.get_current_time_iso(), text="", langs=[post.language],
                    reply=_reply(refs), embed=embed,
                )
                ref = self._create(client, rkey, record, texts[index])
            refs.append(ref)
            if on_part is not None:
                on_part(Published(ref.uri, self.post_url(ref.uri)))
        return Published(",".join(ref.uri for ref in refs), self.post_url(refs[0].uri))

    def delete(self, provider_id: str) -> None:
        """Delete a published post (every part of a thread, last first)."""
        client = self._session()
        for uri in reversed(provider_id.split(",")):
            self._call(client.delete_post, uri)

    def post_url(self, uri: str) -> str:
        """The bsky.app URL of a post's AT URI."""
        return f"https://bsky.app/profile/{self.config.handle}/post/{uri.rsplit('/', 1)[-1]}"

    def _session(self) -> PinnedClient:
        """The publisher's logged-in client: one login per publisher, then atproto refreshes the
        session with its refresh token (createSession is limited to 30 per 5 minutes)."""
        if self.client is None:
            self.client = self._login()
        return self.client

    def _login(self) -> PinnedClient:
        """A client logged in with the app password; AuthFailed when it is not set or refused."""
        password = self.environ.get(self.config.app_password_env)
        if not password:
            raise AuthFailed(auth_message(self.config.name, [self.config.app_password_env], "app password not set"))
        client = PinnedClient(self.config.base_url, request=Request(timeout=self.config.timeout))
        self._call(client.login, self.config.handle, password)
        return client

    def _create(self, client: PinnedClient, rkey: str, record: models.AppBskyFeedPost.Record,
                text: str) -> models.ComAtprotoRepoStrongRef.Main:
        """Create the record at `rkey`; when the PDS says it exists already, the existing one."""
        record.text, record.facets = text, link_and_tag_facets(text)
        try:
            created = self._call(client.app.bsky.feed.post.create, self._did(client), record, rkey=rkey,
                                 creating=True)
        except Exists:
            existing = self._existing(client, rkey)
            if existing is None:
                raise Uncertain(f"channel {self.config.name}: record {rkey} said to exist but not found") from None
            return existing
        return models.ComAtprotoRepoStrongRef.Main(uri=created.uri, cid=created.cid)

    def _existing(self, client: PinnedClient, rkey: str) -> models.ComAtprotoRepoStrongRef.Main | None:
        """The account's post at `rkey`, if there is one."""
        try:
            found = self._call(client.app.bsky.feed.post.get, self._did(client), rkey)
        except NotFound:
            return None
        return models.ComAtprotoRepoStrongRef.Main(uri=found.uri, cid=found.cid)

    def _ref(self, client: PinnedClient, uri: str) -> models.ComAtprotoRepoStrongRef.Main:
        """A strong reference (URI and current CID) to an accepted part, for the replies after it."""
        ref = self._existing(client, uri.rsplit("/", 1)[-1])
        if ref is None:
            raise PublishError(f"channel {self.config.name}: thread part {uri} is gone; retract or settle the post")
        return ref

    def _did(self, client: PinnedClient) -> str:
        """The DID of the logged-in account."""
        return str(client.me.did) if client.me else ""

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
                lost = f"channel {name}: the post request lost its answer ({type(error).__name__})"
                raise Unconfirmed(lost) from None
            raise Transient(f"channel {name}: network error ({type(error).__name__}: {error})") from None
        except RequestErrorBase as error:
            status = error.response.status_code if error.response is not None else 0
            if status >= 500:
                raise Transient(f"channel {name}: server error {error}") from None
            raise _client_error(name, error) from None
        except AtProtocolError as error:
            raise PublishError(f"channel {name}: {type(error).__name__}: {error}") from None


class NotFound(PublishError):
    """The PDS has no record at the key asked for."""


class Exists(PublishError):
    """The PDS already has a record at the key a create asked for."""


def _client_error(channel: str, error: RequestErrorBase) -> PublishError:
    """The fault for a 4xx answer: a missing or existing record, else a plain PublishError."""
    content = error.response.content if error.response is not None else None
    code = str(getattr(content, "error", "") or "")
    message = str(getattr(content, "message", "") or "")
    if code == "RecordNotFound" or "could not locate record" in message.lower():
        return NotFound(f"channel {channel}: {message or code}")
    if "already exists" in message.lower():
        return Exists(f"channel {channel}: {message}")
    return PublishError(f"channel {channel}: {error}")


def record_key(idempotency_key: str, index: int) -> str:
    """The record key of part `index` of a post: a TID (13 base32-sortable characters) derived
    from the ledger key, so every attempt at the same part targets the same record."""
    digest = int.from_bytes(hashlib.sha256(f"{idempotency_key}:{index}".encode()).digest()[:8], "big")
    micros = TID_EPOCH_MICROS + digest % TID_SPAN_MICROS
    value = (micros << 10) | (digest >> 54)
    return "".join(TID_ALPHABET[(value >> shift) & 31] for shift in range(60, -1, -5))


def _reply(refs: list[models.ComAtprotoRepoStrongRef.Main]) -> models.AppBskyFeedPost.ReplyRef | None:
    """The reply reference to the thread so far (its root and last part), None for the first part."""
    return models.AppBskyFeedPost.ReplyRef(root=refs[0], parent=refs[-1]) if refs else None


def link_and_tag_facets(text: str) -> list[models.AppBskyRichtextFacet.Main] | None:
    """The facets the Bluesky app itself would show for `text` (atproto's detection: every link,
    an IP host or a bare domain included, and every #hashtag), with UTF-8 byte offsets."""
    found = [
        facet for facet in detect_facets(text) or []
        if not str(getattr(facet.features[0], "tag", "")).startswith("$")
    ]
    return found or None


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
