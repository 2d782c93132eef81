"""Each social service's config keys, importable without importing the service's client library.

`load_config` validates every channel with its model here, so reading a config (and `check`,
`preview`, `--help`) never pays for tweepy, Mastodon.py, atproto or httpx.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator

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


class LinkedInConfig(ChannelConfig):
    """A LinkedIn organisation page: its numeric id, the Posts API version and the token's env var.

    LinkedIn has no threads: `thread` defaults to false and `thread: true` is refused; a post that
    does not fit is shortened, never split.
    """

    platform: ClassVar[str] = "linkedin"
    type: str = "linkedin"
    thread: bool = False
    base_url: str = "https://api.linkedin.com"
    organization_id: str = Field(pattern=r"^[0-9]+$")
    api_version: str = Field(default="202501", pattern=r"^[0-9]{6}$")  # the LinkedIn-Version header, YYYYMM
    access_token_env: str = "LINKEDIN_ACCESS_TOKEN"
    timeout: float = 30.0

    @model_validator(mode="after")
    def _no_threads(self) -> LinkedInConfig:
        if self.thread:
            raise ValueError("thread: LinkedIn has no threads; set thread: false (a post that does not fit "
                             "in 3,000 characters is shortened, never split)")
        return self


class ThreadsConfig(ChannelConfig):
    """A Threads account (Meta's Threads API): its user id, the token's env var, and where cards are
    served publicly (`image_base_url`: Threads fetches each image from a URL; `<data_dir>/cards/`
    must be served there, as `<image_base_url>/<channel>/<file>`)."""

    platform: ClassVar[str] = "threads"
    type: str = "threads"
    base_url: str = "https://graph.threads.net"
    user_id: str = "me"
    access_token_env: str = "THREADS_ACCESS_TOKEN"
    image_base_url: str | None = Field(default=None, pattern=r"^https?://")
    timeout: float = 30.0
    container_wait: float = Field(default=30.0, ge=0)  # seconds an image container may take to be ready

    @model_validator(mode="after")
    def _cards_need_a_public_url(self) -> ThreadsConfig:
        if self.card and not self.image_base_url:
            raise ValueError("image_base_url: Threads fetches images from a public URL; set it to where "
                             "<data_dir>/cards/ is served, or set card: false")
        return self
