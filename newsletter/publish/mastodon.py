"""Mastodon publisher: Mastodon.py against the configured instance.

Each status carries an Idempotency-Key derived from the ledger key, so a retry within the
instance's one-hour window returns the status already created instead of posting twice. A
retry can come later than that (an uncertain post resumed at the next slot), so a checked
attempt (`verify`) first looks for the part among the account's recent statuses.
Rate limits are thrown (`ratelimit_method="throw"`), never slept on inside a job.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

from lxml import html
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

RECENT_STATUSES = 40  # the most an instance returns in one page


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
        Each part carries its own Idempotency-Key; with `verify`, the account's recent statuses
        are searched first for the next part (beyond the key's one-hour window)."""
        api = self._api()
        ids = list(done)
        first_url: str | None = None
        texts = [post.text, *post.thread]
        for index in range(len(ids), len(texts)):
            reply_to = ids[-1] if ids else None
            status = self.find_posted(api, texts[index], reply_to) if verify else None
            if status is None:
                status = self._create(api, post, texts[index], reply_to, f"{idempotency_key}:{index}", index)
                verify = False  # a part created anew has no replies yet
            ids.append(str(status["id"]))
            first_url = status.get("url") if index == 0 else first_url
            if on_part is not None:
                on_part(Published(ids[-1], status.get("url")))
        return Published(",".join(ids), first_url)

    def _create(self, api: Mastodon, post: Post, text: str, reply_to: str | None, key: str, index: int) -> Any:
        """Create one part (media with alt text on the first) under its Idempotency-Key."""
        media_ids = self._upload(api, post) if index == 0 else []
        return self._call(
            api, api.status_post, text,
            in_reply_to_id=reply_to,
            media_ids=media_ids or None,
            visibility=self.config.visibility,
            language=post.language,
            idempotency_key=key,
            creating=True,
        )

    def find_posted(self, api: Mastodon, text: str, reply_to: str | None) -> Any | None:
        """The account's recent status with this text (replying to `reply_to`), if an earlier
        attempt created it; compared without whitespace, as the instance renders text as HTML."""
        account = self._call(api, api.me)
        recent = self._call(api, api.account_statuses, account["id"], limit=RECENT_STATUSES, exclude_reblogs=True)
        wanted = _bare(text)
        for status in recent:
            replying = status.get("in_reply_to_id")
            same_parent = (None if replying is None else str(replying)) == reply_to
            if same_parent and _bare(html.fromstring(status.get("content") or "<p></p>").text_content()) == wanted:
                return status
        return None

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


def _bare(text: str) -> str:
    """`text` without any whitespace: how a status's HTML and the text we sent are compared."""
    return "".join(text.split())


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
