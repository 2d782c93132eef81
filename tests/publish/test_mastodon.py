"""MastodonPublisher against a loopback Mastodon instance, through Mastodon.py."""

from __future__ import annotations

import socket
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from PIL import Image

from newsletter.core.models import Media, Post
from newsletter.publish.faults import AuthFailed, RateLimited, Transient
from newsletter.publish.mastodon import MastodonPublisher

ENV = {"MASTODON_ACCESS_TOKEN": "masto-token"}


def publisher(url: str, environ: dict[str, str] | None = None, timeout: float = 2) -> MastodonPublisher:
    config = MastodonPublisher.Config(name="masto", base_url=url, timeout=timeout)
    return MastodonPublisher(config, environ=ENV if environ is None else environ)


def post(**extra: object) -> Post:
    return Post("masto", "mastodon", "ann1", "quote", "Le plan https://www.gouv.fr/a #Emploi", 40, 500,
                **extra)  # type: ignore[arg-type]


def test_posts_a_thread_with_media_alt_text_and_idempotency_keys(fake_mastodon, tmp_path):
    path = tmp_path / "card.png"
    Image.new("RGB", (1200, 675), "white").save(path)
    result = publisher(fake_mastodon.url).publish(
        post(thread=["Suite du fil"], media=[Media(str(path), "« Texte » — Marie Martin")]),
        idempotency_key="post:a:quote:masto",
    )
    upload = fake_mastodon.calls("/api/v2/media")[0]
    parts = upload.multipart()
    assert parts["file"].startswith(b"\x89PNG")
    description = upload.query.get("description", [None])[0] or parts.get("description", b"").decode()
    assert description == "« Texte » — Marie Martin"
    statuses = fake_mastodon.calls("/api/v1/statuses")
    first, second = (s.form() for s in statuses)
    assert first["status"] == ["Le plan https://www.gouv.fr/a #Emploi"]
    assert first["language"] == ["fr"] and second["language"] == ["fr"]
    media_ids = [k.removeprefix("media:") for k in fake_mastodon.objects if k.startswith("media:")]
    assert first["media_ids[]"] == media_ids and "media_ids[]" not in second
    assert second["in_reply_to_id"] == [result.provider_id.split(",")[0]]
    assert [s.headers["idempotency-key"] for s in statuses] == ["post:a:quote:masto:0", "post:a:quote:masto:1"]
    assert result.url == f"{fake_mastodon.url}/@fake/{result.provider_id.split(',')[0]}"


def test_a_retry_with_the_same_key_returns_the_same_status(fake_mastodon):
    masto = publisher(fake_mastodon.url)
    first = masto.publish(post(), idempotency_key="k")
    again = masto.publish(post(), idempotency_key="k")
    assert first == again
    assert len([k for k in fake_mastodon.objects if not k.startswith(("idem:", "media:"))]) == 1


def test_statuses_are_tagged_with_the_announcements_language(fake_mastodon):
    publisher(fake_mastodon.url).publish(post(language="en"), idempotency_key="k")
    assert [s.form()["language"] for s in fake_mastodon.calls("/api/v1/statuses")] == [["en"]]


def test_delete_retracts_the_status(fake_mastodon):
    masto = publisher(fake_mastodon.url)
    result = masto.publish(post(), idempotency_key="k")
    masto.delete(result.provider_id)
    assert fake_mastodon.calls(f"/api/v1/statuses/{result.provider_id}", "DELETE")
    assert result.provider_id not in fake_mastodon.objects


