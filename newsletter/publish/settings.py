"""Each social service's config keys, importable without importing the service's client library.

`load_config` validates every channel with its model here, so reading a config (and `check`,
`preview`, `--help`) never pays for tweepy, Mastodon.py or atproto.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from newsletter.publish.base import ChannelConfig


class XConfig(ChannelConfig):
    """An X account: API host and the four OAuth 1.0a credentials (env var names)."""

    platform: ClassVar[str] = "x"
    type: str = "x"
    base_url: str = "https://api.x.com"
    api_key_env: str = "X_API_KEY"
    api_secret_env: str = "X_API_SECRET"
    access_token_env: str = "X_ACCESS_TOKEN"
    access_token_secret_env: str = "X_ACCESS_TOKEN_SECRET"
    timeout: float = 30.0


class MastodonConfig(ChannelConfig):
    """A Mastodon account: the instance's base URL and the access token's env var name.

    `version` is the instance's Mastodon version, stated rather than detected: Mastodon.py's
    detection request recurses without end when the instance is unreachable.
    """

    platform: ClassVar[str] = "mastodon"
    type: str = "mastodon"
    base_url: str
    access_token_env: str = "MASTODON_ACCESS_TOKEN"
    visibility: Literal["public", "unlisted", "private", "direct"] = "public"
    timeout: float = 30.0
    version: str = "4.2.0"


class BlueskyConfig(ChannelConfig):
    """A Bluesky account: the PDS URL, the handle and the app password's env var name."""

    platform: ClassVar[str] = "bluesky"
    type: str = "bluesky"
    base_url: str = "https://bsky.social"
    handle: str
    app_password_env: str = "BLUESKY_APP_PASSWORD"
    timeout: float = 30.0
