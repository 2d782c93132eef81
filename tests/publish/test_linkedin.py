"""LinkedInPublisher against a loopback LinkedIn API: the Posts and Images APIs over httpx."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image
from pydantic import ValidationError

from newsletter.core.errors import PublishError
from newsletter.core.models import Media, Post
from newsletter.publish.faults import AuthFailed, RateLimited, Transient, Unconfirmed
from newsletter.publish.linkedin import LinkedInPublisher, little_text

ENV = {"LINKEDIN_ACCESS_TOKEN": "li-token"}
TEXT = "Le plan (2025) https://www.gouv.fr/plan_jeunes #Emploi"


def publisher(url: str, environ: dict[str, str] | None = None, timeout: float = 2) -> LinkedInPublisher:
    config = LinkedInPublisher.Config(name="li", base_url=url, organization_id="5515715", timeout=timeout)
    return LinkedInPublisher(config, environ=ENV if environ is None else environ)


def card(tmp_path: Path) -> Media:
    path = tmp_path / "card.png"
    Image.new("RGB", (1200, 627), "#000091").save(path)
    return Media(str(path), "« Nous agissons » — Marie Martin")


def post(text: str = TEXT, **extra: object) -> Post:
    return Post("li", "linkedin", "ann1", "quote", text, len(text), 3000, **extra)  # type: ignore[arg-type]


def test_posts_for_the_organisation_with_the_card_and_its_alt_text(fake_linkedin, tmp_path):
    result = publisher(fake_linkedin.url).publish(post(media=[card(tmp_path)]), idempotency_key="k")
    init = fake_linkedin.calls("/rest/images")[0]
    assert init.json() == {"initializeUploadRequest": {"owner": "urn:li:organization:5515715"}}
    uploaded = fake_linkedin.calls("/dms-uploads/", "PUT")[0]
    assert uploaded.body.startswith(b"\x89PNG") and uploaded.headers["content-type"] == "image/png"
    create = fake_linkedin.calls("/rest/posts")[0]
    assert create.headers["linkedin-version"] == "202501"
    assert create.headers["x-restli-protocol-version"] == "2.0.0"
    body = create.json()
    assert body["author"] == "urn:li:organization:5515715"
    assert body["commentary"] == r"Le plan \(2025\) https://www.gouv.fr/plan_jeunes {hashtag|\#|Emploi}"
    assert body["visibility"] == "PUBLIC" and body["lifecycleState"] == "PUBLISHED"
    assert body["distribution"]["feedDistribution"] == "MAIN_FEED"
    image = uploaded.path.rsplit("/", 1)[-1]
    assert body["content"]["media"] == {"id": f"urn:li:image:{image}", "altText": "« Nous agissons » — Marie Martin"}
    assert result.provider_id == fake_linkedin.posts()[0][0]
    assert result.url == f"https://www.linkedin.com/feed/update/{result.provider_id}/"


def test_little_text_escapes_reserved_characters_but_not_urls():
    assert little_text("Vous * @Marie [1] <b> ~ _x_ https://a.fr/x_(y)") == \
        r"Vous \* \@Marie \[1\] \<b\> \~ \_x\_ https://a.fr/x_(y)"
    assert little_text("#Emploi_jeunes et #Jeunesse") == r"{hashtag|\#|Emploi\_jeunes} et {hashtag|\#|Jeunesse}"


def test_a_thread_channel_is_refused_at_validation():
    with pytest.raises(ValidationError, match="LinkedIn has no threads"):
        LinkedInPublisher.Config(name="li", organization_id="1", thread=True)


def test_a_post_with_thread_parts_is_refused_before_any_request(fake_linkedin):
    with pytest.raises(PublishError, match="no threads"):
        publisher(fake_linkedin.url).publish(post(thread=["suite"]), idempotency_key="k")
    assert fake_linkedin.requests == []


def test_delete_retracts_the_post(fake_linkedin):
    li = publisher(fake_linkedin.url)
    result = li.publish(post(), idempotency_key="k")
    li.delete(result.provider_id)
    deleted = fake_linkedin.calls("/rest/posts/", "DELETE")[0]
    assert deleted.path == "/rest/posts/" + result.provider_id.replace(":", "%3A")
    assert fake_linkedin.posts() == []
    li.delete(result.provider_id)  # already gone: nothing to do


def test_a_lost_answer_is_unconfirmed_and_the_check_finds_the_post(fake_linkedin):
    fake_linkedin.stall("/rest/posts", 1.0)
    with pytest.raises(Unconfirmed):
        publisher(fake_linkedin.url, timeout=0.3).publish(post(), idempotency_key="k")
    time.sleep(1.0)  # the service completes the request whose answer was lost
    result = publisher(fake_linkedin.url).publish(post(), idempotency_key="k", verify=True)
    assert len(fake_linkedin.calls("/rest/posts")) == 1 and len(fake_linkedin.posts()) == 1
    assert result.provider_id == fake_linkedin.posts()[0][0]
    finder = fake_linkedin.calls("/rest/posts", "GET")[0]
    assert finder.query["q"] == ["author"] and finder.query["author"] == ["urn:li:organization:5515715"]


def test_a_duplicate_refusal_resolves_to_the_original_post(fake_linkedin):
    li = publisher(fake_linkedin.url)
    first = li.publish(post(), idempotency_key="k")
    assert li.publish(post(), idempotency_key="k") == first
    assert len(fake_linkedin.posts()) == 1


def test_rate_limit_carries_the_reset_time(fake_linkedin):
    fake_linkedin.fail("/rest/posts", 429, headers={"Retry-After": "600"})
    with pytest.raises(RateLimited) as caught:
        publisher(fake_linkedin.url).publish(post(), idempotency_key="k")
    expected = datetime.now(UTC) + timedelta(seconds=600)
    assert caught.value.reset_at is not None and abs((caught.value.reset_at - expected).total_seconds()) < 5
    assert fake_linkedin.posts() == []


def test_server_errors_and_refused_connections_are_transient(fake_linkedin, tmp_path):
    fake_linkedin.fail("/rest/posts", 503)
    with pytest.raises(Transient) as caught:
        publisher(fake_linkedin.url).publish(post(), idempotency_key="k")
    assert not isinstance(caught.value, Unconfirmed)
    with pytest.raises(Transient):
        publisher("http://127.0.0.1:9", timeout=1).publish(post(media=[card(tmp_path)]), idempotency_key="k")
    assert fake_linkedin.posts() == []


def test_a_refused_token_names_the_env_var_and_never_the_token(fake_linkedin):
    with pytest.raises(AuthFailed) as caught:
        publisher(fake_linkedin.url, {"LINKEDIN_ACCESS_TOKEN": "secret-nope"}).publish(post(), idempotency_key="k")
    assert "li" in str(caught.value) and "LINKEDIN_ACCESS_TOKEN" in str(caught.value)
    assert "secret-nope" not in str(caught.value)
    with pytest.raises(AuthFailed, match="LINKEDIN_ACCESS_TOKEN"):
        publisher(fake_linkedin.url, {}).publish(post(), idempotency_key="k")
    assert all(r.headers["authorization"] != "Bearer li-token" for r in fake_linkedin.requests)
