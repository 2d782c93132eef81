"""X (Twitter) publisher: tweepy's v2 Client for posts, a small v2 media uploader for images."""

from __future__ import annotations

from typing import ClassVar

from newsletter.publish.base import ChannelConfig


class XPublisher:
    """Posts to X through tweepy (`Client.create_tweet`), threads by reply, images with alt text."""

    type: ClassVar[str] = "x"
    platform: ClassVar[str] = "x"

    class Config(ChannelConfig):
        """An X account: API host and the four OAuth 1.0a credentials (env var names)."""

        type: str = "x"
        base_url: str = "https://api.x.com"
        api_key_env: str = "X_API_KEY"
        api_secret_env: str = "X_API_SECRET"
        access_token_env: str = "X_ACCESS_TOKEN"
        access_token_secret_env: str = "X_ACCESS_TOKEN_SECRET"
        timeout: float = 30.0
