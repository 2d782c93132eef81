"""Mastodon publisher: Mastodon.py against the configured instance."""

from __future__ import annotations

from typing import ClassVar

from newsletter.publish.base import ChannelConfig


class MastodonPublisher:
    """Posts statuses to a Mastodon instance with an Idempotency-Key, images with alt text."""

    type: ClassVar[str] = "mastodon"
    platform: ClassVar[str] = "mastodon"

    class Config(ChannelConfig):
        """A Mastodon account: the instance's base URL and the access token's env var name."""

        type: str = "mastodon"
        base_url: str
        access_token_env: str = "MASTODON_ACCESS_TOKEN"
        visibility: str = "public"
        timeout: float = 30.0
