"""BlueskyPublisher against a loopback PDS, through atproto's Client."""

from __future__ import annotations

import io
import os
import time
from pathlib import Path

import pytest
from PIL import Image

from newsletter.core.models import Media, Post
from newsletter.publish.bluesky import MAX_IMAGE_BYTES, BlueskyPublisher
from newsletter.publish.faults import AuthFailed, RateLimited, Transient

ENV = {"BLUESKY_APP_PASSWORD": "app-password"}
TEXT = "Le plan https://www.gouv.fr/plan-jeunes #Emploi"


def publisher(url: str, environ: dict[str, str] | None = None) -> BlueskyPublisher:
    config = BlueskyPublisher.Config(name="bsky", base_url=url, handle="newsroom.test", timeout=2)
    return BlueskyPublisher(config, environ=ENV if environ is None else environ)


def post(**extra: object) -> Post:
    return Post("bsky", "bluesky", "ann1", "quote", TEXT, 48, 300, **extra)  # type: ignore[arg-type]


def records(fake) -> list[dict]:
    return [r.json()["record"] for r in fake.calls("com.atproto.repo.createRecord")]


def test_posts_link_and_tag_facets_image_alt_text_and_thread(fake_bluesky, tmp_path):
    path = tmp_path / "card.png"
    Image.new("RGB", (1200, 675), "white").save(path)
    result = publisher(fake_bluesky.url).publish(
        post(thread=["Suite"], media=[Media(str(path), "« Texte » — Marie Martin")]), idempotency_key="k"
    )
    first, second = records(fake_bluesky)
    assert first["text"] == TEXT
    assert first["langs"] == ["fr"] and second["langs"] == ["fr"]
    link, tag = first["facets"]
    url = "https://www.gouv.fr/plan-jeunes"
    start = TEXT.encode().index(url.encode())
    assert (link["index"]["byteStart"], link["index"]["byteEnd"]) == (start, start + len(url.encode()))
    assert link["features"][0]["uri"] == url
    assert tag["features"][0]["tag"] == "Emploi"
    image = first["embed"]["images"][0]
    assert image["alt"] == "« Texte » — Marie Martin"
    assert (image["aspectRatio"]["width"], image["aspectRatio"]["height"]) == (1200, 675)
    root = result.provider_id.split(",")[0]
    assert second["reply"]["root"]["uri"] == root and second["reply"]["parent"]["uri"] == root
    assert "embed" not in second or second["embed"] is None
    assert result.url == f"https://bsky.app/profile/newsroom.test/post/{root.rsplit('/', 1)[-1]}"


def test_images_over_a_million_bytes_are_shrunk(fake_bluesky, tmp_path):
    path = tmp_path / "noise.png"
    Image.frombytes("RGB", (1200, 675), os.urandom(1200 * 675 * 3)).save(path)
    assert path.stat().st_size > MAX_IMAGE_BYTES
    publisher(fake_bluesky.url).publish(post(media=[Media(str(path), "bruit")]), idempotency_key="k")
    upload = fake_bluesky.calls("com.atproto.repo.uploadBlob")[0].body
    assert len(upload) <= MAX_IMAGE_BYTES
    assert Image.open(io.BytesIO(upload)).size[0] > 0


def test_posts_are_tagged_with_the_announcements_language(fake_bluesky):
    publisher(fake_bluesky.url).publish(post(language="en"), idempotency_key="k")
    assert [record["langs"] for record in records(fake_bluesky)] == [["en"]]


def test_delete_removes_the_record(fake_bluesky):
    bsky = publisher(fake_bluesky.url)
    result = bsky.publish(post(), idempotency_key="k")
    bsky.delete(result.provider_id)
    assert result.provider_id not in fake_bluesky.objects
    assert fake_bluesky.calls("com.atproto.repo.deleteRecord")[0].json()["rkey"] == result.provider_id.rsplit("/")[-1]


def test_wrong_app_password_names_the_env_var(fake_bluesky):
    with pytest.raises(AuthFailed) as caught:
        publisher(fake_bluesky.url, {"BLUESKY_APP_PASSWORD": "bad"}).publish(post(), idempotency_key="k")
    assert "bsky" in str(caught.value) and "BLUESKY_APP_PASSWORD" in str(caught.value)


def test_rate_limit_and_server_errors(fake_bluesky):
    reset = int(time.time()) + 600
    fake_bluesky.fail("createRecord", 429, headers={"ratelimit-reset": str(reset), "ratelimit-remaining": "0"},
                      body={"error": "RateLimitExceeded"})
    with pytest.raises(RateLimited) as caught:
        publisher(fake_bluesky.url).publish(post(), idempotency_key="k")
    assert int(caught.value.reset_at.timestamp()) == reset
    fake_bluesky.fail("createRecord", 500, body={"error": "InternalServerError"})
    with pytest.raises(Transient):
        publisher(fake_bluesky.url).publish(post(), idempotency_key="k")
    assert not any(key.startswith("at://") for key in fake_bluesky.objects)


def test_stays_on_the_configured_url(fake_bluesky, tmp_path: Path):
    publisher(fake_bluesky.url).publish(post(), idempotency_key="k")
    assert fake_bluesky.requests[0].path == "/xrpc/com.atproto.server.createSession"


def test_every_link_the_app_would_show_gets_a_facet(fake_bluesky):
    text = "Inscriptions http://127.0.0.1:8080/inscription et sur info.gouv.fr/jeunes #Emploi"
    publisher(fake_bluesky.url).publish(Post("bsky", "bluesky", "ann1", "link", text, len(text), 300),
                                        idempotency_key="links")
    (record,) = records(fake_bluesky)
    encoded = text.encode()
    shown = [encoded[f["index"]["byteStart"]:f["index"]["byteEnd"]].decode() for f in record["facets"]]
    assert shown == ["http://127.0.0.1:8080/inscription", "info.gouv.fr/jeunes", "#Emploi"]
    assert record["facets"][1]["features"][0]["uri"] == "https://info.gouv.fr/jeunes"
