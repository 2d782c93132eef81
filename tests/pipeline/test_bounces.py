"""Bounces and complaints applied to the store (SQLite and PostgreSQL): hard bounces suppress,
soft ones are counted up to the threshold, complaints take the person off every list, and a
report delivered twice is applied once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from newsletter.config import Config
from newsletter.core.keys import email_key
from newsletter.core.models import BounceEvent, BounceKind, DeliveryKind
from newsletter.pipeline import subscribers as subs
from newsletter.pipeline.bounces import Effect, apply_bounce, apply_bounces
from newsletter.pipeline.subscribers import SubscriberError
from newsletter.store import Store, SubscriberStatus
from newsletter.store.ledger import Ledger
from tests.fakes.smtp import create_issue, write_mail_config

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CONFIG = Config.model_validate({"bounces": {"soft_threshold": 3, "soft_window_days": 30}})


def event(kind: BounceKind, recipient: str = "jeanne@example.org", event_id: str = "imap:<dsn-1@mx.example.org>",
          *, at: datetime = NOW) -> BounceEvent:
    return BounceEvent(event_id=event_id, source="imap", kind=kind, recipient=recipient,
                       diagnostic="smtp; 550 5.1.1 <jeanne@example.org>: user unknown", occurred_at=at)


def sendable(store: Store) -> list[str]:
    return [email for _, email, _ in store.subscribers.sendable_subscribers(["main", "culture"])]


def test_a_hard_bounce_marks_the_subscriber_bounced_and_suppressed_once(store: Store) -> None:
    store.subscribers.add_subscriber("Jeanne@example.org", lists=["main"])
    store.subscribers.add_subscriber("paul@example.org", lists=["main"])

    first = apply_bounce(CONFIG, store, event(BounceKind.HARD), NOW)
    again = apply_bounce(CONFIG, store, event(BounceKind.HARD), NOW + timedelta(minutes=5))

    assert first.effect is Effect.SUPPRESSED and again.effect is Effect.DUPLICATE
    jeanne = store.subscribers.get_subscriber("jeanne@example.org")
    assert jeanne is not None and jeanne.status is SubscriberStatus.BOUNCED
    assert store.subscribers.is_suppressed("jeanne@example.org")
    assert sendable(store) == ["paul@example.org"]
    logged = [a.action for a in store.audit.list_actions(limit=10) if a.target == f"subscriber:{jeanne.id}"]
    assert logged == ["subscriber.suppressed"]
    assert store.bounces.counts_since(NOW - timedelta(days=1))[BounceKind.HARD] == 1


def test_soft_bounces_are_counted_and_suppress_past_the_threshold(store: Store) -> None:
    store.subscribers.add_subscriber("jeanne@example.org", lists=["main"])
    old = event(BounceKind.SOFT, event_id="old", at=NOW - timedelta(days=40))
    reports = [old, *(event(BounceKind.SOFT, event_id=f"soft-{n}", at=NOW + timedelta(days=n)) for n in range(3))]

    results = apply_bounces(CONFIG, store, reports, NOW + timedelta(days=2))

    assert [(r.effect, r.soft_bounces) for r in results] == [
        (Effect.COUNTED, 0), (Effect.COUNTED, 1), (Effect.COUNTED, 2), (Effect.SUPPRESSED, 3)]
    assert store.subscribers.get_subscriber("jeanne@example.org").status is SubscriberStatus.BOUNCED
    assert store.subscribers.is_suppressed("jeanne@example.org")
    jeanne_id = store.subscribers.get_subscriber("jeanne@example.org").id
    assert store.bounces.soft_bounce_counts([jeanne_id], NOW - timedelta(days=1)) == {jeanne_id: 3}


def test_a_complaint_takes_the_person_off_every_list_for_good(store: Store) -> None:
    jeanne_id = store.subscribers.add_subscriber("jeanne@example.org", lists=["main", "culture"])

    result = apply_bounce(CONFIG, store, event(BounceKind.COMPLAINT, event_id="arf-1"), NOW)
    with pytest.raises(SubscriberError, match=r"jeanne@example.org is suppressed \(complaint\)"):
        subs.add(store, "jeanne@example.org", now=NOW, lists=["main"])
    apply_bounce(CONFIG, store, event(BounceKind.HARD, event_id="dsn-after"), NOW)

    assert result.effect is Effect.COMPLAINED
    jeanne = store.subscribers.get_subscriber("jeanne@example.org")
    assert jeanne is not None and jeanne.status is SubscriberStatus.COMPLAINED and jeanne.lists == []
    assert store.subscribers.lists_left(jeanne_id) == {"main", "culture"}
    assert store.subscribers.is_suppressed("jeanne@example.org")
    assert sendable(store) == []


def test_a_provider_unsubscribe_leaves_every_list_without_suppressing(store: Store) -> None:
    store.subscribers.add_subscriber("jeanne@example.org", lists=["main", "culture"])

    result = apply_bounce(CONFIG, store, event(BounceKind.UNSUBSCRIBE, event_id="brevo-unsub"), NOW)

    assert result.effect is Effect.UNSUBSCRIBED
    jeanne = store.subscribers.get_subscriber("jeanne@example.org")
    assert jeanne is not None and jeanne.status is SubscriberStatus.UNSUBSCRIBED and jeanne.lists == []
    assert not store.subscribers.is_suppressed("jeanne@example.org")


def test_an_address_that_is_no_subscriber_is_still_suppressed(store: Store) -> None:
    result = apply_bounce(CONFIG, store, event(BounceKind.HARD, "ancien@example.org"), NOW)

    assert result.effect is Effect.SUPPRESSED and result.subscriber_id is None
    assert "not a subscriber" in result.describe()
    assert store.subscribers.is_suppressed("ancien@example.org")


def test_a_report_recorded_but_not_applied_is_applied_when_it_comes_again(store: Store) -> None:
    store.subscribers.add_subscriber("jeanne@example.org", lists=["main"])
    store.bounces.record(event(BounceKind.HARD), NOW)  # as if the process died before applying it

    assert apply_bounce(CONFIG, store, event(BounceKind.HARD), NOW).effect is Effect.SUPPRESSED
    assert store.subscribers.get_subscriber("jeanne@example.org").status is SubscriberStatus.BOUNCED


def test_reports_are_counted_against_the_issue_last_sent_to_the_address(store: Store, tmp_path: Path) -> None:
    from newsletter.config import load_config

    config = load_config(write_mail_config(tmp_path, None))
    issue = create_issue(config, store, NOW)
    sid = store.subscribers.add_subscriber("jeanne@example.org", lists=["main"])
    ledger = Ledger(store)
    ledger.ensure_pending([(email_key(issue.id, sid), str(DeliveryKind.EMAIL), "jeanne@example.org",
                            {"subscriber_id": sid})], issue_id=issue.id)
    (claimed,) = ledger.claim_batch(str(DeliveryKind.EMAIL), 10, issue_id=issue.id)
    ledger.mark_sent(claimed.key, "250 OK", now=NOW)

    apply_bounce(CONFIG, store, event(BounceKind.SOFT, event_id="soft-a"), NOW + timedelta(hours=1))
    apply_bounce(CONFIG, store, event(BounceKind.COMPLAINT, event_id="arf-a"), NOW + timedelta(hours=2))

    counts = store.bounces.counts_by_issue([issue.id, "other"])
    assert counts[issue.id] == {BounceKind.SOFT: 1, BounceKind.COMPLAINT: 1}
    assert counts["other"] == {}