def test_rate_limit_is_thrown_with_its_reset(fake_mastodon):
    reset = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=20)
    fake_mastodon.fail("/api/v1/statuses", 429, headers={
        "X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset.isoformat()})
    with pytest.raises(RateLimited) as caught:
        publisher(fake_mastodon.url).publish(post(), idempotency_key="k")
    assert caught.value.reset_at is not None
    assert abs((caught.value.reset_at - reset).total_seconds()) < 5


def test_bad_token_names_the_env_var(fake_mastodon):
    with pytest.raises(AuthFailed) as caught:
        publisher(fake_mastodon.url, {"MASTODON_ACCESS_TOKEN": "nope"}).publish(post(), idempotency_key="k")
    assert "masto" in str(caught.value) and "MASTODON_ACCESS_TOKEN" in str(caught.value)


def test_server_errors_and_timeouts_are_transient(fake_mastodon):
    fake_mastodon.fail("/api/v1/statuses", 502)
    with pytest.raises(Transient):
        publisher(fake_mastodon.url).publish(post(), idempotency_key="k")
    fake_mastodon.stall("/api/v1/statuses", 1.0)
    with pytest.raises(Transient):
        publisher(fake_mastodon.url, timeout=0.3).publish(post(), idempotency_key="k")


def test_an_unreachable_instance_is_transient_even_with_media(tmp_path):
    path = tmp_path / "card.png"
    Image.new("RGB", (1200, 675), "white").save(path)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    unreachable = publisher(f"http://127.0.0.1:{closed_port}", timeout=1)
    with pytest.raises(Transient):
        unreachable.publish(post(media=[Media(str(path), "Une carte")]), idempotency_key="k")


def own_statuses(fake_mastodon) -> list[dict]:
    return fake_mastodon.statuses()


def test_a_checked_retry_after_the_key_expired_finds_the_status_instead_of_posting_again(fake_mastodon):
    long_link = replace(post(), text="Le plan « avenir » & la suite\nhttps://www.gouv.fr/plan-avenir/2025 #Emploi")
    fake_mastodon.stall("/api/v1/statuses", 1.0)
    with pytest.raises(Transient):  # the status was created, its answer lost
        publisher(fake_mastodon.url, timeout=0.3).publish(long_link, idempotency_key="k")
    deadline = time.monotonic() + 5
    while not own_statuses(fake_mastodon) and time.monotonic() < deadline:
        time.sleep(0.05)  # the instance finishes the request the client gave up on
    fake_mastodon.expire_idempotency_keys()  # the retry comes at the next slot, hours later
    result = publisher(fake_mastodon.url).publish(long_link, idempotency_key="k", verify=True)
    (created,) = own_statuses(fake_mastodon)
    assert result.provider_id == created["id"] and len(fake_mastodon.calls("/api/v1/statuses")) == 1


def test_a_checked_resume_of_a_cut_thread_creates_only_the_missing_replies(fake_mastodon):
    thread = post(thread=["Deuxième partie", "Troisième partie"])
    masto = publisher(fake_mastodon.url)
    fake_mastodon.fail("/api/v1/statuses", 503, after=2)  # parts 1 and 2 created, part 3 refused
    accepted: list[str] = []
    with pytest.raises(Transient):
        masto.publish(thread, idempotency_key="k", on_part=lambda part: accepted.append(part.provider_id))
    fake_mastodon.expire_idempotency_keys()
    result = masto.publish(thread, idempotency_key="k", done=accepted[:1], verify=True)  # part 2's id was lost
    statuses = own_statuses(fake_mastodon)
    assert [s["content"] for s in statuses[1:]] == ["<p>Deuxième partie</p>", "<p>Troisième partie</p>"]
    assert result.provider_id == ",".join(s["id"] for s in statuses)
    assert statuses[2]["in_reply_to_id"] == statuses[1]["id"]


def test_a_checked_attempt_of_a_post_never_created_creates_it_once(fake_mastodon):
    masto = publisher(fake_mastodon.url)
    masto.publish(replace(post(), text="Un autre texte"), idempotency_key="other")
    result = masto.publish(post(), idempotency_key="k", verify=True)
    assert len(own_statuses(fake_mastodon)) == 2 and result.provider_id == own_statuses(fake_mastodon)[1]["id"]
