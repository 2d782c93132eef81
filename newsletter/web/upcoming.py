"""What the Upcoming page shows: each digest's next issue and every pending post with its slot.

The digest is rendered with the same functions as `newsletter preview` (selection from the
store, `render_digest`, placeholder recipient values); nothing is ingested, written to the
ledger or sent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from newsletter.compose.digest import personalise, render_digest
from newsletter.compose.length import Measurement, measure
from newsletter.compose.social import platform_of
from newsletter.config import Config, DigestConfig
from newsletter.core.models import DeliveryStatus, Digest, Post
from newsletter.pipeline.actions import queued_posts
from newsletter.pipeline.digests import OPEN_STATUSES
from newsletter.pipeline.posting import cards_dir, planned_posts, post_from_payload
from newsletter.pipeline.preview import digest_announcements, next_run, preview_recipient_values, slot_times
from newsletter.publish.base import ChannelConfig
from newsletter.store import DigestIssue, Store

SAFE_FILE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\.png")
CARD_FOLDERS = ("queued", "planned")


@dataclass
class DigestPreview:
    """One digest's next issue: frozen (awaiting approval or sending) or as it would be rendered now."""

    config: DigestConfig
    scheduled_for: datetime | None
    recipients: int
    digest: Digest | None = None
    issue: DigestIssue | None = None
    skip_reason: str | None = None

    @property
    def frame_url(self) -> str:
        """Where the iframe loads the issue's HTML from."""
        if self.issue is not None:
            return f"/upcoming/issue/{self.issue.id}.html"
        return f"/upcoming/digest/{self.config.name}.html"


@dataclass
class PostCard:
    """One post as its platform would show it, with its state, slot, card image and length."""

    channel: ChannelConfig
    platform: str
    post: Post
    status: str
    key: str | None = None
    slot: datetime | None = None
    image_url: str | None = None
    alt_text: str = ""
    measured: Measurement | None = None


@dataclass
class ChannelPreview:
    """A channel's posts by state."""

    channel: ChannelConfig
    platform: str
    awaiting: list[PostCard] = field(default_factory=list)
    queued: list[PostCard] = field(default_factory=list)
    planned: list[PostCard] = field(default_factory=list)


def preview_cards_dir(config: Config) -> Path:
    """Where cards of posts not queued yet are drawn for the page."""
    return config.resolve(config.data_dir) / "preview-cards"


def card_folder(config: Config, kind: str) -> Path:
    """The folder behind `/cards/<kind>/…`."""
    return cards_dir(config) if kind == "queued" else preview_cards_dir(config)


def card_url(config: Config, path: str) -> str | None:
    """The URL serving a card image, if it lies in one of the card folders."""
    image = Path(path).resolve()
    for kind in CARD_FOLDERS:
        folder = card_folder(config, kind).resolve()
        if image.is_relative_to(folder) and len(image.relative_to(folder).parts) == 2:
            channel, name = image.relative_to(folder).parts
            return f"/cards/{kind}/{channel}/{name}"
    return None


def card_file(config: Config, kind: str, channel: str, name: str) -> Path | None:
    """The card image a `/cards/…` URL names, or None (never a path outside the card folders)."""
    if kind not in CARD_FOLDERS or not SAFE_FILE.fullmatch(name) or not re.fullmatch(r"[\w.-]+", channel):
        return None
    folder = card_folder(config, kind).resolve()
    path = (folder / channel / name).resolve()
    return path if path.is_relative_to(folder) and path.is_file() else None


def open_issue(store: Store, digest: DigestConfig) -> DigestIssue | None:
    """The digest's recorded, unfinished issue, if any."""
    found = store.list_digest_issues(digest=digest.name, statuses=OPEN_STATUSES, limit=1)
    return found[0] if found else None


def live_digest(config: Config, store: Store, digest: DigestConfig, now: datetime) -> DigestPreview:
    """The digest's next issue: the recorded open one, else rendered now as the preview would."""
    when = next_run([digest.schedule], config, now)
    preview = DigestPreview(digest, when, store.count_subscribers(digest.list))
    issue = open_issue(store, digest)
    if issue is not None:
        preview.issue, preview.digest = issue, issue.digest
        return preview
    announcements = digest_announcements(config, store, digest, [], now)
    minimum = max(digest.min_items, 1)
    if len(announcements) < minimum:
        preview.skip_reason = f"{len(announcements)} < min_items={minimum}"
        return preview
    preview.digest = render_digest(config, digest, announcements, when or now)
    return preview


def digest_html(config: Config, digest: Digest) -> str:
    """The issue's HTML as a placeholder recipient would see it."""
    return personalise(digest.html, preview_recipient_values(config, digest), is_html=True)


def post_card(config: Config, channel: ChannelConfig, post: Post, status: str, key: str | None) -> PostCard:
    """A post ready to show, with its image URL, alt text and length as the platform counts it."""
    media = post.media[0] if post.media else None
    return PostCard(
        channel=channel,
        platform=post.platform,
        post=post,
        status=status,
        key=key,
        image_url=card_url(config, media.path) if media else None,
        alt_text=media.alt_text if media else "",
        measured=measure(post.text, post.platform, post.limit),
    )


def channel_previews(config: Config, store: Store, now: datetime) -> list[ChannelPreview]:
    """Every channel's posts awaiting approval, queued (with their slots) and planned."""
    rows = queued_posts(store)
    previews = []
    for channel in config.channels:
        preview = ChannelPreview(channel, platform_of(channel))
        for row in (r for r in rows if r.target == channel.name):
            card = post_card(config, channel, post_from_payload(row.payload), str(row.status), row.key)
            (preview.awaiting if row.status == DeliveryStatus.AWAITING_APPROVAL else preview.queued).append(card)
        for post in planned_posts(config, store, channel, now, card_folder=preview_cards_dir(config)):
            preview.planned.append(post_card(config, channel, post, "planned", None))
        in_line = preview.queued + ([] if channel.require_approval else preview.planned)
        for card, slot in zip(in_line, slot_times(config, channel.slots, now, len(in_line)), strict=True):
            card.slot = slot
        previews.append(preview)
    return previews
