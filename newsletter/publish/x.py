"""X (Twitter) publisher: tweepy's v2 `Client` for posts, a small v2 media uploader for images.

tweepy hard-codes its API host, so its `Client` gets a requests session that sends every call
to the configured `base_url` instead (a gateway, or a loopback server in tests). tweepy 4.17
only uploads media to the retired v1.1 endpoint, so `upload_media` posts to `/2/media/upload`
and sets the alt text with `/2/media/metadata`, signed with the same OAuth 1.0a credentials.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import requests
import tweepy
from tweepy.auth import OAuth1UserHandler

from newsletter.compose.length import find_urls
from newsletter.core.errors import PublishError
from newsletter.core.models import Media, Post
from newsletter.publish.base import PartAccepted, Published
from newsletter.publish.faults import (
    AlreadyPosted,
    AuthFailed,
    RateLimited,
    Transient,
    Uncertain,
    Unconfirmed,
    auth_message,
)
from newsletter.publish.lost import never_sent
from newsletter.publish.settings import XConfig

TWEEPY_HOST = "https://api.twitter.com"
DUPLICATE_MARKER = "duplicate content"
TIMELINE_PAGE = 100  # the most X returns per timeline page
TIMELINE_PAGES = 3  # the recent posts searched before a retry: a few weeks of a busy account


class RoutedSession(requests.Session):
    """A requests session that sends tweepy's calls to `base_url`, with a default timeout."""

    def __init__(self, base_url: str, timeout: float):
        super().__init__()
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        """Rewrite the hard-coded host, then send as usual."""
        if isinstance(url, str) and url.startswith(TWEEPY_HOST):
            url = self.base_url + url[len(TWEEPY_HOST):]
        kwargs.setdefault("timeout", self.timeout)
        return super().request(method, url, *args, **kwargs)


