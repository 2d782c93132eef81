"""Review actions on a real store: approve, edit, pick the key, skip, test send, and the CLI."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from typer.testing import CliRunner

from newsletter.cli.app import app
from newsletter.config import Config
from newsletter.core.models import DeliveryStatus
from newsletter.pipeline import actions
from newsletter.pipeline.actions import ActionError
from newsletter.pipeline.plan import plan_channel, plan_digest
from newsletter.pipeline.posting import post_due
from newsletter.store import DigestIssueStatus
from newsletter.store.ledger import Ledger
from tests.fakes.review_env import NOW, ReviewEnv

X_POST = "post:apprentissage:quote:x-main"
MASTO_POST = "post:apprentissage:quote:masto"


def audit(env: ReviewEnv) -> list[tuple[str, str, str | None]]:
    return [(a.actor, a.action, a.target) for a in env.store.audit.list_actions()]


def frozen_issue(env: ReviewEnv, status: DigestIssueStatus = DigestIssueStatus.AWAITING_APPROVAL) -> str:
    digest = env.config.digest("hebdo")
    rendered = plan_digest(env.config, env.store, digest, NOW, send_at=NOW).digest
    return env.store.issues.create_digest_issue(
        rendered, status=status, follows=env.store.issues.digest_chain_tip(rendered.name), now=NOW
    ).id


def test_approve_post_moves_it_to_the_queue_and_is_logged(review_env: ReviewEnv) -> None:
    result = actions.approve(review_env.config, review_env.store, X_POST, "alice", NOW)
    assert Ledger(review_env.store).get(X_POST).status == DeliveryStatus.PENDING
    assert result.action == "post.approve"
    assert ("alice", "post.approve", X_POST) in audit(review_env)
    with pytest.raises(ActionError, match="not awaiting approval"):
        actions.approve(review_env.config, review_env.store, X_POST, "alice", NOW)


def test_approve_digest_issue_by_id_or_digest_name(review_env: ReviewEnv) -> None:
    issue_id = frozen_issue(review_env)
    actions.approve(review_env.config, review_env.store, "hebdo", "bob", NOW)
    issue = review_env.store.issues.get_digest_issue(issue_id)
    assert issue.status is DigestIssueStatus.APPROVED and issue.approved_by == "bob"
    assert ("bob", "digest.approve", issue_id) in audit(review_env)
    with pytest.raises(ActionError, match="no issue awaiting approval"):
        actions.approve(review_env.config, review_env.store, "hebdo", "bob", NOW)


def test_unknown_target_is_a_clear_error(review_env: ReviewEnv) -> None:
    with pytest.raises(ActionError, match="neither a post key"):
        actions.approve(review_env.config, review_env.store, "nothing-like-this", "bob", NOW)
    with pytest.raises(ActionError, match="no queued post"):
        actions.approve(review_env.config, review_env.store, "post:missing:quote:x-main", "bob", NOW)


def test_edit_revalidates_length_as_the_platform_counts(review_env: ReviewEnv) -> None:
    ledger = Ledger(review_env.store)
    result = actions.edit_post(review_env.config, review_env.store, X_POST, "Nouveau texte\r\nhttps://example.org/x",
                               "alice", NOW)
    row = ledger.get(X_POST)
    assert row.payload["text"] == "Nouveau texte\nhttps://example.org/x"
    assert row.payload["length"] == 14 + 23  # a URL counts 23 on X
    assert result.detail["length"] == "37/280"
    too_long = "é" * 281
    with pytest.raises(ActionError, match="281/280"):
        actions.edit_post(review_env.config, review_env.store, X_POST, too_long, "alice", NOW)
    with pytest.raises(ActionError, match="empty"):
        actions.edit_post(review_env.config, review_env.store, X_POST, "  \n ", "alice", NOW)
    assert ledger.get(X_POST).payload["text"] == "Nouveau texte\nhttps://example.org/x"
    edits = [a for a in review_env.store.audit.list_actions() if a.action == "post.edit"]
    assert len(edits) == 1 and edits[0].detail["after"] == "Nouveau texte\nhttps://example.org/x"


def test_a_post_being_sent_cannot_be_edited(review_env: ReviewEnv) -> None:
    ledger = Ledger(review_env.store)
    assert ledger.claim(MASTO_POST, NOW)
    with pytest.raises(ActionError, match="claimed"):
        actions.edit_post(review_env.config, review_env.store, MASTO_POST, "Autre texte", "alice", NOW)


def test_pick_key_quote_recomposes_queued_posts_but_not_edited_ones(review_env: ReviewEnv) -> None:
    store, config = review_env.store, review_env.config
    actions.edit_post(config, store, X_POST, "Texte choisi à la main", "alice", NOW)
    result = actions.pick_key(config, store, "apprentissage", "quote", 1, "alice", NOW + timedelta(minutes=1))
    assert store.announcements.get_announcement("apprentissage").key_quote == 1
    ledger = Ledger(store)
    assert "Nous continuerons à soutenir" in ledger.get(MASTO_POST).payload["text"]
    assert ledger.get(X_POST).payload["text"] == "Texte choisi à la main"
    assert result.detail["recomposed"] == 1
    with pytest.raises(ActionError, match="no quote number 3"):
        actions.pick_key(config, store, "apprentissage", "quote", 2, "alice", NOW)


def test_pick_key_figure_puts_it_first(review_env: ReviewEnv) -> None:
    actions.pick_key(review_env.config, review_env.store, "apprentissage", "figure", 1, "alice", NOW)
    assert review_env.store.announcements.get_announcement("apprentissage").key_figures == [1, 0]


def test_skip_announcement_leaves_digest_and_posts(review_env: ReviewEnv) -> None:
    store, config = review_env.store, review_env.config
    result = actions.skip(config, store, "apprentissage", "alice", NOW, reason="doublon")
    digest = config.digest("hebdo")
    assert "apprentissage" not in [a.id for a in plan_digest(config, store, digest, NOW).announcements]
    ledger = Ledger(store)
    assert ledger.get(X_POST).status == DeliveryStatus.SKIPPED
    assert ledger.get(MASTO_POST).status == DeliveryStatus.SKIPPED
    assert sorted(result.detail["posts_skipped"]) == sorted([X_POST, MASTO_POST])


def test_skip_post_and_issue(review_env: ReviewEnv) -> None:
    store, config = review_env.store, review_env.config
    actions.skip(config, store, MASTO_POST, "alice", NOW)
    assert Ledger(store).get(MASTO_POST).status == DeliveryStatus.SKIPPED
    with pytest.raises(ActionError, match="only queued posts"):
        actions.skip(config, store, MASTO_POST, "alice", NOW)
    issue_id = frozen_issue(review_env)
    actions.skip(config, store, issue_id, "alice", NOW, reason="pas cette semaine")
    issue = store.issues.get_digest_issue(issue_id)
    assert issue.status is DigestIssueStatus.SKIPPED and issue.skip_reason == "pas cette semaine"


def test_send_test_reaches_the_smtp_server(review_env: ReviewEnv) -> None:
    store, config = review_env.store, review_env.config
    digest = config.digest("hebdo")
    rendered = plan_digest(config, store, digest, NOW, send_at=NOW).digest
    actions.send_test(config, store, rendered, " Relecteur@Example.org ", "alice", NOW)
    (received,) = review_env.smtp.handler.received
    assert received.rcpt_tos == ["Relecteur@example.org"]
    assert received.message()["Subject"] == rendered.subject
    assert ("alice", "digest.test_send", rendered.issue_id) in audit(review_env)
    with pytest.raises(ActionError, match="not a valid address"):
        actions.send_test(config, store, rendered, "pas-une-adresse", "alice", NOW)
    assert Ledger(store).counts()["sent"] == 0  # a test copy never goes through the ledger


def test_cli_approve_records_who(review_env: ReviewEnv) -> None:
    config_path = review_env.folder / "newsletter.yaml"
    result = CliRunner().invoke(app, ["approve", X_POST, "--config", str(config_path), "--as", "carole"])
    assert result.exit_code == 0, result.output
    assert "approved" in result.output
    assert Ledger(review_env.store).get(X_POST).status == DeliveryStatus.PENDING
    assert ("carole", "post.approve", X_POST) in audit(review_env)
    again = CliRunner().invoke(app, ["approve", X_POST, "--config", str(config_path)])
    assert again.exit_code == 1
    assert "not awaiting approval" in again.output


MASTO_SLOTS = [NOW.replace(day=day, hour=11) for day in (21, 22, 23, 24)]  # 12:00 in Paris, every day
EMPLOI_MASTO, HOSTILE_MASTO = "post:emploi-jeunes:quote:masto", "post:hostile:quote:masto"


def masto_plan(env: ReviewEnv, config: Config | None = None) -> dict[str, datetime | None]:
    """Each queued Mastodon post's slot as the one plan gives it."""
    config = config or env.config
    return {e.key: e.slot for e in plan_channel(config, env.store, config.channels[1], NOW)}


