"""A LinkedIn channel end to end through the ledger: posted once, even when the answer was lost."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from newsletter.core.models import DeliveryStatus
from newsletter.pipeline.posting import delete_post, post_due, queue_posts
from newsletter.store import Store
from newsletter.store.ledger import Ledger
from tests.pipeline.test_posting import NOW, announcement, write_config

KEY = "post:ann0000000000001:quote:linkedin"


@pytest.fixture
def store(tmp_path):
    with Store.open(f"sqlite:///{tmp_path / 'db.sqlite'}", create=True) as opened:
        opened.announcements.upsert_announcement(announcement(), announce=True, now=NOW - timedelta(hours=1))
        yield opened


@pytest.fixture
def config(fake_linkedin, tmp_path, monkeypatch):
    monkeypatch.setenv("LINKEDIN_ACCESS_TOKEN", "li-token")
    channel = {"name": "linkedin", "type": "linkedin", "base_url": fake_linkedin.url, "timeout": 0.5,
               "organization_id": "5515715", "card": False, "variants": ["quote"]}
    return write_config(tmp_path, [channel])


def test_a_post_whose_answer_was_lost_is_found_before_any_retry(config, store, fake_linkedin):
    queue_posts(config, store, NOW)
    fake_linkedin.stall("/rest/posts", 1.0)
    report = post_due(config, store, "linkedin", NOW, sleep=lambda _: time.sleep(1.0))
    assert report.sent == [KEY], report.errors
    assert len(fake_linkedin.posts()) == 1 and len(fake_linkedin.calls("/rest/posts")) == 1
    row = Ledger(store).get(KEY)
    assert row.provider_id == fake_linkedin.posts()[0][0]
    assert row.provider_url == f"https://www.linkedin.com/feed/update/{row.provider_id}/"


def test_a_refused_token_pauses_the_channel_and_delete_retracts(config, store, fake_linkedin, monkeypatch):
    queue_posts(config, store, NOW)
    monkeypatch.setenv("LINKEDIN_ACCESS_TOKEN", "revoked")
    report = post_due(config, store, "linkedin", NOW)
    assert report.paused and "LINKEDIN_ACCESS_TOKEN" in report.paused and "revoked" not in report.paused
    assert store.audit.channel_pause("linkedin")[0] and fake_linkedin.posts() == []
    store.audit.set_channel_paused("linkedin", False, None, now=NOW)
    monkeypatch.setenv("LINKEDIN_ACCESS_TOKEN", "li-token")
    assert post_due(config, store, "linkedin", NOW + timedelta(hours=1)).sent == [KEY]
    delete_post(config, store, KEY)
    assert fake_linkedin.posts() == [] and Ledger(store).get(KEY).status == DeliveryStatus.DELETED
