"""The delivery ledger on SQLite and PostgreSQL: idempotent rows, exclusive claims, no resend."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert, select, update

from newsletter.core.errors import StoreError
from newsletter.core.models import DeliveryStatus, Digest
from newsletter.store import Store
from newsletter.store.db import database_now
from newsletter.store.ledger import Ledger
from newsletter.store.owners import OWNER_TTL_SECONDS
from newsletter.store.tables import claim_owners, deliveries
from tests.fakes.crash import process_died

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
S = DeliveryStatus


def emails(count: int, issue: str = "hebdo-1") -> list[tuple[str, str, str, dict[str, object]]]:
    """Ledger rows for one digest issue sent to `count` recipients."""
    return [(f"email:{issue}:{n}", "email", f"person{n}@example.org", {"subscriber_id": n}) for n in range(count)]


@pytest.fixture
def ledger(store: Store) -> Ledger:
    """A ledger with one frozen digest issue to attach email rows to."""
    for issue in ("hebdo-1", "hebdo-2"):
        digest = Digest("hebdo", issue, "Sujet", "general", [], "<p>x</p>", "x")
        store.issues.create_digest_issue(digest, follows=store.issues.digest_chain_tip("hebdo"), now=T0)
    return Ledger(store, max_attempts=3)


def test_batch_creation_of_10000_rows_is_idempotent(ledger: Ledger) -> None:
    rows = emails(10_000)
    assert ledger.ensure_pending(rows, issue_id="hebdo-1", now=T0) == 10_000
    assert ledger.claim("email:hebdo-1:42", T0)
    ledger.mark_sent("email:hebdo-1:42", provider_id="<msg-42@example.org>", now=T0)
    assert ledger.ensure_pending(iter(rows), issue_id="hebdo-1", now=T0) == 0
    counts = ledger.counts("hebdo-1")
    assert (counts["pending"], counts["sent"]) == (9_999, 1)
    sent = ledger.get("email:hebdo-1:42")
    assert sent is not None
    assert (sent.status, sent.provider_id, sent.payload) == (
        S.SENT,
        "<msg-42@example.org>",
        {"subscriber_id": 42},
    )


def test_rows_from_another_issue_are_counted_apart(ledger: Ledger) -> None:
    ledger.ensure_pending(emails(3, "hebdo-1"), issue_id="hebdo-1", now=T0)
    ledger.ensure_pending(emails(2, "hebdo-2"), issue_id="hebdo-2", now=T0)
    assert ledger.counts("hebdo-2")["pending"] == 2
    assert ledger.counts()["pending"] == 5
    assert ledger.get("missing") is None


def test_concurrent_claims_of_one_key_have_one_winner(ledger: Ledger, migrated_url: str) -> None:
    keys = [key for key, *_ in emails(200)]
    ledger.ensure_pending(emails(200), issue_id="hebdo-1", now=T0)
    other = Store.open(migrated_url)
    ledgers = [ledger, Ledger(other)]
    won: list[Counter[str]] = [Counter(), Counter()]
    barrier = threading.Barrier(2)

    def claim_all(index: int) -> None:
        barrier.wait()
        for key in keys:
            if ledgers[index].claim(key, T0):
                won[index][key] += 1

    threads = [threading.Thread(target=claim_all, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    other.close()
    assert sum(won[0].values()) + sum(won[1].values()) == 200
    assert not set(won[0]) & set(won[1])
    assert ledger.counts()["claimed"] == 200


def test_concurrent_batch_claims_never_share_a_row(ledger: Ledger, migrated_url: str) -> None:
    ledger.ensure_pending(emails(600), issue_id="hebdo-1", now=T0)
    other = Store.open(migrated_url)
    ledgers = [ledger, Ledger(other)]
    claimed: list[list[str]] = [[], []]
    barrier = threading.Barrier(2)

    def drain(index: int) -> None:
        barrier.wait()
        while batch := ledgers[index].claim_batch("email", 25, T0, issue_id="hebdo-1"):
            claimed[index] += [d.key for d in batch]

    threads = [threading.Thread(target=drain, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    other.close()
    everything = claimed[0] + claimed[1]
    assert len(everything) == 600
    assert len(set(everything)) == 600


def test_batch_claims_never_take_more_than_the_limit(ledger: Ledger) -> None:
    ledger.ensure_pending(emails(5), issue_id="hebdo-1", now=T0)
    assert [d.key for d in ledger.claim_batch("email", 2, T0, issue_id="hebdo-1")] == [
        "email:hebdo-1:0", "email:hebdo-1:1"]
    assert len(ledger.claim_batch("email", 2, T0)) == 2
    assert ledger.counts("hebdo-1")["claimed"] == 4


def test_a_sent_row_is_never_claimed_or_reset_again(ledger: Ledger) -> None:
    ledger.ensure_pending([("post:a1:court:mastodon", "post", "mastodon", None)], now=T0)
    (delivery,) = ledger.claim_batch("post", 10, T0)
    assert (delivery.key, delivery.status, delivery.attempts) == (
        "post:a1:court:mastodon",
        S.CLAIMED,
        1,
    )
    assert not ledger.claim("post:a1:court:mastodon", T0)
    ledger.mark_sent("post:a1:court:mastodon", "109", "https://social.example/@x/109", T0)
    assert not ledger.claim("post:a1:court:mastodon", T0 + timedelta(days=1))
    assert ledger.claim_batch("post", 10, T0 + timedelta(days=1)) == []
    process_died(ledger.store)
    assert ledger.recover_dead_claims(T0 + timedelta(days=1)) == {"pending": 0, "uncertain": 0}
    with pytest.raises(StoreError, match="is sent, expected claimed"):
        ledger.mark_sent("post:a1:court:mastodon", now=T0)
    for mark in (ledger.mark_failed, ledger.mark_skipped):
        with pytest.raises(StoreError, match="is sent"):
            mark("post:a1:court:mastodon", "late")
    assert ledger.ensure_pending([("post:a1:court:mastodon", "post", "mastodon", None)]) == 0
    stored = ledger.get("post:a1:court:mastodon")
    assert stored is not None
    assert (stored.status, stored.provider_url) == (S.SENT, "https://social.example/@x/109")


def test_retry_waits_until_due_then_fails_after_max_attempts(ledger: Ledger) -> None:
    key = "email:hebdo-1:0"
    ledger.ensure_pending(emails(1), issue_id="hebdo-1", now=T0)
    when = T0
    for attempt in (1, 2):
        assert ledger.claim(key, when)
        due = when + timedelta(minutes=5)
        assert ledger.mark_retry(key, "421 try later", due, now=when) is S.PENDING
        assert not ledger.claim(key, due - timedelta(seconds=1))
        assert ledger.claim_batch("email", 10, due - timedelta(seconds=1)) == []
        row = ledger.get(key)
        assert row is not None
        assert (row.attempts, row.error, row.next_attempt_at) == (attempt, "421 try later", due)
        when = due
    assert ledger.claim(key, when)
    assert ledger.mark_retry(key, "421 try later", when + timedelta(minutes=5)) is S.FAILED
    assert not ledger.claim(key, when + timedelta(days=1))
    with pytest.raises(StoreError, match="is failed, expected claimed"):
        ledger.mark_retry(key, "again", when)


def test_awaiting_approval_rows_wait_for_approval(ledger: Ledger) -> None:
    ledger.ensure_pending(emails(3), issue_id="hebdo-1", status=S.AWAITING_APPROVAL, now=T0)
    assert ledger.claim_batch("email", 10, T0) == []
    assert not ledger.claim("email:hebdo-1:0", T0)
    assert ledger.approve("hebdo-1", T0) == 3
    assert [d.target for d in ledger.claim_batch("email", 10, T0, issue_id="hebdo-1")] == [
        "person0@example.org",
        "person1@example.org",
        "person2@example.org",
    ]
    with pytest.raises(ValueError, match="pending or awaiting_approval"):
        ledger.ensure_pending(emails(1), status=S.SENT)
    with pytest.raises(ValueError):
        ledger.ensure_pending([("x", "fax", "target", None)])
    with pytest.raises(StoreError, match="no digest issue hebdo-404"):
        ledger.ensure_pending(emails(1, "hebdo-404"), issue_id="hebdo-404")


def test_skipped_row_is_not_sent(ledger: Ledger) -> None:
    ledger.ensure_pending(emails(2), issue_id="hebdo-1", now=T0)
    ledger.mark_skipped("email:hebdo-1:1", "suppressed", T0)
    assert [d.key for d in ledger.claim_batch("email", 10, T0)] == ["email:hebdo-1:0"]
    assert ledger.counts("hebdo-1")["skipped"] == 1


CRASHING_SENDER = """
import os, sys
from datetime import datetime, UTC
from newsletter.store.ledger import Ledger
from newsletter.store import Store