def test_moving_a_post_gives_it_the_chosen_slot_and_is_logged(review_env: ReviewEnv) -> None:
    assert masto_plan(review_env) == {MASTO_POST: MASTO_SLOTS[0], EMPLOI_MASTO: MASTO_SLOTS[1],
                                      HOSTILE_MASTO: MASTO_SLOTS[2]}
    result = actions.move_post(review_env.config, review_env.store, MASTO_POST, "2025-03-23T12:00:00+01:00",
                               "paul", NOW)
    assert result.summary == f"post {MASTO_POST} moved: goes out at 2025-03-23T12:00:00+01:00"
    assert result.detail["from"] == "2025-03-21T12:00:00+01:00"
    assert masto_plan(review_env) == {EMPLOI_MASTO: MASTO_SLOTS[0], HOSTILE_MASTO: MASTO_SLOTS[1],
                                      MASTO_POST: MASTO_SLOTS[2]}
    actions.move_post(review_env.config, review_env.store, HOSTILE_MASTO, MASTO_SLOTS[0].isoformat(), "paul", NOW)
    assert masto_plan(review_env) == {HOSTILE_MASTO: MASTO_SLOTS[0], EMPLOI_MASTO: MASTO_SLOTS[1],
                                      MASTO_POST: MASTO_SLOTS[2]}, "a post moved earlier goes first at its slot"
    assert ("paul", "post.move", HOSTILE_MASTO) in audit(review_env)
    with pytest.raises(ActionError, match="not one of channel masto's next 14 slots"):
        actions.move_post(review_env.config, review_env.store, MASTO_POST, "2025-03-23T12:30:00+01:00", "paul", NOW)
    with pytest.raises(ActionError, match="is not a time"):
        actions.move_post(review_env.config, review_env.store, MASTO_POST, "dimanche", "paul", NOW)
    actions.skip(review_env.config, review_env.store, MASTO_POST, "paul", NOW)
    with pytest.raises(ActionError, match="is skipped: only queued posts can be moved"):
        actions.move_post(review_env.config, review_env.store, MASTO_POST, MASTO_SLOTS[1].isoformat(), "paul", NOW)


