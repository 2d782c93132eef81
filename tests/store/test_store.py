"""The state store on SQLite and PostgreSQL: announcements, sources, runs, lease, digests…"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from newsletter.core.errors import StoreError
from newsletter.core.models import Announcement, Digest, Figure, Quote
from newsletter.store import (
    DigestIssueStatus,
    RunOutcome,
    Store,
    SubscriberStatus,
)
from tests.conftest import require_or_skip

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
PARIS = ZoneInfo("Europe/Paris")


def make_announcement(number: int = 1, **changes: object) -> Announcement:
    """A realistic announcement with a quote and a figure."""
    ann = Announcement(
        id=f"ministere-{number}",
        identity=f"communiques/{number}.md",
        source="ministere",
        title=f"Plan vélo n°{number} : près de 900 000 bénéficiaires",
        body="« Nous tenons nos engagements », a déclaré la ministre.",
        url=f"https://example.gouv.fr/communiques/{number}",
        published=date(2026, 3, 1),
        language="fr",
        lede="Le plan est reconduit.",
        tags=["Mobilité", "vélo"],
        acronyms={"PTZ": "prêt à taux zéro"},
        quotes=[Quote("Nous tenons nos engagements", "Marie Dupont", "ministre")],
        figures=[Figure(raw="près de 900 000", value=900000.0, qualifier="près de", sentence="x")],
        key_quote=0,
        key_figures=[0],
        warnings=[],
        content_hash=f"hash-{number}-v1",
    )
    return replace(ann, **changes)  # type: ignore[arg-type]


def test_upsert_reports_new_updated_and_unchanged(store: Store) -> None:
    ann = make_announcement()
    assert store.announcements.upsert_announcement(ann, announce=True, now=T0) == "new"
    assert store.announcements.upsert_announcement(ann, announce=True, now=T0 + timedelta(hours=1)) == "unchanged"
    edited = replace(ann, title="Plan vélo : 1 million de bénéficiaires", content_hash="hash-1-v2")
    later = T0 + timedelta(hours=2)
    assert store.announcements.upsert_announcement(edited, announce=True, now=later) == "updated"
    stored = store.announcements.get_announcement(ann.id)
    assert stored is not None
    assert stored.title == "Plan vélo : 1 million de bénéficiaires"
    assert [a.id for a in store.announcements.list_announcements()] == [ann.id]


def test_announcement_round_trips_with_its_extracted_data(store: Store) -> None:
    ann = make_announcement()
    store.announcements.upsert_announcement(ann, announce=True, now=T0)
    assert store.announcements.get_announcement(ann.id) == ann
    assert store.announcements.get_announcement("missing") is None
    assert store.announcements.find_by_content_hash("ministere", "hash-1-v1") == ann
    assert store.announcements.find_by_content_hash("other-source", "hash-1-v1") is None


def test_backlog_stays_unannounced_after_an_update(store: Store) -> None:
    ann = make_announcement()
    store.announcements.upsert_announcement(ann, announce=False, now=T0)
    store.announcements.upsert_announcement(replace(ann, content_hash="v2"), announce=True, now=T0)
    assert store.announcements.list_announcements(announce_only=True) == []
    assert store.announcements.announced_since(T0 - timedelta(days=1), now=T0) == []


def test_selection_since_respects_tags_embargo_and_withdrawal(store: Store) -> None:
    store.announcements.upsert_announcement(make_announcement(1), announce=True, now=T0)
    store.announcements.upsert_announcement(
        make_announcement(2, tags=["Santé"]), announce=True, now=T0 + timedelta(minutes=1)
    )
    store.announcements.upsert_announcement(
        make_announcement(3),
        announce=True,
        now=T0 + timedelta(minutes=2),
        publish_at=T0 + timedelta(days=1),
    )
    store.announcements.upsert_announcement(make_announcement(4), announce=True, now=T0 - timedelta(days=3))
    since = T0 - timedelta(hours=1)
    ids = [item.announcement.id for item in store.announcements.announced_since(since, now=T0 + timedelta(hours=1))]
    assert ids == ["ministere-1", "ministere-2"]
    selected = store.announcements.announced_since(since, ["MOBILITÉ"], now=T0 + timedelta(days=2))
    assert [item.announcement.id for item in selected] == ["ministere-1", "ministere-3"]
    assert store.announcements.mark_withdrawn("ministere-1")
    assert not store.announcements.mark_withdrawn("ministere-1")
    ids = [item.announcement.id for item in store.announcements.announced_since(since, now=T0 + timedelta(hours=1))]
    assert ids == ["ministere-2"]
    assert "ministere-1" not in [a.id for a in store.announcements.list_announcements()]
    assert "ministere-1" in [a.id for a in store.announcements.list_announcements(include_inactive=True)]
    assert store.announcements.announcement_ids("ministere") == {f"ministere-{n}" for n in (1, 2, 3, 4)}


def announced(store: Store, since: datetime, now: datetime) -> dict[str, tuple[datetime, int]]:
    """What is eligible after `since` by `now`: id -> (announced_at, revision)."""
    return {
        item.announcement.id: (item.announced_at, item.revision)
        for item in store.announcements.announced_since(since, now=now)
    }


def test_an_embargoed_announcement_becomes_eligible_when_its_embargo_ends(store: Store) -> None:
    embargo = T0 + timedelta(days=2)
    store.announcements.upsert_announcement(make_announcement(), announce=True, now=T0, publish_at=embargo)
    later_since = T0 + timedelta(days=1)  # a digest sent between first sight and the embargo
    assert announced(store, later_since, now=embargo - timedelta(minutes=1)) == {}
    assert announced(store, later_since, now=embargo) == {"ministere-1": (embargo, 0)}


def test_an_embargo_moved_or_lifted_before_it_ends_moves_eligibility(store: Store) -> None:
    ann = make_announcement()
    store.announcements.upsert_announcement(ann, announce=True, now=T0, publish_at=T0 + timedelta(days=2))
    moved = T0 + timedelta(days=3)
    store.announcements.upsert_announcement(ann, announce=True, now=T0 + timedelta(hours=1), publish_at=moved)
    assert announced(store, T0, now=moved - timedelta(seconds=1)) == {}
    lifted_at = T0 + timedelta(days=1)
    assert store.announcements.upsert_announcement(ann, announce=True, now=lifted_at, publish_at=None) == "updated"
    assert announced(store, T0 + timedelta(hours=12), now=lifted_at) == {"ministere-1": (lifted_at, 0)}


def test_an_update_is_re_announced_only_when_asked_and_already_eligible(store: Store) -> None:
    ann = make_announcement()
    store.announcements.upsert_announcement(ann, announce=True, now=T0)
    since = T0 + timedelta(hours=1)
    edited = replace(ann, title="Plan vélo : 1 million de bénéficiaires", content_hash="hash-1-v2")
    store.announcements.upsert_announcement(edited, announce=True, now=T0 + timedelta(hours=2))
    assert announced(store, since, now=T0 + timedelta(days=1)) == {}
    third = replace(edited, content_hash="hash-1-v3")
    at = T0 + timedelta(hours=3)
    assert store.announcements.upsert_announcement(third, announce=True, now=at, reannounce=True) == "updated"
    assert announced(store, since, now=at) == {"ministere-1": (at, 1)}
    assert (
        store.announcements.upsert_announcement(third, announce=True, now=at + timedelta(hours=1), reannounce=True)
        == "unchanged"
    )
    assert announced(store, since, now=at + timedelta(days=1)) == {"ministere-1": (at, 1)}


def test_re_announcing_leaves_backlog_and_still_embargoed_ones_alone(store: Store) -> None:
    backlog, waiting = make_announcement(1), make_announcement(2)
    embargo = T0 + timedelta(days=2)
    store.announcements.upsert_announcement(backlog, announce=False, now=T0)
    store.announcements.upsert_announcement(waiting, announce=True, now=T0, publish_at=embargo)
    later = T0 + timedelta(hours=1)
    for ann in (backlog, waiting):
        store.announcements.upsert_announcement(
            replace(ann, content_hash="v2"),
            announce=True,
            now=later,
            reannounce=True,
            publish_at=embargo if ann is waiting else None,
        )
    assert announced(store, T0 - timedelta(days=1), now=embargo) == {"ministere-2": (embargo, 0)}


def test_reappearing_withdrawn_announcement_is_updated(store: Store) -> None:
    ann = make_announcement()
    store.announcements.upsert_announcement(ann, announce=True, now=T0)
    store.announcements.mark_withdrawn(ann.id)
    assert store.announcements.upsert_announcement(ann, announce=True, now=T0) == "updated"
    assert [a.id for a in store.announcements.list_announcements()] == [ann.id]


def test_announcement_without_stable_id_is_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="no stable id"):
        store.announcements.upsert_announcement(make_announcement(id=""), announce=True, now=T0)


def test_datetimes_come_back_as_aware_utc(store: Store) -> None:
    paris_time = datetime(2026, 7, 14, 10, 30, tzinfo=PARIS)
    run_id = store.runs.start_run("digest:hebdo", scheduled_for=paris_time, now=paris_time)
    (run,) = store.runs.last_runs("digest:hebdo")
    assert run.id == run_id
    assert run.started_at == paris_time
    assert run.started_at.tzinfo == UTC
    assert run.started_at.hour == 8
    with pytest.raises(Exception, match="naive datetime"):
        store.runs.start_run("digest:hebdo", now=datetime(2026, 7, 14, 10, 30))


def test_source_state_keeps_fields_not_given(store: Store) -> None:
    assert store.source_states.get_source_state("flux") is None
    store.source_states.save_source_state("flux", etag='"abc"', first_contact_at=T0)
    store.source_states.save_source_state("flux", last_modified="Mon, 02 Mar 2026 08:00:00 GMT")
    state = store.source_states.get_source_state("flux")
    assert state is not None
    assert state["etag"] == '"abc"'
    assert state["last_modified"] == "Mon, 02 Mar 2026 08:00:00 GMT"
    assert state["first_contact_at"] == T0
    with pytest.raises(ValueError, match="unknown source state field"):
        store.source_states.save_source_state("flux", etgg="typo")


def test_runs_are_listed_newest_first_with_counts(store: Store) -> None:
    first = store.runs.start_run("ingest", now=T0)
    store.runs.finish_run(first, RunOutcome.OK, {"new": 3}, now=T0 + timedelta(seconds=5))
    second = store.runs.start_run("ingest", now=T0 + timedelta(hours=1))
    store.runs.start_run("digest:hebdo", now=T0 + timedelta(hours=2))
    store.runs.finish_run(second, "failed", {"new": 0}, "source down")
    runs = store.runs.last_runs("ingest")
    assert [(r.id, r.outcome, r.counts) for r in runs] == [
        (second, RunOutcome.FAILED, {"new": 0}),
        (first, RunOutcome.OK, {"new": 3}),
    ]
    assert runs[0].message == "source down"
    assert runs[1].finished_at == T0 + timedelta(seconds=5)
    assert len(store.runs.last_runs(limit=2)) == 2
    with pytest.raises(StoreError, match="no run"):
        store.runs.finish_run(999_999, "ok", {})


def test_lease_is_exclusive_between_two_stores(store: Store, migrated_url: str) -> None:
    with Store.open(migrated_url) as other:
        assert store.leases.acquire_lease("runner", "host-a:1", 60)
        assert not other.leases.acquire_lease("runner", "host-b:2", 60)
        assert other.leases.lease_holder("runner") == "host-a:1"
        assert store.leases.renew_lease("runner", "host-a:1", 0.2)
        time.sleep(0.4)
        assert other.leases.lease_holder("runner") is None, "an expired lease has no holder"
        assert other.leases.acquire_lease("runner", "host-b:2", 60)
        assert not store.leases.renew_lease("runner", "host-a:1", 60)
        assert not store.leases.release_lease("runner", "host-a:1")
        assert other.leases.release_lease("runner", "host-b:2")
        assert store.leases.acquire_lease("runner", "host-a:1", 60)


STANDBY = """
import sys
from datetime import UTC, datetime
from newsletter.store import Store

