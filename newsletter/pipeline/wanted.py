"""Which announcements still need a post row, answered from the store alone (no composer, no
templates loaded), so a posting run with nothing new to queue stays fast."""

from __future__ import annotations

from datetime import datetime, timedelta

from newsletter.config import Config
from newsletter.core.keys import post_key, variant_key
from newsletter.core.models import QUEUED_STATUSES
from newsletter.store import AnnouncedItem, Store
from newsletter.store.ledger import Ledger

QUEUE_WINDOW = timedelta(days=7)


def wants_row(ledger: Ledger, item: AnnouncedItem, variant: str, channel: str) -> bool:
    """Whether this revision of the announcement still needs a `variant` post on `channel`: no
    row for this revision yet, and no earlier revision's row still queued."""
    keys = [post_key(item.announcement.id, variant_key(variant, r), channel) for r in range(item.revision + 1)]
    rows = [ledger.get(key) for key in keys]
    return rows[-1] is None and not any(row is not None and row.status in QUEUED_STATUSES for row in rows)


def channels_wanting_posts(config: Config, store: Store, now: datetime, since: datetime | None = None) -> list[str]:
    """The channels with an announcement announced since `since` (default: a week) that still needs a post."""
    ledger = Ledger(store)
    items = store.announcements.announced_since(since or now - QUEUE_WINDOW, now=now)
    return [channel.name for channel in config.channels
            if any(wants_row(ledger, item, variant, channel.name) for item in items for variant in channel.variants)]