def test_a_moved_post_goes_out_at_its_new_slot_and_not_the_old_one(
    review_env: ReviewEnv, fake_mastodon: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MASTODON_ACCESS_TOKEN", "masto-token")
    masto = review_env.config.channels[1].model_copy(update={"base_url": fake_mastodon.url})
    config = review_env.config.model_copy(update={"channels": [review_env.config.channels[0], masto]})
    actions.move_post(config, review_env.store, MASTO_POST, MASTO_SLOTS[2].isoformat(), "paul", NOW)
    planned = masto_plan(review_env, config)
    published = {}
    for slot in MASTO_SLOTS[:3]:
        report = post_due(config, review_env.store, "masto", slot)
        published[slot] = report.sent
        assert [key for key, when in planned.items() if when == slot] == report.sent, slot
    assert published[MASTO_SLOTS[0]] == [EMPLOI_MASTO] and published[MASTO_SLOTS[2]] == [MASTO_POST]
    assert len(fake_mastodon.texts()) == 3 and "apprentissage" in fake_mastodon.texts()[-1].lower()


def test_undoing_a_skip_puts_the_post_or_issue_back_as_it_was(review_env: ReviewEnv) -> None:
    store, ledger = review_env.store, Ledger(review_env.store)
    for key, was in ((X_POST, DeliveryStatus.AWAITING_APPROVAL), (MASTO_POST, DeliveryStatus.PENDING)):
        actions.skip(review_env.config, store, key, "paul", NOW)
        result = actions.undo_skip(review_env.config, store, key, "paul", NOW)
        assert ledger.get(key).status is was and result.action == "post.undo_skip"
    with pytest.raises(ActionError, match="is pending: only a post a person skipped can be brought back"):
        actions.undo_skip(review_env.config, store, MASTO_POST, "paul", NOW)
    ledger.mark_skipped(EMPLOI_MASTO, "channel paused")  # skipped by the system, not a person
    with pytest.raises(ActionError, match="only a post a person skipped"):
        actions.undo_skip(review_env.config, store, EMPLOI_MASTO, "paul", NOW)

    issue_id = frozen_issue(review_env)
    actions.skip(review_env.config, store, issue_id, "paul", NOW)
    actions.undo_skip(review_env.config, store, issue_id, "paul", NOW)
    issue = store.issues.get_digest_issue(issue_id)
    assert issue.status is DigestIssueStatus.APPROVED and issue.finished_at is None and issue.skip_reason is None
    actions.skip(review_env.config, store, issue_id, "paul", NOW)
    later = plan_digest(review_env.config, store, review_env.config.digest("hebdo"), NOW, send_at=NOW + timedelta(3))
    store.issues.create_digest_issue(later.digest, status=DigestIssueStatus.APPROVED, follows=later.follows, now=NOW)
    with pytest.raises(ActionError, match="a later issue of hebdo was recorded since"):
        actions.undo_skip(review_env.config, store, issue_id, "paul", NOW)
    assert [a for _, a, t in audit(review_env) if t == issue_id] == ["digest.skip", "digest.undo_skip", "digest.skip"]


def test_bringing_back_an_issue_past_its_time_asks_to_send_it_now_unless_it_needs_approval(
    review_env: ReviewEnv,
) -> None:
    config, store = review_env.config, review_env.store
    issue_id = frozen_issue(review_env)  # scheduled at NOW
    actions.skip(config, store, issue_id, "paul", NOW)
    early = actions.undo_skip(config, store, issue_id, "paul", NOW - timedelta(hours=1))
    assert early.detail["send_now"] is False, "its time has not come: it waits for it"
    actions.skip(config, store, issue_id, "paul", NOW)
    late = actions.undo_skip(config, store, issue_id, "paul", NOW + timedelta(hours=1))
    assert late.detail["send_now"] is True and "it is sent now" in late.summary
    actions.skip(config, store, issue_id, "paul", NOW)
    config.digests[0].require_approval = True
    held = actions.undo_skip(config, store, issue_id, "paul", NOW + timedelta(hours=1))
    assert store.issues.get_digest_issue(issue_id).status is DigestIssueStatus.AWAITING_APPROVAL
    assert held.detail["send_now"] is False, "nothing goes out before an approver approves"
    assert actions.approve(config, store, issue_id, "bob", NOW + timedelta(hours=1)).detail["send_now"] is True


def test_re_keying_an_approved_post_sends_it_back_for_approval(review_env: ReviewEnv) -> None:
    ledger = Ledger(review_env.store)
    actions.approve(review_env.config, review_env.store, X_POST, "paul", NOW)
    before = ledger.get(X_POST).payload["text"]
    actions.pick_key(review_env.config, review_env.store, "apprentissage", "quote", 1, "edith", NOW)
    row = ledger.get(X_POST)
    assert row.payload["text"] != before and "Nous continuerons" in row.payload["text"]
    assert row.status is DeliveryStatus.AWAITING_APPROVAL
    assert ledger.get(MASTO_POST).status is DeliveryStatus.PENDING  # recomposed too, no approval needed there
