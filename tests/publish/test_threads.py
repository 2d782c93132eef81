"""ThreadsPublisher against a loopback Threads API: containers, publishing and replies over httpx."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image
from pydantic import ValidationError

from newsletter.core.models import Media, Post
from newsletter.publish.faults import AuthFailed, RateLimited, Transient, Unconfirmed
from newsletter.publish.threads import ThreadsPublisher

ENV = {"THREADS_ACCESS_TOKEN": "threads-token"}
TEXT = "Le plan https://www.gouv.fr/a #Emploi"
CARDS = "https://cards.example.org/social"


def publisher(url: str, environ: dict[str, str] | None = None, timeout: float = 2) -> ThreadsPublisher:
    config = ThreadsPublisher.Config(name="threads", base_url=url, image_base_url=CARDS, timeout=timeout)
    return ThreadsPublisher(config, environ=ENV if environ is None else environ)


def card(tmp_path: Path) -> Media:
    folder = tmp_path / "cards" / "threads"
    folder.mkdir(parents=True)
    Image.new("RGB", (1080, 1080), "#000091").save(folder / "ann1-quote.png")
    return Media(str(folder / "ann1-quote.png"), "« Nous agissons » — Marie Martin")


def post(text: str = TEXT, **extra: object) -> Post:
    return Post("threads", "threads", "ann1", "quote", text, len(text), 500, **extra)  # type: ignore[arg-type]


def containers(fake) -> list[dict[str, str]]:
    return [{k: v[0] for k, v in r.form().items()} for r in fake.calls("/threads") if r.path.endswith("/threads")]


def test_posts_a_thread_with_the_card_from_its_public_url_and_alt_text(fake_threads, tmp_path):
    result = publisher(fake_threads.url).publish(
        post(thread=["Deuxième partie", "Troisième partie"], media=[card(tmp_path)]), idempotency_key="k")
    first, second, third = containers(fake_threads)
    assert first == {"media_type": "IMAGE", "text": TEXT, "image_url": f"{CARDS}/threads/ann1-quote.png",
                     "alt_text": "« Nous agissons » — Marie Martin"}
    ids = result.provider_id.split(",")
    assert second == {"media_type": "TEXT", "text": "Deuxième partie", "reply_to_id": ids[0]}
    assert third == {"media_type": "TEXT", "text": "Troisième partie", "reply_to_id": ids[1]}
    assert [p["text"] for _, p in fake_threads.posts()] == [TEXT, "Deuxième partie", "Troisième partie"]
    assert len(fake_threads.calls("/threads_publish")) == 3
    assert result.url == f"https://www.threads.net/@newsroom/post/C{ids[0]}"
    assert all(r.headers["authorization"] == "Bearer threads-token" and "access_token" not in r.query
               for r in fake_threads.requests)


def test_cards_need_a_public_image_url_unless_turned_off():
    with pytest.raises(ValidationError, match="image_base_url"):
        ThreadsPublisher.Config(name="threads")
    assert ThreadsPublisher.Config(name="threads", card=False).image_base_url is None


def test_deletes_every_part_of_a_thread(fake_threads):
    threads = publisher(fake_threads.url)
    result = threads.publish(post(thread=["suite"]), idempotency_key="k")
    threads.delete(result.provider_id)
    deleted = [r.path.rsplit("/", 1)[-1] for r in fake_threads.calls("/v1.0/", "DELETE")]
    assert deleted == list(reversed(result.provider_id.split(",")))
    assert fake_threads.posts() == []


def test_a_lost_publish_answer_is_unconfirmed_and_the_check_finds_the_post(fake_threads):
    fake_threads.stall("/threads_publish", 1.0)
    with pytest.raises(Unconfirmed):
        publisher(fake_threads.url, timeout=0.3).publish(post(), idempotency_key="k")
    time.sleep(1.0)  # the service completes the request whose answer was lost
    result = publisher(fake_threads.url).publish(post(), idempotency_key="k", verify=True)
    assert len(fake_threads.calls("/threads_publish")) == 1 and len(fake_threads.posts()) == 1
    assert result.provider_id == fake_threads.posts()[0][0]


def test_a_lost_reply_is_found_under_the_part_before(fake_threads):
    threads = publisher(fake_threads.url, timeout=0.3)
    fake_threads.stall("/threads_publish", 1.0, after=1)
    accepted: list[str] = []
    with pytest.raises(Unconfirmed):
        threads.publish(post(thread=["suite"]), idempotency_key="k", on_part=lambda p: accepted.append(p.provider_id))
    time.sleep(1.0)
    result = publisher(fake_threads.url).publish(post(thread=["suite"]), idempotency_key="k", done=accepted,
                                                 verify=True)
    assert [p["text"] for _, p in fake_threads.posts()] == [TEXT, "suite"]
    assert len(fake_threads.calls("/threads_publish")) == 2
    assert fake_threads.calls(f"/v1.0/{accepted[0]}/replies", "GET")
    assert result.provider_id == ",".join(i for i, _ in fake_threads.posts())


def test_rate_limit_carries_the_reset_time(fake_threads):
    fake_threads.fail("/threads_publish", 429, headers={"Retry-After": "900"})
    with pytest.raises(RateLimited) as caught:
        publisher(fake_threads.url).publish(post(), idempotency_key="k")
    expected = datetime.now(UTC) + timedelta(seconds=900)
    assert caught.value.reset_at is not None and abs((caught.value.reset_at - expected).total_seconds()) < 5
    fake_threads.fail("/threads", 400, body={"error": {"message": "Application request limit reached", "code": 4}})
    with pytest.raises(RateLimited):
        publisher(fake_threads.url).publish(post(), idempotency_key="k")
    assert fake_threads.posts() == []


def test_server_errors_and_refused_connections_are_transient(fake_threads):
    fake_threads.fail("/threads_publish", 500)
    with pytest.raises(Transient) as caught:
        publisher(fake_threads.url).publish(post(), idempotency_key="k")
    assert not isinstance(caught.value, Unconfirmed)
    with pytest.raises(Transient):
        publisher("http://127.0.0.1:9", timeout=1).publish(post(), idempotency_key="k")
    assert fake_threads.posts() == []


def test_a_refused_token_names_the_env_var_and_never_the_token(fake_threads):
    with pytest.raises(AuthFailed) as caught:
        publisher(fake_threads.url, {"THREADS_ACCESS_TOKEN": "secret-nope"}).publish(post(), idempotency_key="k")
    assert "threads" in str(caught.value) and "THREADS_ACCESS_TOKEN" in str(caught.value)
    assert "secret-nope" not in str(caught.value)
    fake_threads.fail("/threads", 401)
    with pytest.raises(AuthFailed):
        publisher(fake_threads.url).publish(post(), idempotency_key="k")
    with pytest.raises(AuthFailed, match="THREADS_ACCESS_TOKEN"):
        publisher(fake_threads.url, {}).publish(post(), idempotency_key="k")
    assert fake_threads.posts() == []
