"""Following edits and removals of announcements before they went out, on SQLite and PostgreSQL:
queued posts and not-yet-sending digest issues follow; what went out (or is going out) does not."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from newsletter.config import Config, load_config
from newsletter.core.models import Announcement, DeliveryStatus, Quote
from newsletter.pipeline.actions import edit_post
from newsletter.pipeline.digests import mark_issue_sent, select_announcements
from newsletter.pipeline.plan import freeze_issue
from newsletter.pipeline.posting import queue_posts
from newsletter.pipeline.revisions import follow_changes
from newsletter.store import DigestIssueStatus, Store
from newsletter.store.ledger import Ledger
from tests.fakes.digest_samples import FIXED_NOW, apprentissage, premier_emploi, sample_config

HOUR = timedelta(hours=1)
S = DeliveryStatus
NEW_QUOTE = "Nous doublerons l'effort dès cette année"


@pytest.fixture
def config(tmp_path: Path) -> Config:
    """The sample digests and two Mastodon channels (composed offline, never contacted)."""
    sample = sample_config(tmp_path)
    channel = {"type": "mastodon", "base_url": "http://127.0.0.1:9", "card": False}
    data = {
        "public_base_url": sample.public_base_url,
        "data_dir": "data",
        "digests": [d.model_dump(mode="json", exclude_defaults=True) for d in sample.digests],
        "channels": [
            {**channel, "name": "masto", "variants": ["quote", "figure"]},
            {**channel, "name": "other", "variants": ["quote"]},
        ],
    }
    path = tmp_path / "newsletter.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    return load_config(path)


def stored(store: Store, *items: Announcement, at=FIXED_NOW - HOUR) -> None:
    for item in items:
        store.announcements.upsert_announcement(replace(item, content_hash=f"{item.id}-v1"), announce=True, now=at)


def edited(item: Announcement, **changes: object) -> Announcement:
    """`item` as changed at its source: a new title and key quote, a new content hash."""
    quote = Quote(NEW_QUOTE, "Astrid Panosyan-Bouvet", "ministre du Travail et de l'Emploi")
    values = {"title": f"{item.title} (corrigé)", "quotes": [quote], "key_quote": 0,
              "content_hash": f"{item.id}-v2", **changes}
    return replace(item, **values)  # type: ignore[arg-type]


def change(store: Store, config: Config, item: Announcement, at=FIXED_NOW, *, reannounce: bool = False):
    store.announcements.upsert_announcement(item, announce=True, now=at, reannounce=reannounce)
    return follow_changes(config, store, changed=[item.id], withdrawn=[], now=at)


def send(store: Store, key: str) -> None:
    ledger = Ledger(store)
    assert ledger.claim(key, FIXED_NOW)
    ledger.mark_sent(key, provider_id="1", now=FIXED_NOW)


def test_queued_posts_follow_the_new_content_sent_ones_stay_and_hand_edits_are_held(
    store: Store, config: Config
) -> None:
    stored(store, apprentissage())
    assert queue_posts(config, store, FIXED_NOW - HOUR / 2) == {"masto": 2, "other": 1}
    quote, figure, hand = (f"post:fr-apprentissage:{v}" for v in ("quote:masto", "figure:masto", "quote:other"))
    ledger = Ledger(store)
    send(store, figure)
    sent_text = ledger.get(figure).payload["text"]
    edit_post(config, store, hand, "Texte revu à la main.", "alice", FIXED_NOW - HOUR / 4)

    report = change(store, config, edited(apprentissage()))

    assert report.rerendered_posts == [quote] and report.held_posts == [hand]
    assert NEW_QUOTE in ledger.get(quote).payload["text"] and ledger.get(quote).status == S.PENDING
    assert ledger.get(figure).status == S.SENT and ledger.get(figure).payload["text"] == sent_text
    held = ledger.get(hand)
    assert held.payload["text"] == "Texte revu à la main." and held.status == S.AWAITING_APPROVAL
    assert held.error and "review" in held.error
    assert [(a.actor, a.action, a.target) for a in store.audit.list_actions(limit=1)] == [("ingest", "post.flag", hand)]


def test_a_variant_the_new_content_cannot_fill_is_skipped(store: Store, config: Config) -> None:
    stored(store, apprentissage())
    queue_posts(config, store, FIXED_NOW - HOUR / 2)
    report = change(store, config, edited(apprentissage(), figures=[], key_figures=[]))
    assert report.skipped_posts == ["post:fr-apprentissage:figure:masto"]
    assert Ledger(store).get("post:fr-apprentissage:figure:masto").status == S.SKIPPED


def test_an_open_issue_is_re_rendered_in_place_and_a_sending_one_is_left_alone(
    store: Store, config: Config, caplog: pytest.LogCaptureFixture
) -> None:
    stored(store, apprentissage(), premier_emploi())
    hebdo = freeze_issue(store, config, config.digest("hebdo"), FIXED_NOW - HOUR / 2)
    weekly = freeze_issue(store, config, config.digest("weekly"), FIXED_NOW - HOUR / 2)
    assert hebdo is not None and weekly is not None
    store.issues.set_digest_issue_status(weekly.issue_id, DigestIssueStatus.SENDING, now=FIXED_NOW - HOUR / 4)

    with caplog.at_level(logging.WARNING, logger="newsletter.pipeline.revisions"):
        report = change(store, config, edited(apprentissage()))

    assert report.rerendered_issues == [hebdo.issue_id] and report.untouched_issues == [weekly.issue_id]
    issue = store.issues.get_digest_issue(hebdo.issue_id)
    assert issue is not None and issue.status is DigestIssueStatus.APPROVED
    assert issue.digest.announcement_ids == hebdo.announcement_ids
    assert "(corrigé)" in issue.digest.text and NEW_QUOTE in issue.digest.text and "(corrigé)" not in hebdo.text
    assert "(corrigé)" in issue.digest.html
    assert store.issues.get_digest_issue(weekly.issue_id).digest == weekly
    [action] = [a for a in store.audit.list_actions() if a.action == "digest.rerender"]
    assert (action.actor, action.target) == ("ingest", hebdo.issue_id)
    assert action.detail is not None and action.detail["changed"] == ["fr-apprentissage"]
    assert any(weekly.issue_id in r.getMessage() and "sending" in r.getMessage() for r in caplog.records)


def test_an_approved_issue_that_changes_goes_back_to_awaiting_approval(store: Store, config: Config) -> None:
    reviewed = config.model_copy(update={"digests": [
        d.model_copy(update={"require_approval": True}) if d.name == "hebdo" else d for d in config.digests
    ]})
    stored(store, apprentissage(), premier_emploi())
    frozen = freeze_issue(store, reviewed, reviewed.digest("hebdo"), FIXED_NOW - HOUR / 2)
    assert frozen is not None
    assert store.issues.get_digest_issue(frozen.issue_id).status is DigestIssueStatus.AWAITING_APPROVAL
    store.issues.set_digest_issue_status(frozen.issue_id, DigestIssueStatus.APPROVED, actor="claire", now=FIXED_NOW)

    report = change(store, reviewed, edited(apprentissage()))

    assert report.rerendered_issues == [frozen.issue_id]
    issue = store.issues.get_digest_issue(frozen.issue_id)
    assert issue is not None and issue.status is DigestIssueStatus.AWAITING_APPROVAL
    assert issue.approved_by is None and "(corrigé)" in issue.digest.text
    [action] = [a for a in store.audit.list_actions() if a.action == "digest.rerender"]
    assert action.detail is not None and action.detail["approval_withdrawn"] is True


def test_a_withdrawn_announcement_leaves_the_issue_then_the_issue_is_skipped_when_too_small(
    store: Store, config: Config
) -> None:
    stored(store, apprentissage(), premier_emploi())
    queue_posts(config, store, FIXED_NOW - HOUR / 2)
    frozen = freeze_issue(store, config, config.digest("hebdo"), FIXED_NOW - HOUR / 2)
    assert frozen is not None and sorted(frozen.announcement_ids) == ["fr-apprentissage", "fr-premier-emploi"]

    store.announcements.mark_withdrawn("fr-premier-emploi", now=FIXED_NOW)
    report = follow_changes(config, store, changed=[], withdrawn=["fr-premier-emploi"], now=FIXED_NOW)
    assert sorted(report.skipped_posts) == ["post:fr-premier-emploi:figure:masto", "post:fr-premier-emploi:quote:masto",
                                            "post:fr-premier-emploi:quote:other"]
    issue = store.issues.get_digest_issue(frozen.issue_id)
    assert issue is not None and issue.digest.announcement_ids == ["fr-apprentissage"]
    assert premier_emploi().title not in issue.digest.text and apprentissage().title in issue.digest.text

    store.announcements.mark_withdrawn("fr-apprentissage", now=FIXED_NOW + HOUR)
    report = follow_changes(config, store, changed=[], withdrawn=["fr-apprentissage"], now=FIXED_NOW + HOUR)
    assert report.skipped_issues == [frozen.issue_id]
    issue = store.issues.get_digest_issue(frozen.issue_id)
    assert issue is not None and issue.status is DigestIssueStatus.SKIPPED
    assert issue.skip_reason and "min_items=1" in issue.skip_reason


@pytest.mark.parametrize("sending_at_update", [False, True])
def test_a_re_announced_update_goes_out_exactly_once_more(
    store: Store, config: Config, sending_at_update: bool
) -> None:
    digest = config.digest("hebdo")
    stored(store, apprentissage())
    first = freeze_issue(store, config, digest, FIXED_NOW - HOUR / 2)
    assert first is not None
    if sending_at_update:
        store.issues.set_digest_issue_status(first.issue_id, DigestIssueStatus.SENDING, now=FIXED_NOW - HOUR / 4)
    change(store, config, edited(apprentissage()), reannounce=True)
    mark_issue_sent(store, first.issue_id, FIXED_NOW + HOUR)
    carried = "(corrigé)" in store.issues.get_digest_issue(first.issue_id).digest.text
    assert carried is not sending_at_update
    again = [a.id for a in select_announcements(store, config, digest, FIXED_NOW + 2 * HOUR).announcements]
    assert again == ([] if carried else ["fr-apprentissage"])