class XPublisher:
    """Posts to X through tweepy (`Client.create_tweet`), threads by reply, images with alt text."""

    type_name: ClassVar[str] = "x"
    platform: ClassVar[str] = XConfig.platform

    Config: ClassVar[type[XConfig]] = XConfig

    def __init__(self, config: XConfig, *, environ: Mapping[str, str] | None = None):
        self.config = config
        self.environ = os.environ if environ is None else environ
        self.session = RoutedSession(config.base_url, config.timeout)
        self.user_id: str | None = None

    def describe(self) -> str:
        """One line describing the channel, secrets redacted."""
        return f"x channel {self.config.name} via {self.config.base_url} (account {self.config.account or '?'})"

    def publish(self, post: Post, *, idempotency_key: str, done: Sequence[str] = (),
                on_part: PartAccepted | None = None, verify: bool = False) -> Published:
        """Post the parts of the text and thread after `done` (media on the first), each a reply
        to the previous; with `verify`, the account's recent posts are searched first."""
        client = self._client()
        ids = list(done)
        texts = [post.text, *post.thread]
        media_ids: list[str] | None = None
        for index in range(len(ids), len(texts)):
            reply_to = ids[-1] if ids else None
            found = self.find_posted(client, texts[index], reply_to) if verify else None
            if found is None:
                if index == 0 and media_ids is None:
                    media_ids = [self.upload_media(media) for media in post.media]
                found = self._create_part(client, texts[index], media_ids if index == 0 else None, reply_to)
            ids.append(found)
            if on_part is not None:
                on_part(Published(found, self.post_url(found)))
        return Published(",".join(ids), self.post_url(ids[0]))

    def find_posted(self, client: tweepy.Client, text: str, reply_to: str | None) -> str | None:
        """The id of the account's recent post with this text (replying to `reply_to`), if any
        (the v2 user timeline, URLs compared without their t.co rewriting)."""
        wanted = _comparable(text)
        for tweet in self._recent_posts(client):
            replied = [str(r.id) for r in (tweet.referenced_tweets or []) if r.type == "replied_to"]
            if _comparable(tweet.text) == wanted and replied == ([reply_to] if reply_to else []):
                return str(tweet.id)
        return None

    def _recent_posts(self, client: tweepy.Client) -> Iterator[Any]:
        """The account's latest posts, newest first, page by page (at most `TIMELINE_PAGES`)."""
        user_id = self._user_id(client)
        page: dict[str, str] = {}
        for _ in range(TIMELINE_PAGES):
            response = self._call(client.get_users_tweets, user_id, max_results=TIMELINE_PAGE,
                                  tweet_fields=["referenced_tweets"], user_auth=True, **page)
            yield from response.data or []
            token = (response.meta or {}).get("next_token")
            if not token:
                return
            page = {"pagination_token": token}

    def _user_id(self, client: tweepy.Client) -> str:
        """The id of the account the credentials act for (asked once per publisher)."""
        if self.user_id is None:
            self.user_id = str(self._call(client.get_me, user_auth=True).data.id)
        return self.user_id

    def _create_part(self, client: tweepy.Client, text: str, media_ids: list[str] | None,
                     reply_to: str | None) -> str:
        """Create one part; a duplicate rejection is resolved to the existing post when it is found."""
        try:
            return self._create(client, text, media_ids, reply_to)
        except AlreadyPosted:
            found = self.find_posted(client, text, reply_to)
            if found is None and reply_to is not None:
                raise Uncertain(f"channel {self.config.name}: X calls the reply a duplicate but it is not "
                                f"in the account's recent posts") from None
            if found is None:
                raise
            return found

    def delete(self, provider_id: str) -> None:
        """Delete a published post (every part of a thread, last first)."""
        client = self._client()
        for tweet_id in reversed(provider_id.split(",")):
            self._call(client.delete_tweet, tweet_id)

    def post_url(self, tweet_id: str) -> str:
        """The public URL of a post."""
        account = self.config.account.lstrip("@") or "i/web"
        return f"https://x.com/{account}/status/{tweet_id}"

    def upload_media(self, media: Media) -> str:
        """Upload one image to `/2/media/upload`, set its alt text; return the media id."""
        auth = self._oauth()
        data = Path(media.path).read_bytes()
        response = self._send(
            "POST", "/2/media/upload", auth=auth,
            files={"media": (Path(media.path).name, data, media.mime_type)},
            data={"media_category": "tweet_image", "media_type": media.mime_type},
        )
        body = response.json().get("data") or {}
        media_id = str(body.get("id") or body.get("media_id_string") or "")
        if not media_id:
            raise PublishError(f"channel {self.config.name}: media upload answered without an id")
        if media.alt_text:
            self._send(
                "POST", "/2/media/metadata", auth=auth,
                json={"id": media_id, "metadata": {"alt_text": {"text": media.alt_text[:1000]}}},
            )
        return media_id

    def _create(self, client: tweepy.Client, text: str, media_ids: list[str] | None, reply_to: str | None) -> str:
        """Create one tweet (optionally a reply, with media); returns its id."""
        response = self._call(client.create_tweet, text=text, media_ids=media_ids or None,
                              in_reply_to_tweet_id=reply_to, creating=True)
        return str(response.data["id"])

    def _client(self) -> tweepy.Client:
        """A tweepy client signed with the channel's credentials, over this publisher's session."""
        key, secret, token, token_secret = self._credentials()
        client = tweepy.Client(consumer_key=key, consumer_secret=secret, access_token=token,
                               access_token_secret=token_secret, wait_on_rate_limit=False)
        client.session = self.session
        return client

    def _credentials(self) -> tuple[str, str, str, str]:
        """The four OAuth 1.0a secrets from the environment; AuthFailed names the missing ones."""
        names = self._env_names()
        missing = [name for name in names if not self.environ.get(name)]
        if missing:
            raise AuthFailed(auth_message(self.config.name, missing, "credentials not set"))
        key, secret, token, token_secret = (self.environ[name] for name in names)
        return key, secret, token, token_secret

    def _env_names(self) -> list[str]:
        """The env var names of the four OAuth 1.0a secrets."""
        c = self.config
        return [c.api_key_env, c.api_secret_env, c.access_token_env, c.access_token_secret_env]

    def _oauth(self) -> Any:
        """An OAuth 1.0a signer for requests made outside tweepy."""
        return OAuth1UserHandler(*self._credentials()).apply_auth()

    def _send(self, method: str, route: str, **kwargs: Any) -> requests.Response:
        """One signed request outside tweepy, with the same error handling as tweepy's."""
        try:
            response = self.session.request(method, TWEEPY_HOST + route, **kwargs)
        except requests.RequestException as error:
            raise Transient(f"channel {self.config.name}: {route}: {type(error).__name__}") from None
        if not 200 <= response.status_code < 300:
            self._raise_for(_status_error(response), route)
        return response

    def _call(self, function: Any, *args: Any, creating: bool = False, **kwargs: Any) -> Any:
        """Call tweepy, turning its errors into publish faults (`creating`: an answer lost after
        the request went out is Unconfirmed)."""
        try:
            return function(*args, **kwargs)
        except tweepy.TweepyException as error:
            self._raise_for(error, getattr(function, "__name__", "call"))
        except requests.RequestException as error:
            if creating and not never_sent(error):
                raise Unconfirmed(f"channel {self.config.name}: the post request lost its answer "
                                  f"({type(error).__name__})") from None
            raise Transient(f"channel {self.config.name}: {type(error).__name__}") from None

    def _raise_for(self, error: Exception, what: str) -> None:
        """Raise the publish fault matching a tweepy error (rate limit, duplicate, auth, server...)."""
        name = self.config.name
        detail = _detail(error)
        if isinstance(error, tweepy.TooManyRequests):
            reset = error.reset_time if hasattr(error, "reset_time") else None
            reset_at = datetime.fromtimestamp(reset, UTC) if reset else None
            raise RateLimited(f"channel {name}: rate limited ({what})", reset_at) from None
        if isinstance(error, tweepy.Forbidden) and DUPLICATE_MARKER in detail.lower():
            raise AlreadyPosted(f"channel {name}: X rejected the post as duplicate content") from None
        if isinstance(error, tweepy.Unauthorized | tweepy.Forbidden):
            raise AuthFailed(auth_message(name, self._env_names(), detail)) from None
        if isinstance(error, tweepy.TwitterServerError):
            raise Transient(f"channel {name}: {what}: server error {detail}") from None
        raise PublishError(f"channel {name}: {what}: {detail}") from None


def _comparable(text: str) -> str:
    """A post's text with its URLs blanked (X rewrites them to t.co) and spaces collapsed."""
    for start, end, _ in reversed(find_urls(text)):
        text = f"{text[:start]}<url>{text[end:]}"
    return " ".join(text.split())


def _status_error(response: requests.Response) -> Exception:
    """The tweepy exception tweepy itself would raise for this response."""
    errors = {400: tweepy.BadRequest, 401: tweepy.Unauthorized, 403: tweepy.Forbidden, 404: tweepy.NotFound}
    if response.status_code == 429:
        reset = response.headers.get("x-rate-limit-reset")
        return tweepy.TooManyRequests(response, reset_time=int(reset) if reset and reset.isdigit() else None)
    if response.status_code >= 500:
        return tweepy.TwitterServerError(response)
    return errors.get(response.status_code, tweepy.HTTPException)(response)


def _detail(error: Exception) -> str:
    """The service's own words for an error, short."""
    messages = getattr(error, "api_messages", None)
    if messages:
        return "; ".join(str(m) for m in messages)[:300]
    response = getattr(error, "response", None)
    return f"HTTP {getattr(response, 'status_code', '?')}" if response is not None else str(error)[:300]
