"""Bluesky publisher: atproto's Client against the configured PDS."""

from __future__ import annotations

from typing import ClassVar

from newsletter.publish.base import ChannelConfig


class BlueskyPublisher:
    """Posts to Bluesky with link facets and image embeds with alt text."""

    type: ClassVar[str] = "bluesky"
    platform: ClassVar[str] = "bluesky"

    class Config(ChannelConfig):
        """A Bluesky account: the PDS URL, the handle and the app password's env var name."""

        type: str = "bluesky"
        base_url: str = "https://bsky.social"
        handle: str
        app_password_env: str = "BLUESKY_APP_PASSWORD"
        timeout: float = 30.0
