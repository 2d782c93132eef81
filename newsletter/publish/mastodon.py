"""Mastodon publisher: Mastodon.py against the configured instance.

Each status carries an Idempotency-Key derived from the ledger key, so a retry within the
instance's one-hour window returns the status already created instead of posting twice.
Rate limits are thrown (`ratelimit_method="throw"`), never slept on inside a job.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
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
from newsletter.publish.base import PartAccepted, Published
from newsletter.publish.faults import AuthFailed, RateLimited, Transient, Unconfirmed, auth_message
from newsletter.publish.lost import never_sent
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

    def publish(self, post: Post, *, idempotency_key: str, done: Sequence[str] = (),
                on_part: PartAccepted | None = None, verify: bool = False) -> Published:
        """Post the status and thread replies after `done`, media with alt text on the first one.
        Each part carries its own Idempotency-Key, so `verify` needs no extra request: the
        instance answers a repeated key with the status it already created."""
        api = self._api()
        ids = list(done)
        first_url: str | None = None
        texts = [post.text, *post.thread]
        for index in range(len(ids), len(texts)):
            media_ids = self._upload(api, post) if index == 0 else []
            status = self._call(
                api, api.status_post, texts[index],
                in_reply_to_id=ids[-1] if ids else None,
                media_ids=media_ids or None,
                visibility=self.config.visibility,
                language=post.language,
                idempotency_key=f"{idempotency_key}:{index}",
                creating=True,
            )
            ids.append(str(status["id"]))
            first_url = status.get("url") if index == 0 else first_url
            if on_part is not None:
                on_part(Published(ids[-1], status.get("url")))
        return Published(",".join(ids), first_url)

    def _upload(self, api: Mastodon, post: Post) -> list[str]:
        """Upload the post's media with their alt texts; their ids."""
        return [
            self._call(api, api.media_post, media.path, mime_type=media.mime_type, description=media.alt_text)["id"]
            for media in post.media
        ]

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

    def _call(self, api: Mastodon, function: Any, *args: Any, creating: bool = False, **kwargs: Any) -> Any:
        """Call Mastodon.py, turning its errors into publish faults (`creating`: an answer lost
        after the request went out is Unconfirmed, the retry then carries the same Idempotency-Key)."""
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
            if creating and not never_sent(error.__cause__ or error.__context__):
                raise Unconfirmed(f"channel {name}: the status request lost its answer") from None
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