with Store.open(sys.argv[1]) as store:
    ahead = (datetime.now(UTC) - datetime.fromisoformat(sys.argv[2])).total_seconds()
    print(round(ahead), store.leases.acquire_lease("runner", "standby:2", 30), store.leases.lease_holder("runner"))
"""


@pytest.mark.postgres
def test_a_standby_whose_clock_runs_60s_ahead_does_not_take_a_live_lease(migrated_postgres_url: str) -> None:
    """Two machines sharing PostgreSQL: the lease is judged on the database's clock."""
    libfaketime = sorted(Path("/usr/lib").glob("*/faketime/libfaketime.so.1"))
    if not libfaketime:
        require_or_skip("libfaketime is not installed (Debian package libfaketime)")
    with Store.open(migrated_postgres_url) as holder:
        assert holder.leases.acquire_lease("runner", "live:1", 30)
        env = {**os.environ, "LD_PRELOAD": str(libfaketime[0]), "FAKETIME": "+60s"}
        standby = subprocess.run(
            [sys.executable, "-c", STANDBY, migrated_postgres_url, datetime.now(UTC).isoformat()],
            capture_output=True, text=True, env=env, timeout=60,
        )
        assert standby.returncode == 0, standby.stderr
        ahead, taken, seen = standby.stdout.split()
        assert int(ahead) >= 59, "the standby's clock runs a minute ahead"
        assert (taken, seen) == ("False", "live:1")
        assert holder.leases.renew_lease("runner", "live:1", 30)