ledger = Ledger(Store.open(sys.argv[1]))
claimed = ledger.claim_batch("email", 1, datetime.now(UTC)) + ledger.claim_batch(
    "post", 1, datetime.now(UTC)
)
print(len(claimed), flush=True)
os._exit(9)
"""


def test_crash_recovery_requeues_emails_and_holds_posts(ledger: Ledger, migrated_url: str) -> None:
    ledger.ensure_pending(emails(1), issue_id="hebdo-1", now=T0)
    ledger.ensure_pending([("post:a1:court:bluesky", "post", "bluesky", {"text": "x"})], now=T0)
    crashed = subprocess.run([sys.executable, "-c", CRASHING_SENDER, migrated_url], capture_output=True, text=True)
    assert (crashed.returncode, crashed.stdout.strip()) == (9, "2"), crashed.stderr
    assert ledger.counts()["claimed"] == 2
    later = datetime.now(UTC) + timedelta(seconds=1)
    assert ledger.recover_dead_claims(later) == {"pending": 1, "uncertain": 1}
    email = ledger.get("email:hebdo-1:0")
    post = ledger.get("post:a1:court:bluesky")
    assert email is not None and post is not None
    assert (email.status, email.attempts) == (S.PENDING, 1)
    assert post.status is S.UNCERTAIN
    assert ledger.claim_batch("post", 10, later) == []
    assert [d.key for d in ledger.claim_batch("email", 10, later)] == ["email:hebdo-1:0"]
    ledger.resolve_uncertain("post:a1:court:bluesky", sent=True, now=later)
    assert ledger.counts()["sent"] == 1


def test_recovery_leaves_a_live_process_claims_alone(ledger: Ledger, migrated_url: str) -> None:
    ledger.ensure_pending(emails(2), issue_id="hebdo-1", now=T0)
    with Store.open(migrated_url) as other_process:
        assert Ledger(other_process).claim("email:hebdo-1:1", T0)
        assert ledger.claim("email:hebdo-1:0", T0)
        assert ledger.recover_dead_claims(T0 + timedelta(days=1)) == {"pending": 0, "uncertain": 0}
        assert Ledger(other_process).recover_dead_claims() == {"pending": 0, "uncertain": 0}
        process_died(ledger.store)
        assert Ledger(other_process).recover_dead_claims() == {"pending": 1, "uncertain": 0}
        still = ledger.get("email:hebdo-1:1")
        assert still is not None and still.status is S.CLAIMED


def test_an_owner_whose_heartbeat_stopped_is_dead_by_the_database_clock(ledger: Ledger) -> None:
    ledger.ensure_pending(emails(2), issue_id="hebdo-1", now=T0)
    with ledger.engine.begin() as conn:
        now = database_now(conn)
        conn.execute(insert(claim_owners), [
            {"id": "autre-hote:7:silent", "host": "autre-hote", "pid": 7, "started_at": now - timedelta(hours=1),
             "heartbeat_at": now - timedelta(seconds=OWNER_TTL_SECONDS + 5)},
            {"id": "autre-hote:8:alive", "host": "autre-hote", "pid": 8, "started_at": now - timedelta(hours=1),
             "heartbeat_at": now - timedelta(seconds=1)},
        ])
        for number, owner in enumerate(("autre-hote:7:silent", "autre-hote:8:alive")):
            conn.execute(update(deliveries).where(deliveries.c.key == f"email:hebdo-1:{number}")
                         .values(status="claimed", claimed_by=owner, attempts=1, claimed_at=T0))
    assert ledger.recover_dead_claims() == {"pending": 1, "uncertain": 0}
    assert [ledger.get(f"email:hebdo-1:{n}").status for n in (0, 1)] == [S.PENDING, S.CLAIMED]


def posts(*targets: str) -> list[tuple[str, str, str, dict[str, object]]]:
    """One quote post row per channel named in `targets`."""
    return [(f"post:a1:quote:{target}", "post", target, {"text": target}) for target in targets]


def test_due_lists_a_channels_pending_due_posts_without_claiming(ledger: Ledger) -> None:
    ledger.ensure_pending(posts("masto", "x", "masto-2"), now=T0)
    ledger.ensure_pending([("post:a2:quote:masto", "post", "masto", None)], now=T0)
    ledger.ensure_pending(emails(1), issue_id="hebdo-1", now=T0)
    assert [d.key for d in ledger.due("post", "masto", T0, 10)] == ["post:a1:quote:masto", "post:a2:quote:masto"]
    assert [d.key for d in ledger.due("post", "masto", T0, 1)] == ["post:a1:quote:masto"]
    assert ledger.get("post:a1:quote:masto").status is S.PENDING  # listing claims nothing
    assert ledger.claim("post:a1:quote:masto", T0)
    ledger.mark_retry("post:a1:quote:masto", "503", T0 + timedelta(hours=1), T0)
    assert [d.key for d in ledger.due("post", "masto", T0, 10)] == ["post:a2:quote:masto"]
    assert [d.key for d in ledger.due("post", "masto", T0 + timedelta(hours=1), 10)] == [
        "post:a1:quote:masto", "post:a2:quote:masto"]
    assert ledger.due("email", "masto", T0, 10) == []


def test_release_puts_a_claim_back_without_counting_it(ledger: Ledger) -> None:
    ledger.ensure_pending(posts("masto"), now=T0)
    key = "post:a1:quote:masto"
    assert ledger.claim(key, T0)
    ledger.release(key, "channel masto: token refused", T0)
    row = ledger.get(key)
    assert (row.status, row.attempts, row.error) == (S.PENDING, 0, "channel masto: token refused")
    with pytest.raises(StoreError, match="is pending, expected claimed"):
        ledger.release(key, "again", T0)
    assert ledger.claim(key, T0)


def test_approve_key_releases_one_row_once(ledger: Ledger) -> None:
    ledger.ensure_pending(posts("masto", "x"), status=S.AWAITING_APPROVAL, now=T0)
    assert ledger.due("post", "masto", T0, 10) == []
    assert ledger.approve_key("post:a1:quote:masto", T0)
    assert not ledger.approve_key("post:a1:quote:masto", T0)
    assert not ledger.approve_key("post:missing:quote:masto", T0)
    assert [d.key for d in ledger.due("post", "masto", T0, 10)] == ["post:a1:quote:masto"]
    assert ledger.get("post:a1:quote:x").status is S.AWAITING_APPROVAL


def test_payload_changes_only_in_the_given_statuses(ledger: Ledger) -> None:
    ledger.ensure_pending(posts("masto", "x"), now=T0)
    editable = (S.PENDING, S.AWAITING_APPROVAL)
    assert ledger.update_payload("post:a1:quote:masto", {"text": "edited"}, only_in=editable, now=T0)
    assert ledger.claim("post:a1:quote:x", T0)
    assert not ledger.update_payload("post:a1:quote:x", {"text": "too late"}, only_in=editable, now=T0)
    assert ledger.get("post:a1:quote:masto").payload == {"text": "edited"}
    assert ledger.get("post:a1:quote:x").payload == {"text": "x"}
    queued = ledger.list_deliveries(status=editable, kind="post")
    assert [d.key for d in queued] == ["post:a1:quote:masto"]


def test_sent_marker_commits_each_mark_before_returning(ledger: Ledger, migrated_url: str) -> None:
    ledger.ensure_pending(emails(3), issue_id="hebdo-1", now=T0)
    marker = ledger.sent_marker(connections=2)
    observer = Store.open(migrated_url)
    try:
        claimed = marker.claim_batch("email", 2, T0, issue_id="hebdo-1")
        assert [d.key for d in claimed] == ["email:hebdo-1:0", "email:hebdo-1:1"]
        marker.mark("email:hebdo-1:0", "250 2.0.0 Queued as A1", T0 + timedelta(seconds=1))
        seen = Ledger(observer).get("email:hebdo-1:0")  # another connection: the mark is committed
        assert seen is not None
        assert (seen.status, seen.provider_id, seen.error) == (S.SENT, "250 2.0.0 Queued as A1", None)
        with observer.engine.connect() as conn:
            sent_at = conn.scalar(select(deliveries.c.sent_at).where(deliveries.c.key == "email:hebdo-1:0"))
        assert sent_at == T0 + timedelta(seconds=1)
        for unclaimed in ("email:hebdo-1:0", "email:hebdo-1:2", "email:hebdo-1:404"):
            with pytest.raises(StoreError, match=f"delivery {unclaimed} was not claimed"):
                marker.mark(unclaimed, "250 again", T0 + timedelta(seconds=2))
        marker.mark("email:hebdo-1:1", "250 2.0.0 Queued as B2", T0 + timedelta(seconds=3))
    finally:
        marker.close()
        observer.close()
    counts = ledger.counts("hebdo-1")
    assert (counts["sent"], counts["pending"], counts["claimed"]) == (2, 1, 0)
    assert ledger.get("email:hebdo-1:0").provider_id == "250 2.0.0 Queued as A1"  # the late mark changed nothing
    assert ledger.get("email:hebdo-1:2").status is S.PENDING


def test_sent_marker_workers_send_every_row_once(ledger: Ledger) -> None:
    ledger.ensure_pending(emails(300), issue_id="hebdo-1", now=T0)
    marker = ledger.sent_marker(connections=4)
    marked: list[list[str]] = [[] for _ in range(4)]

    def work(index: int) -> None:
        while batch := marker.claim_batch("email", 7, T0, issue_id="hebdo-1"):
            for delivery in batch:
                marker.mark(delivery.key, f"250 worker {index}", T0)
                marked[index].append(delivery.key)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    marker.close()
    everything = [key for keys in marked for key in keys]
    assert len(everything) == len(set(everything)) == 300
    assert ledger.counts("hebdo-1")["sent"] == 300


def test_on_sqlite_claims_wait_for_a_mark_in_progress(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    Store.upgrade(url)
    with Store.open(url) as store:
        digest = Digest("hebdo", "hebdo-1", "Sujet", "general", [], "<p>x</p>", "x")
        store.issues.create_digest_issue(digest, follows="", now=T0)
        ledger = Ledger(store)
        ledger.ensure_pending(emails(2), issue_id="hebdo-1", now=T0)
        marker = ledger.sent_marker(connections=4)
        claimed: list[str] = []
        claimer = threading.Thread(target=lambda: claimed.extend(d.key for d in marker.claim_batch("email", 2, T0)))
        with marker.writer:  # what a mark holds while it writes
            claimer.start()
            claimer.join(0.3)
            assert claimer.is_alive() and claimed == []
        claimer.join(10)
        marker.close()
    assert claimed == ["email:hebdo-1:0", "email:hebdo-1:1"]


def test_marks_waiting_for_a_commit_return_only_once_their_row_is_committed(ledger: Ledger) -> None:
    ledger.ensure_pending(emails(3), issue_id="hebdo-1", now=T0)
    claimed = ledger.claim_batch("email", 3, T0, issue_id="hebdo-1")
    marker = ledger.sent_marker(connections=3)
    returned: list[str] = []
    threads = [threading.Thread(target=lambda key=d.key: (marker.mark(key, "250 ok", T0), returned.append(key)))
               for d in claimed]
    with marker.writer:  # a commit under way: the three marks queue behind it
        for thread in threads:
            thread.start()
        time.sleep(0.3)
        assert returned == [] and ledger.counts("hebdo-1")["sent"] == 0
    for thread in threads:
        thread.join(10)
    marker.close()
    assert sorted(returned) == sorted(d.key for d in claimed)
    assert ledger.counts("hebdo-1")["sent"] == 3
    with pytest.raises(StoreError, match="not claimed any more"):
        ledger.sent_marker(connections=1).mark(claimed[0].key, "250 again", T0)


def test_crash_recovery_scoped_to_one_issue(ledger: Ledger, migrated_url: str) -> None:
    ledger.ensure_pending(emails(2, "hebdo-1"), issue_id="hebdo-1", now=T0)
    ledger.ensure_pending(emails(1, "hebdo-2"), issue_id="hebdo-2", now=T0)
    ledger.ensure_pending(posts("masto"), now=T0)
    with Store.open(migrated_url) as dying:
        for key in ("email:hebdo-1:0", "email:hebdo-2:0", "post:a1:quote:masto"):
            assert Ledger(dying).claim(key, T0)
        process_died(dying)
    assert ledger.claim("email:hebdo-1:1", T0 + timedelta(minutes=10))
    later = T0 + timedelta(minutes=11)
    recovered = ledger.recover_dead_claims(later, issue_id="hebdo-1")
    assert recovered == {"pending": 1, "uncertain": 0}
    row = ledger.get("email:hebdo-1:0")
    assert (row.status, row.attempts, row.error) == (S.PENDING, 1, "interrupted: the process stopped while sending")
    for untouched in ("email:hebdo-1:1", "email:hebdo-2:0", "post:a1:quote:masto"):
        assert ledger.get(untouched).status is S.CLAIMED
    assert ledger.recover_dead_claims(later, issue_id="hebdo-2") == {"pending": 1, "uncertain": 0}
    assert ledger.get("post:a1:quote:masto").status is S.CLAIMED
    assert ledger.recover_dead_claims(later) == {"pending": 0, "uncertain": 1}
    assert ledger.get("email:hebdo-1:1").status is S.CLAIMED, "this live process's claim is never recovered"


def test_release_many_gives_back_only_claimed_rows_without_counting(ledger: Ledger) -> None:
    ledger.ensure_pending(emails(4), issue_id="hebdo-1", now=T0)
    assert ledger.claim("email:hebdo-1:0", T0)
    ledger.mark_retry("email:hebdo-1:0", "421 try later", T0, now=T0)
    claimed = ledger.claim_batch("email", 3, T0 + timedelta(seconds=1), issue_id="hebdo-1")
    assert [(d.key, d.attempts) for d in claimed] == [("email:hebdo-1:0", 2), ("email:hebdo-1:1", 1),
                                                      ("email:hebdo-1:2", 1)]
    ledger.mark_sent("email:hebdo-1:2", "250 ok", now=T0)
    keys = ["email:hebdo-1:0", "email:hebdo-1:1", "email:hebdo-1:2", "email:hebdo-1:3", "email:missing"]
    assert ledger.release_many(keys, T0) == 2
    assert ledger.release_many([], T0) == 0
    rows = {key: ledger.get(key) for key in keys[:4]}
    assert [(r.status, r.attempts) for r in rows.values()] == [(S.PENDING, 1), (S.PENDING, 0), (S.SENT, 1),
                                                                (S.PENDING, 0)]
    assert rows["email:hebdo-1:0"].error == "421 try later"
    assert ledger.release_many(keys, T0) == 0


def test_next_due_tells_when_an_issue_has_work_left(ledger: Ledger) -> None:
    assert ledger.next_due("hebdo-1") == (None, False)
    ledger.ensure_pending(emails(2), issue_id="hebdo-1", now=T0)
    assert ledger.next_due("hebdo-1") == (T0, False)
    assert ledger.claim("email:hebdo-1:0", T0)
    assert ledger.next_due("hebdo-1") == (T0, True)
    assert ledger.claim("email:hebdo-1:1", T0)
    ledger.mark_retry("email:hebdo-1:1", "421", T0 + timedelta(minutes=3), now=T0)
    assert ledger.next_due("hebdo-1") == (T0 + timedelta(minutes=3), True)
    ledger.mark_sent("email:hebdo-1:0", now=T0)
    assert ledger.next_due("hebdo-1") == (T0 + timedelta(minutes=3), False)
    assert ledger.next_due("hebdo-2") == (None, False)


def test_a_moved_post_waits_for_its_time_then_goes_first(ledger: Ledger) -> None:
    ledger.ensure_pending([(f"post:a{n}:quote:masto", "post", "masto", {"text": str(n)}) for n in (1, 2, 3)], now=T0)
    assert ledger.reschedule("post:a3:quote:masto", T0 + timedelta(days=1), T0)
    assert [d.key for d in ledger.due("post", "masto", T0, 10)] == ["post:a1:quote:masto", "post:a2:quote:masto"]
    later = ledger.due("post", "masto", T0 + timedelta(days=1), 10)
    assert [d.key for d in later] == ["post:a3:quote:masto", "post:a1:quote:masto", "post:a2:quote:masto"]
    assert ledger.claim("post:a1:quote:masto", T0)
    assert not ledger.reschedule("post:a1:quote:masto", T0 + timedelta(days=2), T0)  # being sent: not moved


def test_a_skipped_post_comes_back_only_from_skipped_and_past_posts_are_dated(ledger: Ledger) -> None:
    ledger.ensure_pending(posts("masto", "x"), now=T0)
    ledger.mark_skipped("post:a1:quote:masto", "by paul", T0 + timedelta(hours=1))
    assert ledger.claim("post:a1:quote:x", T0)
    ledger.mark_sent("post:a1:quote:x", "9", "https://x.example/9", T0 + timedelta(hours=2))
    ledger.ensure_pending(posts("bsky", "queued"), now=T0)
    assert ledger.claim("post:a1:quote:bsky", T0 + timedelta(minutes=30))
    found = [(d.key, str(d.status), at) for d, at in ledger.past_posts(T0, T0 + timedelta(days=1))]
    assert found == [("post:a1:quote:bsky", "claimed", T0 + timedelta(minutes=30)),
                     ("post:a1:quote:masto", "skipped", T0 + timedelta(hours=1)),
                     ("post:a1:quote:x", "sent", T0 + timedelta(hours=2))]
    assert ledger.past_posts(T0 + timedelta(hours=3), T0 + timedelta(days=1)) == []
    assert ledger.restore_skipped("post:a1:quote:masto", S.AWAITING_APPROVAL, T0)
    assert not ledger.restore_skipped("post:a1:quote:masto", S.PENDING, T0)
    assert not ledger.restore_skipped("post:a1:quote:x", S.PENDING, T0)
    row = ledger.get("post:a1:quote:masto")
    assert (row.status, row.error) == (S.AWAITING_APPROVAL, None)
