"""What the Upcoming page shows: each digest's next issue and every pending post with its slot.

Both come from the one plan (`newsletter.pipeline.plan`) that `newsletter preview` and the real
send and post runs read; nothing is ingested, written to the ledger or sent.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from newsletter.compose.digest import personalise
from newsletter.compose.length import Measurement, measure
from newsletter.compose.social import UnfitVariant, platform_of
from newsletter.config import Config, DigestConfig
from newsletter.core.models import Delivery, Digest, Post
from newsletter.pipeline.plan import DigestPlan, PostState, cards_dir, plan_channel, plan_digest, preview_cards_dir
from newsletter.pipeline.posting import posts_in_doubt
from newsletter.pipeline.preview import preview_recipient_values
from newsletter.publish.base import ChannelConfig
from newsletter.store import DigestIssue, Store
from newsletter.web.paging import Pagination

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
    checks: list[str] = field(default_factory=list)


@dataclass
class ChannelPreview:
    """A channel's posts by state (one page of them when paged: `pages`)."""

    channel: ChannelConfig
    platform: str
    pages: Pagination | None = None
    awaiting: list[PostCard] = field(default_factory=list)
    queued: list[PostCard] = field(default_factory=list)
    planned: list[PostCard] = field(default_factory=list)
    unfit: list[UnfitVariant] = field(default_factory=list)
    in_doubt: list[Delivery] = field(default_factory=list)


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


def live_digest(config: Config, store: Store, digest: DigestConfig, now: datetime) -> DigestPreview:
    """The digest's next issue as the plan decides it: the recorded open one, else as it would be
    frozen at its next scheduled run."""
    return plan_preview(digest, plan_digest(config, store, digest, now))


def plan_preview(digest: DigestConfig, plan: DigestPlan) -> DigestPreview:
    """A digest's plan as the pages show it (Upcoming and the digest editor alike)."""
    return DigestPreview(digest, plan.scheduled_for, plan.recipients, plan.digest, plan.issue, plan.skip_reason)


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


def channel_previews(config: Config, store: Store, now: datetime,
                     paging: Callable[[str], Pagination] | None = None) -> list[ChannelPreview]:
    """Every channel's posts awaiting approval, queued (with their slots) and planned, as planned,
    and those being posted or whose outcome is unknown; with `paging` (the page asked for a
    channel's name), only that page of each channel's posts, in the plan's order."""
    previews = []
    in_doubt = posts_in_doubt(store)
    for channel in config.channels:
        doubtful = [row for row in in_doubt if row.target == channel.name]
        preview = ChannelPreview(channel, platform_of(channel), in_doubt=doubtful)
        entries = plan_channel(config, store, channel, now, card_folder=preview_cards_dir(config),
                               unfit=preview.unfit)
        if paging is not None:
            preview.pages = paging(channel.name).within(len(entries))
            entries = entries[preview.pages.offset: preview.pages.offset + preview.pages.size]
        for entry in entries:
            key = None if entry.state is PostState.PLANNED else entry.key
            card = post_card(config, channel, entry.post, str(entry.state), key)
            card.slot = entry.slot
            announcement = store.announcements.get_announcement(entry.post.announcement_id)
            card.checks = announcement.checks if announcement is not None else []
            lists = {PostState.AWAITING_APPROVAL: preview.awaiting, PostState.QUEUED: preview.queued}
            lists.get(entry.state, preview.planned).append(card)
        previews.append(preview)
    return previews
