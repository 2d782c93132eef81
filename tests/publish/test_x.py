"""XPublisher against a loopback X API: tweepy's real requests, routed by our session."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from PIL import Image

from newsletter.core.models import Media, Post
from newsletter.publish.faults import AlreadyPosted, AuthFailed, RateLimited, Transient
from newsletter.publish.x import XPublisher

ENV = {"X_API_KEY": "x-key", "X_API_SECRET": "s", "X_ACCESS_TOKEN": "t", "X_ACCESS_TOKEN_SECRET": "ts"}


def publisher(url: str, environ: dict[str, str] | None = None) -> XPublisher:
    config = XPublisher.Config(name="x-main", base_url=url, account="ministere", timeout=2)
    return XPublisher(config, environ=ENV if environ is None else environ)


def card(tmp_path: Path) -> Media:
    path = tmp_path / "card.png"
    Image.new("RGB", (1200, 675), "#000091").save(path)
    return Media(str(path), "« Nous agissons » — Marie Martin")


def post(text: str = "Premier message https://www.gouv.fr/a #Emploi", **extra: object) -> Post:
    return Post("x-main", "x", "ann1", "quote", text, 50, 280, **extra)  # type: ignore[arg-type]


def test_posts_a_thread_with_media_and_alt_text(fake_x, tmp_path):
    result = publisher(fake_x.url).publish(
        post(thread=["Deuxième partie", "Troisième partie"], media=[card(tmp_path)]), idempotency_key="k"
    )
    upload = fake_x.calls("/2/media/upload")[0].multipart()
    assert upload["media"].startswith(b"\x89PNG") and upload["media_category"] == b"tweet_image"
    metadata = fake_x.calls("/2/media/metadata")[0].json()
    assert metadata["metadata"]["alt_text"]["text"] == "« Nous agissons » — Marie Martin"
    tweets = [r.json() for r in fake_x.calls("/2/tweets")]
    assert [t["text"] for t in tweets] == ["Premier message https://www.gouv.fr/a #Emploi",
                                           "Deuxième partie", "Troisième partie"]
    assert tweets[0]["media"]["media_ids"] == [metadata["id"]]
    ids = result.provider_id.split(",")
    assert tweets[1]["reply"]["in_reply_to_tweet_id"] == ids[0]
    assert tweets[2]["reply"]["in_reply_to_tweet_id"] == ids[1]
    assert "media" not in tweets[1]
    assert result.url == f"https://x.com/ministere/status/{ids[0]}"
    assert all(r.headers["authorization"].startswith("OAuth ") for r in fake_x.requests)


def test_deletes_every_part_of_a_thread(fake_x):
    x = publisher(fake_x.url)
    result = x.publish(post(thread=["suite"]), idempotency_key="k")
    x.delete(result.provider_id)
    deleted = [r.path.rsplit("/", 1)[-1] for r in fake_x.calls("/2/tweets/", "DELETE")]
    assert deleted == list(reversed(result.provider_id.split(",")))


def test_a_duplicate_rejection_is_resolved_to_the_post_already_there(fake_x):
    x = publisher(fake_x.url)
    first = x.publish(post(), idempotency_key="k")
    assert x.publish(post(), idempotency_key="k") == first
    assert len(fake_x.tweets()) == 1 and fake_x.calls("/2/users/4242/tweets", "GET")


def posted_since(fake_x, count: int) -> None:
    """`count` newer posts of the account, made straight in the fake (as if posted by hand)."""
    for number in range(count):
        fake_x.objects[fake_x.next_id()] = {"text": f"Autre message {number}"}


def test_a_checked_retry_pages_back_through_the_timeline_to_find_the_post(fake_x):
    x = publisher(fake_x.url)
    first = x.publish(post(), idempotency_key="k")
    posted_since(fake_x, 150)
    assert x.publish(post(), idempotency_key="k", verify=True) == first
    assert len(fake_x.calls("/2/tweets")) == 1, "found on the timeline's second page, not created again"
    assert len(fake_x.calls("/2/users/4242/tweets", "GET")) == 2


def test_a_duplicate_not_in_the_recent_posts_is_reported_as_already_posted(fake_x):
    x = publisher(fake_x.url)
    x.publish(post(), idempotency_key="k")
    posted_since(fake_x, 301)
    with pytest.raises(AlreadyPosted):
        x.publish(post(), idempotency_key="k")
    assert len(fake_x.calls("/2/users/4242/tweets", "GET")) == 3, "three pages searched, no more"


def test_bad_credentials_name_the_channel_and_env_vars(fake_x):
    with pytest.raises(AuthFailed) as caught:
        publisher(fake_x.url, {**ENV, "X_API_KEY": "wrong"}).publish(post(), idempotency_key="k")
    assert "x-main" in str(caught.value) and "X_API_KEY" in str(caught.value)
    assert "wrong" not in str(caught.value)


def test_missing_credentials_fail_before_any_request(fake_x):
    with pytest.raises(AuthFailed, match="X_ACCESS_TOKEN_SECRET"):
        publisher(fake_x.url, {k: v for k, v in ENV.items() if k != "X_ACCESS_TOKEN_SECRET"}).publish(
            post(), idempotency_key="k")
    assert fake_x.requests == []


def test_rate_limit_carries_the_reset_time(fake_x):
    reset = int(time.time()) + 900
    fake_x.fail("/2/tweets", 429, headers={"x-rate-limit-reset": str(reset), "x-rate-limit-remaining": "0"})
    with pytest.raises(RateLimited) as caught:
        publisher(fake_x.url).publish(post(), idempotency_key="k")
    assert caught.value.reset_at is not None and int(caught.value.reset_at.timestamp()) == reset


def test_server_errors_and_timeouts_are_transient(fake_x):
    fake_x.fail("/2/tweets", 503)
    with pytest.raises(Transient):
        publisher(fake_x.url).publish(post(), idempotency_key="k")
    fake_x.stall("/2/tweets", 1.5)
    config = XPublisher.Config(name="x-main", base_url=fake_x.url, timeout=0.3)
    with pytest.raises(Transient):
        XPublisher(config, environ=ENV).publish(post(), idempotency_key="k")
