"""Mastodon publisher: Mastodon.py against the configured instance.

Each status carries an Idempotency-Key derived from the ledger key, so a retry within the
instance's one-hour window returns the status already created instead of posting twice.
Rate limits are thrown (`ratelimit_method="throw"`), never slept on inside a job.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

from mastodon import (
    Mastodon,
    MastodonAPIError,
    MastodonError,
    MastodonNetworkError,
    MastodonRatelimitError,
    MastodonServerError,
    MastodonUnauthorizedError,
)

from newsletter.core.errors import PublishError
from newsletter.core.models import Post
from newsletter.publish.base import Published
from newsletter.publish.faults import AuthFailed, RateLimited, Transient, Uncertain, auth_message
from newsletter.publish.settings import MastodonConfig


class MastodonPublisher:
    """Posts statuses to a Mastodon instance with an Idempotency-Key, images with alt text."""

    type_name: ClassVar[str] = "mastodon"
    platform: ClassVar[str] = MastodonConfig.platform

    Config: ClassVar[type[MastodonConfig]] = MastodonConfig

    def __init__(self, config: MastodonConfig, *, environ: Mapping[str, str] | None = None):
        self.config = config
        self.environ = os.environ if environ is None else environ

    def describe(self) -> str:
        """One line describing the channel, secrets redacted."""
        return f"mastodon channel {self.config.name} on {self.config.base_url} ({self.config.visibility})"

    def publish(self, post: Post, *, idempotency_key: str) -> Published:
        """Post the status (and its thread replies), media with alt text on the first one."""
        api = self._api()
        media_ids = [
            self._call(api, api.media_post, media.path, mime_type=media.mime_type, description=media.alt_text)["id"]
            for media in post.media
        ]
        statuses: list[dict[str, Any]] = []
        for index, text in enumerate([post.text, *post.thread]):
            try:
                status = self._call(
                    api, api.status_post, text,
                    in_reply_to_id=statuses[-1]["id"] if statuses else None,
                    media_ids=media_ids if index == 0 and media_ids else None,
                    visibility=self.config.visibility,
                    language=post.language,
                    idempotency_key=f"{idempotency_key}:{index}",
                )
            except PublishError as error:
                if statuses and not isinstance(error, Transient):
                    done = ",".join(str(s["id"]) for s in statuses)
                    raise Uncertain(f"thread cut after status(es) {done}: {error}") from error
                raise
            statuses.append(status)
        return Published(",".join(str(s["id"]) for s in statuses), statuses[0].get("url"))

    def delete(self, provider_id: str) -> None:
        """Delete a published status (every part of a thread, last first)."""
        api = self._api()
        for status_id in reversed(provider_id.split(",")):
            self._call(api, api.status_delete, status_id)

    def _api(self) -> Mastodon:
        """A Mastodon.py client for the instance; AuthFailed when the token is not set."""
        token = self.environ.get(self.config.access_token_env)
        if not token:
            raise AuthFailed(auth_message(self.config.name, [self.config.access_token_env], "token not set"))
        return Mastodon(
            access_token=token,
            api_base_url=self.config.base_url,
            ratelimit_method="throw",
            request_timeout=self.config.timeout,
            mastodon_version=self.config.version,
            version_check_mode="created",
        )

    def _call(self, api: Mastodon, function: Any, *args: Any, **kwargs: Any) -> Any:
        """Call Mastodon.py, turning its errors into publish faults."""
        name = self.config.name
        try:
            return function(*args, **kwargs)
        except MastodonRatelimitError:
            reset = api.ratelimit_reset
            reset_at = datetime.fromtimestamp(reset, UTC) if reset else None
            raise RateLimited(f"channel {name}: rate limited", reset_at) from None
        except MastodonUnauthorizedError as error:
            raise AuthFailed(auth_message(name, [self.config.access_token_env], _detail(error))) from None
        except MastodonServerError as error:
            raise Transient(f"channel {name}: server error {_detail(error)}") from None
        except MastodonNetworkError as error:
            raise Transient(f"channel {name}: network error ({type(error).__name__})") from None
        except MastodonAPIError as error:
            if _status(error) == 403:
                raise AuthFailed(auth_message(name, [self.config.access_token_env], _detail(error))) from None
            raise PublishError(f"channel {name}: {_detail(error)}") from None
        except (MastodonError, OSError) as error:
            raise PublishError(f"channel {name}: {error}") from None


def _status(error: MastodonAPIError) -> int | None:
    """The HTTP status carried by a Mastodon.py API error, if any."""
    args = error.args
    return args[1] if len(args) > 1 and isinstance(args[1], int) else None


def _detail(error: MastodonError) -> str:
    """The instance's own words for an error, short."""
    args = error.args
    if len(args) >= 4:
        return f"HTTP {args[1]} {args[3]}"[:300]
    return str(error)[:300]
