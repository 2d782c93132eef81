"""Digest issues against a real store: selection since the last send, freezing, archive, checks."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from newsletter.config import Config, DigestConfig
from newsletter.core.errors import NewsletterError
from newsletter.core.models import Announcement
from newsletter.pipeline.digests import (
    archive_path,
    archive_url,
    check_templates,
    contrast_ratio,
    load_issue,
    mark_issue_sent,
    prepared_parts,
    recipient_values,
    select_announcements,
    unfinished_issues,
    write_archive,
)
from newsletter.pipeline.plan import freeze_issue
from newsletter.store import DigestIssueStatus, RunOutcome, Store
from tests.fakes.digest_samples import FIXED_NOW, apprentissage, premier_emploi, sample_config

HOUR = timedelta(hours=1)


@pytest.fixture
def config(tmp_path: Path) -> Config:
    """The sample config with its data folder in tmp_path."""
    return sample_config(tmp_path)


def announcement(number: int, published: date | None = None, tags: list[str] | None = None) -> Announcement:
    """A distinct announcement, published on the given day."""
    base = apprentissage() if number % 2 else premier_emploi()
    return replace(
        base,
        id=f"a{number}",
        identity=f"a{number}",
        title=f"Annonce {number}",
        published=published or date(2025, 3, number % 28 + 1),
        tags=tags if tags is not None else ["emploi"],
    )


def seen(store: Store, *items: Announcement, at: datetime = FIXED_NOW - 2 * HOUR) -> None:
    """Store announcements as first seen at `at`."""
    for item in items:
        store.announcements.upsert_announcement(item, announce=True, now=at)


def digest_with(config: Config, **changes: object) -> DigestConfig:
    """The French digest with some settings changed."""
    return config.digest("hebdo").model_copy(update=changes)


def test_selection_is_newest_first_and_capped(store: Store, config: Config) -> None:
    seen(store, *(announcement(n, date(2025, 3, n)) for n in range(1, 6)))
    selection = select_announcements(store, config, digest_with(config, max_items=3), FIXED_NOW)
    assert [a.id for a in selection.announcements] == ["a5", "a4", "a3"]
    assert selection.left_out == ["a2", "a1"]
    assert selection.since is None and selection.skip_reason is None


def test_selection_follows_the_tag_filter(store: Store, config: Config) -> None:
    seen(store, announcement(1, tags=["emploi"]), announcement(2, tags=["culture"]), announcement(3, tags=[]))
    selection = select_announcements(store, config, digest_with(config, tags=["Emploi"]), FIXED_NOW)
    assert [a.id for a in selection.announcements] == ["a1"]


def test_too_few_announcements_skip_the_send_and_record_why(store: Store, config: Config) -> None:
    seen(store, announcement(1))
    digest = digest_with(config, min_items=2)
    assert freeze_issue(store, config, digest, FIXED_NOW) is None
    assert store.issues.list_digest_issues(digest="hebdo") == []
    run = store.runs.last_runs("digest:hebdo", limit=1)[0]
    assert run.outcome is RunOutcome.SKIPPED
    assert run.message and "1 new announcement(s)" in run.message and "min_items=2" in run.message


def test_an_empty_digest_is_never_sent(store: Store, config: Config) -> None:
    digest = digest_with(config, min_items=0)
    assert select_announcements(store, config, digest, FIXED_NOW).skip_reason
    assert freeze_issue(store, config, digest, FIXED_NOW) is None


def test_freezing_records_the_issue_once_and_resume_never_reselects(store: Store, config: Config) -> None:
    seen(store, announcement(1), announcement(2))
    digest = digest_with(config, require_approval=True)
    frozen = freeze_issue(store, config, digest, FIXED_NOW)
    assert frozen is not None and sorted(frozen.announcement_ids) == ["a1", "a2"]
    issue = store.issues.get_digest_issue(frozen.issue_id)
    assert issue is not None and issue.status is DigestIssueStatus.AWAITING_APPROVAL
    assert issue.digest.html == frozen.html and "%%NL_UNSUBSCRIBE_URL%%" in issue.digest.html

    seen(store, announcement(3), at=FIXED_NOW + HOUR)
    again = freeze_issue(store, config, digest, FIXED_NOW + 2 * HOUR)
    assert again is not None and again.issue_id == frozen.issue_id
    assert again.announcement_ids == frozen.announcement_ids
    assert len(store.issues.list_digest_issues(digest="hebdo")) == 1


def test_approved_issue_is_loaded_as_recorded_even_after_the_template_changes(
    store: Store, config: Config, tmp_path: Path
) -> None:
    seen(store, announcement(1))
    frozen = freeze_issue(store, config, config.digest("hebdo"), FIXED_NOW)
    assert frozen is not None
    assert store.issues.get_digest_issue(frozen.issue_id).status is DigestIssueStatus.APPROVED
    overrides = tmp_path / "own" / "email"
    overrides.mkdir(parents=True)
    (overrides / "digest.txt.j2").write_text("changed {{ unsubscribe_url }} {{ browser_url }}\n")
    changed = config.model_copy(update={"templates_dir": overrides.parent})
    loaded = load_issue(store, frozen.issue_id)
    assert loaded.text == frozen.text and "changed" not in loaded.text
    assert freeze_issue(store, changed, changed.digest("hebdo"), FIXED_NOW + HOUR).text == frozen.text


def test_sending_moves_the_since_point(store: Store, config: Config) -> None:
    digest = config.digest("hebdo")
    seen(store, announcement(1), announcement(2))
    first = freeze_issue(store, config, digest, FIXED_NOW)
    assert first is not None
    seen(store, announcement(3), at=FIXED_NOW + HOUR)
    mark_issue_sent(store, first.issue_id, FIXED_NOW + 2 * HOUR)
    mark_issue_sent(store, first.issue_id, FIXED_NOW + 3 * HOUR)
    selection = select_announcements(store, config, digest, FIXED_NOW + 4 * HOUR)
    assert [a.id for a in selection.announcements] == ["a3"]
    assert selection.since == FIXED_NOW
    second = freeze_issue(store, config, digest, FIXED_NOW + 4 * HOUR)
    assert second is not None and second.announcement_ids == ["a3"]


def test_an_announcement_seen_while_freezing_goes_in_the_next_issue_once(store: Store, config: Config) -> None:
    digest = config.digest("hebdo")
    seen(store, announcement(1))
    seen(store, announcement(2), at=FIXED_NOW + timedelta(seconds=1))
    first = freeze_issue(store, config, digest, FIXED_NOW)
    assert first is not None and first.announcement_ids == ["a1"]
    mark_issue_sent(store, first.issue_id, FIXED_NOW + HOUR)
    second = freeze_issue(store, config, digest, FIXED_NOW + 2 * HOUR)
    assert second is not None and second.announcement_ids == ["a2"]
    mark_issue_sent(store, second.issue_id, FIXED_NOW + 3 * HOUR)
    assert select_announcements(store, config, digest, FIXED_NOW + 4 * HOUR).announcements == []


def test_an_embargoed_announcement_seen_before_a_send_goes_out_after_its_embargo(store: Store, config: Config) -> None:
    digest = config.digest("hebdo")
    embargo = FIXED_NOW + 3 * HOUR
    seen(store, announcement(1))
    store.announcements.upsert_announcement(announcement(2), announce=True, now=FIXED_NOW - HOUR, publish_at=embargo)
    first = freeze_issue(store, config, digest, FIXED_NOW)
    assert first is not None and first.announcement_ids == ["a1"]
    mark_issue_sent(store, first.issue_id, FIXED_NOW + HOUR)
    assert select_announcements(store, config, digest, embargo - HOUR).announcements == []
    second = freeze_issue(store, config, digest, embargo + HOUR)
    assert second is not None and second.announcement_ids == ["a2"]


def update(store: Store, item: Announcement, at: datetime, *, reannounce: bool) -> None:
    """Store a changed version of `item` (new title and content hash) at `at`."""
    changed = replace(item, title=f"{item.title} (mise à jour)", content_hash=f"{item.content_hash}+")
    store.announcements.upsert_announcement(changed, announce=True, now=at, reannounce=reannounce)


@pytest.mark.parametrize("reannounce", [True, False])
def test_an_update_goes_out_once_more_only_when_re_announced(store: Store, config: Config, reannounce: bool) -> None:
    digest = config.digest("hebdo")
    seen(store, announcement(1))
    first = freeze_issue(store, config, digest, FIXED_NOW)
    assert first is not None
    mark_issue_sent(store, first.issue_id, FIXED_NOW + HOUR)
    update(store, announcement(1), FIXED_NOW + 2 * HOUR, reannounce=reannounce)
    second = freeze_issue(store, config, digest, FIXED_NOW + 3 * HOUR, record_skip=False)
    if not reannounce:
        assert second is None
        return
    assert second is not None and second.announcement_ids == ["a1"] and "(mise à jour)" in second.text
    mark_issue_sent(store, second.issue_id, FIXED_NOW + 4 * HOUR)
    assert select_announcements(store, config, digest, FIXED_NOW + 5 * HOUR).announcements == []


def test_an_issue_awaiting_approval_cannot_be_marked_sent(store: Store, config: Config) -> None:
    seen(store, announcement(1))
    frozen = freeze_issue(store, config, digest_with(config, require_approval=True), FIXED_NOW)
    assert frozen is not None
    with pytest.raises(NewsletterError, match="awaiting_approval"):
        mark_issue_sent(store, frozen.issue_id, FIXED_NOW)
    with pytest.raises(NewsletterError, match="no digest issue"):
        load_issue(store, "missing")


def test_web_archive_copy_has_no_personal_data(store: Store, config: Config) -> None:
    seen(store, announcement(1))
    frozen = freeze_issue(store, config, config.digest("hebdo"), FIXED_NOW)
    assert frozen is not None
    path = write_archive(config, frozen)
    assert path == config.resolve(config.data_dir) / "archive" / f"{frozen.issue_id}.html"
    public = path.read_text(encoding="utf-8")
    assert "%%NL_" not in public
    assert 'href="https://lettre.example.org/unsubscribe"' in public
    assert f'href="{archive_url(config, frozen.issue_id)}"' in public
    assert "Bonjour," in public and "Annonce 1" in public
    assert archive_url(config, frozen.issue_id) == f"https://lettre.example.org/archive/{frozen.issue_id}"
    with pytest.raises(NewsletterError):
        archive_path(config, "../escape")


def test_recipient_values_fill_prepared_parts(store: Store, config: Config) -> None:
    seen(store, announcement(1))
    frozen = freeze_issue(store, config, config.digest("hebdo"), FIXED_NOW)
    assert frozen is not None
    html_part, text_part = prepared_parts(frozen)
    values = recipient_values(config, frozen, name="Ana", unsubscribe_url="https://lettre.example.org/u/tok")
    text = text_part.fill(values)
    assert "Bonjour Ana," in text and "https://lettre.example.org/u/tok" in text
    assert archive_url(config, frozen.issue_id) in html_part.fill(values)


def test_check_templates_passes_on_the_shipped_templates(config: Config) -> None:
    assert check_templates(config, FIXED_NOW) == []


def test_check_templates_names_template_and_line(config: Config, tmp_path: Path) -> None:
    folder = tmp_path / "own" / "email"
    folder.mkdir(parents=True)
    (folder / "digest.mjml.j2").write_text(
        "<mjml>\n<mj-body>\n<mj-section><mj-column>\n"
        "<mj-text>{{ unsubscribe_url }} {{ browser_url }}</mj-text>\n"
        "{% for item in announcements %}<mj-text>{{ item.titel }}</mj-text>{% endfor %}\n"
        "</mj-column></mj-section>\n</mj-body>\n</mjml>\n"
    )
    (folder / "digest.txt.j2").write_text("Hello\n{% for item in announcements %}\n{{ item.title }\n{% endfor %}\n")
    own = config.model_copy(update={"templates_dir": folder.parent})
    own.digests[1] = own.digests[1].model_copy(update={"subject": "{{ orgnisation }}"})
    problems = check_templates(own, FIXED_NOW)
    expected = "digests[0] (hebdo): template email/digest.mjml.j2, line 5: 'dict object' has no attribute 'titel'"
    assert expected in problems
    assert "digests[0] (hebdo): template email/digest.txt.j2, line 3: unexpected '}'" in problems
    assert "digests[1] (weekly): subject: 'orgnisation' is undefined" in problems


def test_check_templates_reports_a_missing_unsubscribe_link(config: Config, tmp_path: Path) -> None:
    folder = tmp_path / "own" / "email"
    folder.mkdir(parents=True)
    (folder / "digest.txt.j2").write_text("{{ browser_url }}\n")
    own = config.model_copy(update={"templates_dir": folder.parent})
    assert "digests[0] (hebdo): template email/digest.txt.j2: never shows {{ unsubscribe_url }}" in check_templates(
        own, FIXED_NOW
    )


def test_check_templates_reports_poor_contrast_and_bad_colours(tmp_path: Path) -> None:
    config = sample_config(tmp_path, branding={"accent_color": "#ffaaaa", "primary_color": "navy"})
    problems = check_templates(config, FIXED_NOW)
    assert "branding.primary_color: 'navy' is not a #rgb or #rrggbb colour" in problems
    assert any(p.startswith("branding.accent_color: contrast 1.8:1") for p in problems)
    assert round(contrast_ratio("#000", "#fff"), 1) == 21.0


def test_half_sent_issues_are_listed_for_resume(store: Store, config: Config) -> None:
    seen(store, announcement(1))
    frozen = freeze_issue(store, config, config.digest("hebdo"), FIXED_NOW)
    assert frozen is not None
    assert unfinished_issues(store) == []
    store.issues.set_digest_issue_status(frozen.issue_id, DigestIssueStatus.SENDING, now=FIXED_NOW)
    assert unfinished_issues(store) == [(frozen.issue_id, "hebdo")]
    mark_issue_sent(store, frozen.issue_id, FIXED_NOW + HOUR)
    assert unfinished_issues(store) == []


def test_a_skip_can_be_left_to_the_caller_to_record(store: Store, config: Config) -> None:
    assert freeze_issue(store, config, config.digest("hebdo"), FIXED_NOW, record_skip=False) is None
    assert store.runs.last_runs("digest:hebdo") == []
