"""`require_approval: when_unsure`: only the posts of weakly extracted announcements wait for a person."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from newsletter.core.models import Announcement, DeliveryStatus, Quote
from newsletter.pipeline.posting import queue_posts
from newsletter.publish.settings import MastodonConfig
from newsletter.store.ledger import Ledger
from tests.pipeline.test_posting import NOW, announcement, mastodon_channel, write_config


def weak_announcement() -> Announcement:
    weak = announcement(2)
    weak.quotes = [Quote("Nous tiendrons parole devant chaque jeune. C'est un engagement.", "Marie Martin",
                         "ministre", score=0.6)]
    return weak


def test_when_unsure_holds_only_the_weak_posts(fake_mastodon, store, tmp_path):
    for item in (announcement(), weak_announcement()):
        store.announcements.upsert_announcement(item, announce=True, now=NOW - timedelta(hours=1))
    channel = mastodon_channel(fake_mastodon.url, require_approval="when_unsure", variants=["quote"])
    config = write_config(tmp_path, [channel])
    assert queue_posts(config, store, NOW) == {"masto": 2}
    ledger = Ledger(store)
    assert ledger.get("post:ann0000000000001:quote:masto").status == DeliveryStatus.PENDING
    assert ledger.get("post:ann0000000000002:quote:masto").status == DeliveryStatus.AWAITING_APPROVAL


@pytest.mark.parametrize(("value", "expected"), [(True, True), (False, False), ("when_unsure", "when_unsure")])
def test_require_approval_accepts_true_false_and_when_unsure(value: object, expected: object) -> None:
    config = MastodonConfig.model_validate({"name": "m", "type": "mastodon", "base_url": "https://m.example",
                                            "require_approval": value})
    assert config.require_approval == expected
    assert config.holds(weak_announcement()) is (expected is not False)
    assert config.holds(announcement()) is (expected is True)


def test_require_approval_refuses_other_words() -> None:
    with pytest.raises(ValidationError, match="require_approval"):
        MastodonConfig.model_validate({"name": "m", "type": "mastodon", "base_url": "https://m.example",
                                       "require_approval": "sometimes"})