def test_concurrent_lease_acquisition_has_one_winner(store: Store, migrated_url: str) -> None:
    stores = [store, Store.open(migrated_url)]
    barrier = threading.Barrier(8)
    wins: list[str] = []

    def contend(index: int) -> None:
        barrier.wait()
        if stores[index % 2].leases.acquire_lease("runner", f"holder-{index}", 60):
            wins.append(f"holder-{index}")

    threads = [threading.Thread(target=contend, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stores[1].close()
    assert len(wins) == 1
    assert store.leases.lease_holder("runner") == wins[0]


def make_digest(issue_id: str = "hebdo-2026-10") -> Digest:
    """A compiled digest with placeholders."""
    return Digest(
        name="hebdo",
        issue_id=issue_id,
        subject="Les annonces de la semaine",
        list_name="general",
        announcement_ids=["ministere-2", "ministere-1"],
        html="<p>Bonjour {{ name }}</p>",
        text="Bonjour {{ name }}",
        preheader="Plan vélo",
        scheduled_for=T0,
    )


def test_digest_issue_is_frozen_and_approved_once(store: Store) -> None:
    issue = store.issues.create_digest_issue(make_digest(), follows="", now=T0)
    assert issue.status is DigestIssueStatus.AWAITING_APPROVAL
    stored = store.issues.get_digest_issue("hebdo-2026-10")
    assert stored is not None
    assert stored.digest == make_digest()
    assert stored.created_at == T0
    with pytest.raises(StoreError, match="already exists"):
        store.issues.create_digest_issue(make_digest(), follows="", now=T0)
    awaiting = [DigestIssueStatus.AWAITING_APPROVAL]
    assert store.issues.set_digest_issue_status("hebdo-2026-10", "approved", expected=awaiting, actor="ana")
    assert not store.issues.set_digest_issue_status("hebdo-2026-10", "approved", expected=awaiting, actor="bob")
    approved = store.issues.get_digest_issue("hebdo-2026-10")
    assert approved is not None
    assert (approved.status, approved.approved_by) == (DigestIssueStatus.APPROVED, "ana")
    with pytest.raises(StoreError, match="no digest issue"):
        store.issues.set_digest_issue_status("missing", "sent")


def test_an_issue_is_re_rendered_in_place_only_while_not_sending(store: Store) -> None:
    store.issues.create_digest_issue(make_digest(), status=DigestIssueStatus.APPROVED, follows="", now=T0)
    changed = replace(make_digest(), subject="Nouveau sujet", html="<p>nouveau</p>", announcement_ids=["a"])
    waiting = [DigestIssueStatus.AWAITING_APPROVAL, DigestIssueStatus.APPROVED]
    assert store.issues.rerender_digest_issue(changed, expected=waiting, now=T0 + timedelta(hours=1))
    stored = store.issues.get_digest_issue(changed.issue_id)
    assert stored is not None and stored.digest == changed and stored.status is DigestIssueStatus.APPROVED
    assert stored.rendered_at == T0 + timedelta(hours=1) and stored.created_at == T0
    store.issues.set_digest_issue_status(changed.issue_id, DigestIssueStatus.SENDING, now=T0)
    assert not store.issues.rerender_digest_issue(replace(changed, subject="Trop tard"), expected=waiting)
    assert store.issues.get_digest_issue(changed.issue_id).digest.subject == "Nouveau sujet"


def test_skipped_digest_issue_keeps_its_reason(store: Store) -> None:
    store.issues.create_digest_issue(
        make_digest("hebdo-2026-11"), follows=store.issues.digest_chain_tip("hebdo"), now=T0
    )
    store.issues.set_digest_issue_status("hebdo-2026-11", "skipped", reason="no announcements", now=T0)
    issue = store.issues.get_digest_issue("hebdo-2026-11")
    assert issue is not None
    assert (issue.status, issue.skip_reason, issue.finished_at) == (
        DigestIssueStatus.SKIPPED,
        "no announcements",
        T0,
    )
    assert [i.id for i in store.issues.list_digest_issues(statuses=["skipped"])] == ["hebdo-2026-11"]
    assert store.issues.list_digest_issues(digest="other") == []


def test_subscribers_lists_and_suppressions(store: Store) -> None:
    first = store.subscribers.add_subscriber(
        " Marie.Dupont@Example.FR ", "Marie", "fr", ["general", "presse"], "form", now=T0
    )
    store.subscribers.add_subscriber("john@example.org", "John", "en", ["general"], now=T0)
    assert store.subscribers.add_subscriber("marie.dupont@example.fr", lists=["sante"], now=T0) == first
    marie = store.subscribers.get_subscriber("MARIE.DUPONT@example.fr")
    assert marie is not None
    assert (marie.email, marie.lists, marie.consent_at) == (
        "marie.dupont@example.fr",
        ["general", "presse", "sante"],
        T0,
    )
    assert store.subscribers.count_subscribers("general") == 2
    assert store.subscribers.count_subscribers("presse") == 1
    assert store.subscribers.set_subscriber_status("john@example.org", SubscriberStatus.UNSUBSCRIBED)
    store.subscribers.add_subscriber("john@example.org", lists=["general"], now=T0)
    assert [s.email for s in store.subscribers.list_subscribers("general")] == ["marie.dupont@example.fr"]
    assert [s.email for s in store.subscribers.list_subscribers("general", status=None)] == [
        "marie.dupont@example.fr",
        "john@example.org",
    ]
    assert store.subscribers.add_suppression("John@Example.org", "complaint")
    assert not store.subscribers.add_suppression("john@example.org", "complaint")
    assert store.subscribers.is_suppressed("JOHN@example.org")
    assert not store.subscribers.is_suppressed("marie.dupont@example.fr")


def test_audit_log_and_channel_pause(store: Store) -> None:
    store.audit.record_action("ana", "approve", "hebdo-2026-10", {"count": 2}, now=T0)
    store.audit.record_action("bob", "pause", "mastodon", now=T0 + timedelta(minutes=1))
    assert [(a.actor, a.action, a.detail) for a in store.audit.list_actions()] == [
        ("bob", "pause", None),
        ("ana", "approve", {"count": 2}),
    ]
    assert store.audit.channel_pause("mastodon") == (False, None)
    store.audit.set_channel_paused("mastodon", True, "rate limited", now=T0)
    assert store.audit.channel_pause("mastodon") == (True, "rate limited")
    store.audit.set_channel_paused("mastodon", False)
    assert store.audit.channel_pause("mastodon") == (False, None)


def test_withdrawal_skip_and_reviewer_edits_of_an_announcement(store: Store) -> None:
    ann = make_announcement()
    store.announcements.upsert_announcement(ann, announce=True, now=T0)
    assert not store.announcements.is_withdrawn(ann.id) and not store.announcements.is_withdrawn("unknown")
    store.announcements.mark_withdrawn(ann.id, now=T0)
    assert store.announcements.is_withdrawn(ann.id)
    assert store.announcements.not_announced_ids() == set()
    assert store.announcements.set_announce(ann.id, False, now=T0) and not store.announcements.set_announce(
        "unknown", False
    )
    assert store.announcements.not_announced_ids() == {ann.id}
    ann.quotes.append(Quote("Une autre citation", "Paul Durand"))
    ann.key_quote = 1
    assert store.announcements.save_extracted(ann, now=T0)
    stored = store.announcements.get_announcement(ann.id)
    assert stored is not None and stored.main_quote == Quote("Une autre citation", "Paul Durand")


def test_has_action_finds_an_action_on_a_target(store: Store) -> None:
    store.audit.record_action("ana", "post.edit", "post:a1:quote:masto", now=T0)
    assert store.audit.has_action("post.edit", "post:a1:quote:masto")
    assert not store.audit.has_action("post.edit", "post:a1:quote:x")
    assert not store.audit.has_action("post.skip", "post:a1:quote:masto")


def test_a_second_issue_after_the_same_one_is_refused_by_the_database(store: Store) -> None:
    tip = store.issues.digest_chain_tip("hebdo")
    store.issues.create_digest_issue(make_digest("hebdo-2026-10"), follows=tip, now=T0)
    with pytest.raises(StoreError, match="already exists"):
        store.issues.create_digest_issue(make_digest("hebdo-2026-10-bis"), follows=tip, now=T0 + timedelta(minutes=1))
    assert store.issues.digest_chain_tip("hebdo") == "hebdo-2026-10"
    store.issues.create_digest_issue(make_digest("hebdo-2026-11"), follows="hebdo-2026-10", now=T0 + timedelta(days=7))
    assert store.issues.digest_chain_tip("hebdo") == "hebdo-2026-11"
    assert [issue.id for issue in store.issues.list_digest_issues(digest="hebdo")] == ["hebdo-2026-11", "hebdo-2026-10"]


def test_a_skipped_issue_reopens_only_while_no_issue_follows_it(store: Store) -> None:
    first = replace(make_digest("hebdo-2026-10"), scheduled_for=T0 + timedelta(days=3))
    store.issues.create_digest_issue(first, follows=store.issues.digest_chain_tip("hebdo"), now=T0)
    store.issues.set_digest_issue_status("hebdo-2026-10", "skipped", reason="by paul", now=T0 + timedelta(hours=1))
    assert [i.id for i in store.issues.issues_between(T0, T0 + timedelta(days=1))] == ["hebdo-2026-10"]
    assert store.issues.reopen_skipped_issue("hebdo-2026-10", DigestIssueStatus.APPROVED, actor="paul", now=T0)
    issue = store.issues.get_digest_issue("hebdo-2026-10")
    assert (issue.status, issue.finished_at, issue.skip_reason, issue.approved_by) == (
        DigestIssueStatus.APPROVED, None, None, "paul")
    assert [i.id for i in store.issues.issues_between(T0 + timedelta(days=3), T0 + timedelta(days=4))] == [
        "hebdo-2026-10"]  # an open issue is dated by its scheduled time
    store.issues.set_digest_issue_status("hebdo-2026-10", "skipped", now=T0)
    store.issues.create_digest_issue(make_digest("hebdo-2026-11"), follows="hebdo-2026-10", now=T0)
    assert not store.issues.reopen_skipped_issue("hebdo-2026-10", DigestIssueStatus.APPROVED, actor="paul", now=T0)
    assert store.issues.get_digest_issue("hebdo-2026-10").status is DigestIssueStatus.SKIPPED


def test_subscriber_search_pages_and_takes_wildcards_literally(store: Store) -> None:
    for n in range(7):
        store.subscribers.add_subscriber(f"lecteur{n}@example.org", name=f"Lecteur N°{n}", lists=["main"], now=T0)
    store.subscribers.add_subscriber("cent_pour_cent@example.org", name="100% Lecteur", lists=["culture"], now=T0)
    page = store.subscribers.search_subscribers("LECTEUR", limit=3, offset=3)
    assert page.total == 8 and [s.email for s in page.subscribers] == [
        "lecteur2@example.org", "lecteur3@example.org", "lecteur4@example.org"]
    assert page.subscribers[0].lists == ["main"]
    assert [s.email for s in store.subscribers.search_subscribers("100%").subscribers] == ["cent_pour_cent@example.org"]
    assert store.subscribers.search_subscribers("t_p").total == 1
    assert store.subscribers.search_subscribers("lecteur_").total == 0  # `_` is no wildcard: "lecteur0" does not match
    assert store.subscribers.search_subscribers("", list_name="culture").total == 1
    lecteur = store.subscribers.get_subscriber("lecteur1@example.org")
    store.subscribers.leave_lists(lecteur.id, ["main"], T0 + timedelta(hours=1))
    assert store.subscribers.search_subscribers("lecteur1", status="unsubscribed").total == 1
    assert store.subscribers.opt_outs_between(["main", "x"], T0, T0 + timedelta(hours=1)) == 0
    assert store.subscribers.opt_outs_between(["main"], T0, None) == 1
    assert [e.kind for e in store.subscribers.membership_events(lecteur.id)] == ["unsubscribed"]


def test_tracked_links_count_clicks_per_issue_and_link(store: Store) -> None:
    digest = replace(make_digest(), tracked_links=[("tok-home", "https://example.org/"),
                                                   ("tok-a", "https://example.org/a")])
    store.issues.create_digest_issue(digest, follows="", now=T0)
    assert store.clicks.follow("tok-a", T0) == "https://example.org/a"
    assert store.clicks.follow("tok-a", T0) == "https://example.org/a"
    assert store.clicks.follow("unknown", T0) is None
    assert [(link.url, link.clicks) for link in store.clicks.clicks_of(digest.issue_id)] == [
        ("https://example.org/", 0), ("https://example.org/a", 2)]
