"""Each issue's results: delivered, failed, bounces (at send and reported later), complaints,
and unsubscribes attributed to the latest issue sent to the list when they happened."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from newsletter.core.models import BounceEvent, BounceKind
from newsletter.pipeline.bounces import apply_bounce
from newsletter.pipeline.results import results_of
from newsletter.store import DigestIssueStatus
from newsletter.store.digests import FIRST_ISSUE
from newsletter.store.ledger import Ledger
from tests.fakes.review_env import NOW, ReviewEnv
from tests.pipeline.test_actions import frozen_issue


def sent_issue(env: ReviewEnv, at: datetime, outcomes: dict[str, str]) -> str:
    """A digest issue (the next of the chain) whose message to each address was accepted
    (`sent`) or refused (a reply)."""
    tip = env.store.issues.digest_chain_tip("hebdo")
    if tip == FIRST_ISSUE:
        issue_id = frozen_issue(env, DigestIssueStatus.SENT)
    else:
        previous = env.store.issues.get_digest_issue(tip)
        assert previous is not None
        issue_id = env.store.issues.create_digest_issue(replace(previous.digest, issue_id=f"{tip}-next"),
                                                        status=DigestIssueStatus.SENT, follows=tip, now=at).id
    ledger = Ledger(env.store)
    subscribers = {s.email: s.id for s in env.store.subscribers.list_subscribers(status=None)}
    rows = [(f"email:{issue_id}:{subscribers[a]}", "email", a, {}) for a in outcomes]
    ledger.ensure_pending(rows, issue_id=issue_id, now=NOW)
    for (key, _, _, _), outcome in zip(rows, outcomes.values(), strict=True):
        ledger.claim(key, at)
        if outcome == "sent":
            ledger.mark_sent(key, now=at)
        else:
            ledger.mark_failed(key, outcome, now=at)
    return issue_id


def test_results_count_deliveries_bounces_complaints_and_unsubscribes_of_the_period(review_env: ReviewEnv) -> None:
    store, config = review_env.store, review_env.config
    for name in ["carla", "dan", "eve"]:
        store.subscribers.add_subscriber(f"{name}@example.org", lists=["main"], now=NOW - timedelta(days=9))
    first = sent_issue(review_env, NOW, {"ana@example.org": "sent", "bob@example.org": "sent",
                                         "carla@example.org": "sent", "dan@example.org": "550 no such user"})
    apply_bounce(config, store, BounceEvent("dsn-dan", "imap", BounceKind.HARD, "dan@example.org", "550",
                                            NOW + timedelta(minutes=5)), NOW + timedelta(minutes=5))
    apply_bounce(config, store, BounceEvent("dsn-ana", "imap", BounceKind.SOFT, "ana@example.org", "452 full",
                                            NOW + timedelta(minutes=9)), NOW + timedelta(minutes=9))
    apply_bounce(config, store, BounceEvent("arf-bob", "imap", BounceKind.COMPLAINT, "bob@example.org", "abuse",
                                            NOW + timedelta(hours=1)), NOW + timedelta(hours=1))
    carla = store.subscribers.get_subscriber("carla@example.org")
    store.subscribers.leave_lists(carla.id, ["main"], NOW + timedelta(days=1))
    store.subscribers.leave_lists(carla.id, ["culture"], NOW + timedelta(days=1))  # not this digest's list
    results = results_of(config, store, first)
    assert results is not None
    assert (results.recipients, results.delivered, results.failed, results.waiting) == (4, 3, 1, 0)
    assert (results.bounced_at_send, results.bounced_later, results.bounces) == (1, 1, 2)  # dan refused; ana's report
    assert results.complaints == 1
    assert results.unsubscribes == 2  # bob (complaint: off every list) and carla, after this issue went out
    assert results.clicks is None  # tracking.clicks is off
    store.issues.set_digest_issue_status(first, "sent")

    eve = store.subscribers.get_subscriber("eve@example.org")
    second_at = NOW + timedelta(days=7)
    store.subscribers.leave_lists(eve.id, ["main"], second_at + timedelta(days=1))
    second = sent_issue(review_env, second_at, {"ana@example.org": "sent", "eve@example.org": "sent"})
    assert second != first
    assert results_of(config, store, first).unsubscribes == 2  # eve left after the next issue went out
    assert results_of(config, store, second).unsubscribes == 1
    assert results_of(config, store, "no-such-issue") is None
