"""Threads as one unit, against the four loopback APIs: every part recorded as it is accepted, a
cut thread resumed from the next part or retracted whole, and no create ever sent twice."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from newsletter.core.models import DeliveryStatus
from newsletter.pipeline.posting import delete_post, list_posts, post_due, queue_posts, settle_post
from newsletter.store import Store
from newsletter.store.ledger import Ledger
from tests.pipeline.test_posting import NOW, announcement, write_config

S = DeliveryStatus
THREAD = ["Deuxième partie du fil, avec le détail des mesures.", "Troisième partie : le calendrier."]


@dataclass
class Service:
    """One platform's fake, how its channel is configured and how to read what it holds."""

    name: str
    fake: Any
    create_path: str

    def channel(self, **extra: object) -> dict[str, object]:
        base: dict[str, object] = {"name": self.name, "type": self.name, "base_url": self.fake.url, "timeout": 0.5,
                                   "card": False, "variants": ["quote"]}
        if self.name == "bluesky":
            base["handle"] = "newsroom.test"
        return {**base, **extra}

    def texts(self) -> list[str]:
        """The texts of the posts the service holds, in creation order."""
        if self.name == "x":
            return [body["text"] for _, body in self.fake.tweets()]
        if self.name == "mastodon":
            return self.fake.texts()
        if self.name == "threads":
            return [params["text"] for _, params in self.fake.posts()]
        return [record["text"] for record in self.fake.posts()]

    def creates(self) -> int:
        """How many create requests the service received."""
        return len(self.fake.calls(self.create_path))


@pytest.fixture
def store(tmp_path):
    with Store.open(f"sqlite:///{tmp_path / 'db.sqlite'}", create=True) as opened:
        opened.announcements.upsert_announcement(announcement(), announce=True, now=NOW - timedelta(hours=1))
        yield opened


@pytest.fixture(autouse=True)
def credentials(monkeypatch):
    monkeypatch.setenv("MASTODON_ACCESS_TOKEN", "masto-token")
    monkeypatch.setenv("BLUESKY_APP_PASSWORD", "app-password")
    monkeypatch.setenv("THREADS_ACCESS_TOKEN", "threads-token")
    for name, value in {"X_API_KEY": "x-key", "X_API_SECRET": "s", "X_ACCESS_TOKEN": "t",
                        "X_ACCESS_TOKEN_SECRET": "ts"}.items():
        monkeypatch.setenv(name, value)


@pytest.fixture(params=["x", "mastodon", "bluesky", "threads"])
def service(request) -> Service:
    paths = {"x": "/2/tweets", "mastodon": "/api/v1/statuses", "bluesky": "createRecord",
             "threads": "threads_publish"}
    fake = request.getfixturevalue(f"fake_{request.param}")
    return Service(request.param, fake, paths[request.param])


def queue_thread(service: Service, store, tmp_path, **extra: object):
    """Queue the quote post as a three-part thread; returns (config, key, the three texts)."""
    config = write_config(tmp_path, [service.channel(**extra)])
    queue_posts(config, store, NOW)
    key = f"post:ann0000000000001:quote:{service.name}"
    ledger = Ledger(store)
    payload = dict(ledger.get(key).payload, thread=THREAD)
    assert ledger.update_payload(key, payload, only_in=[S.PENDING])
    return config, key, [payload["text"], *THREAD]


def test_a_reply_refused_for_good_resumes_from_the_next_part(service, store, tmp_path):
    config, key, texts = queue_thread(service, store, tmp_path)
    service.fake.fail(service.create_path, 503, after=1, times=3)
    report = post_due(config, store, service.name, NOW, sleep=lambda _: None)
    row = Ledger(store).get(key)
    assert report.rescheduled == [key] and row.status == S.PENDING
    assert len(row.provider_id.split(",")) == 1 and row.provider_url  # the public part 1 is kept
    assert post_due(config, store, service.name, NOW + timedelta(hours=1)).sent == [key]
    assert service.texts() == texts  # each part exactly once, in order
    assert len(Ledger(store).get(key).provider_id.split(",")) == 3
    assert Ledger(store).get(key).provider_url == row.provider_url


def test_a_reply_whose_answer_was_lost_is_found_before_any_retry(service, store, tmp_path):
    config, key, texts = queue_thread(service, store, tmp_path)
    service.fake.stall(service.create_path, 1.0, after=1)
    report = post_due(config, store, service.name, NOW, sleep=lambda _: time.sleep(1.0))
    assert report.sent == [key], report.errors
    assert service.texts() == texts


def test_an_uncertain_thread_settled_not_sent_resumes_without_reposting_part_one(service, store, tmp_path):
    config, key, texts = queue_thread(service, store, tmp_path)
    service.fake.stall(service.create_path, 1.0, after=1, times=3)
    report = post_due(config, store, service.name, NOW, sleep=lambda _: time.sleep(1.0))
    if report.uncertain:  # the check itself could not settle it (X: the stalled part is not listed yet)
        assert Ledger(store).get(key).status == S.UNCERTAIN
        settle_post(store, key, sent=False, now=NOW)
        assert post_due(config, store, service.name, NOW + timedelta(hours=1)).sent == [key]
    assert service.texts() == texts


def test_a_cut_thread_is_retracted_whole_and_listed_deleted(service, store, tmp_path):
    config, key, _ = queue_thread(service, store, tmp_path)
    service.fake.fail(service.create_path, 400, after=1, body={"error": "InvalidRequest", "message": "no",
                                                               "detail": "no"})
    report = post_due(config, store, service.name, NOW, sleep=lambda _: None)
    assert report.failed == [key]
    part = Ledger(store).get(key).provider_id
    delete_post(config, store, key)
    assert service.texts() == []
    row = Ledger(store).get(key)
    assert row.status == S.DELETED and row.provider_id is None
    assert [r.status for r in list_posts(store)] == [S.DELETED]
    assert part and post_due(config, store, service.name, NOW + timedelta(hours=1)).sent == []
    assert service.creates() == 2


def test_a_sent_thread_is_deleted_part_by_part(service, store, tmp_path):
    config, key, _ = queue_thread(service, store, tmp_path)
    assert post_due(config, store, service.name, NOW).sent == [key]
    delete_post(config, store, key)
    assert service.texts() == [] and Ledger(store).get(key).status == S.DELETED
