"""Edits and removals of stored announcements before they went out, handled in one place.

Ingestion calls `follow_changes` for the announcements whose content changed at their source
and those withdrawn from it. What still waits follows the announcement; nothing that went out
(or is going out) is touched:

- queued posts (pending or awaiting approval) of a changed announcement are re-rendered from the
  new content; a post someone edited by hand keeps its text but is held for review (awaiting
  approval, reason noted, `post.flag` in the audit log); a variant the new content no longer
  fills is skipped. Queued posts of a withdrawn announcement are skipped.
- a digest issue not yet sending (awaiting approval or approved) that holds a changed or
  withdrawn announcement is re-rendered in place (same id; `digest.rerender` in the audit log),
  without the withdrawn ones, or skipped with a reason when too few are left. When its digest
  requires approval, an approved issue goes back to awaiting approval: what was approved is not
  what would go out any more. An issue already sending (or paused mid-send) is left untouched
  and a warning logged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from newsletter.compose.digest import render_digest
from newsletter.config import Config
from newsletter.core.errors import NewsletterError
from newsletter.core.keys import parse_post_key
from newsletter.core.models import QUEUED_STATUSES as QUEUED
from newsletter.core.models import Announcement, Delivery, post_to_payload
from newsletter.pipeline.posting import recompose_queued
from newsletter.store import DigestIssue, DigestIssueStatus, Store
from newsletter.store.ledger import Ledger

log = logging.getLogger(__name__)

ACTOR = "ingest"
NOT_SENDING = (DigestIssueStatus.AWAITING_APPROVAL, DigestIssueStatus.APPROVED)
STARTED = (DigestIssueStatus.SENDING, DigestIssueStatus.PAUSED)
MAX_OPEN_ISSUES = 100
HELD_REASON = "the announcement changed at its source after this post was edited by hand: review it"
GONE_VARIANT_REASON = "the announcement changed at its source and no longer fills this variant"
WITHDRAWN_REASON = "announcement withdrawn at its source"


@dataclass
class RevisionReport:
    """What following the changes did: ledger keys of posts, ids of digest issues, errors."""

    rerendered_posts: list[str] = field(default_factory=list)
    held_posts: list[str] = field(default_factory=list)
    skipped_posts: list[str] = field(default_factory=list)
    rerendered_issues: list[str] = field(default_factory=list)
    skipped_issues: list[str] = field(default_factory=list)
    untouched_issues: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def follow_changes(
    config: Config, store: Store, *, changed: list[str], withdrawn: list[str], now: datetime
) -> RevisionReport:
    """Re-render or withdraw the queued posts and not-yet-sending digest issues of the
    announcements whose content `changed` and of those `withdrawn`; sent ones are never touched."""
    report = RevisionReport()
    queued = queued_posts_of(store, set(changed) | set(withdrawn))
    for announcement_id in changed:
        announcement = store.announcements.get_announcement(announcement_id)
        if announcement is not None:
            _revise_posts(config, store, announcement, queued.get(announcement_id, []), now, report)
    for announcement_id in withdrawn:
        _withdraw_posts(store, announcement_id, queued.get(announcement_id, []), now, report)
    _revise_issues(config, store, set(changed), set(withdrawn), now, report)
    return report


def hand_edited(store: Store, key: str) -> bool:
    """Whether someone edited this post's text (the audit log says so)."""
    return store.audit.has_action("post.edit", key)


def queued_posts_of(store: Store, announcement_ids: set[str]) -> dict[str, list[Delivery]]:
    """The queued post rows (pending or awaiting approval) of these announcements, by announcement."""
    found: dict[str, list[Delivery]] = {}
    if not announcement_ids:
        return found
    rows = Ledger(store).queued_posts()
    for row in rows:
        key = parse_post_key(row.key)
        if key is not None and key.announcement_id in announcement_ids:
            found.setdefault(key.announcement_id, []).append(row)
    return found


def _revise_posts(
    config: Config, store: Store, announcement: Announcement, rows: list[Delivery], now: datetime,
    report: RevisionReport,
) -> None:
    """Re-render each queued post from the new content, hold hand-edited ones, skip lost variants."""
    ledger = Ledger(store)
    for row in rows:
        if hand_edited(store, row.key):
            _hold(store, ledger, row.key, now, report)
            continue
        try:
            fresh = recompose_queued(config, announcement, row)
        except (NewsletterError, OSError, ValueError) as error:
            _error(report, f"post {row.key} cannot be re-rendered: {error}")
            continue
        if fresh is None:
            if ledger.skip_queued(row.key, GONE_VARIANT_REASON, now=now):
                report.skipped_posts.append(row.key)
            continue
        if ledger.update_payload(row.key, post_to_payload(fresh), only_in=QUEUED, now=now):
            report.rerendered_posts.append(row.key)


def _hold(store: Store, ledger: Ledger, key: str, now: datetime, report: RevisionReport) -> None:
    """Keep a hand-edited post's text but hold it for a person to review, in the audit log too."""
    if not ledger.hold_for_review(key, HELD_REASON, now=now):
        return
    store.audit.record_action(ACTOR, "post.flag", key, {"reason": HELD_REASON}, now=now)
    log.warning("post %s: %s", key, HELD_REASON)
    report.held_posts.append(key)


def _withdraw_posts(
    store: Store, announcement_id: str, rows: list[Delivery], now: datetime, report: RevisionReport
) -> None:
    """Skip the queued posts of a withdrawn announcement."""
    ledger = Ledger(store)
    skipped = [row.key for row in rows if ledger.skip_queued(row.key, WITHDRAWN_REASON, now=now)]
    report.skipped_posts.extend(skipped)
    log.info("announcement %s withdrawn: %d queued post(s) skipped", announcement_id, len(skipped))


def _revise_issues(
    config: Config, store: Store, changed: set[str], withdrawn: set[str], now: datetime, report: RevisionReport
) -> None:
    """Re-render (or skip) the open issues holding touched announcements; leave sending ones."""
    for issue in store.issues.list_digest_issues(statuses=(*NOT_SENDING, *STARTED), limit=MAX_OPEN_ISSUES):
        held = set(issue.digest.announcement_ids)
        if not held & (changed | withdrawn):
            continue
        if issue.status in STARTED:
            _leave(issue.id, str(issue.status), report)
            continue
        try:
            _rerender_issue(config, store, issue, changed & held, withdrawn & held, now, report)
        except (NewsletterError, OSError, ValueError) as error:
            _error(report, f"digest issue {issue.id} cannot be re-rendered: {error}")


def _rerender_issue(
    config: Config, store: Store, issue: DigestIssue, changed: set[str], withdrawn: set[str], now: datetime,
    report: RevisionReport,
) -> None:
    """Render the issue again from its announcements' current content (withdrawn ones left
    out) under the same id, or skip it when fewer than `min_items` remain."""
    digest_config = config.digest(issue.digest.name)
    kept = [i for i in issue.digest.announcement_ids if i not in withdrawn and not store.announcements.is_withdrawn(i)]
    announcements = store.announcements.get_announcements(kept)
    minimum = digest_config.minimum_items
    if len(announcements) < minimum:
        reason = (f"{len(announcements)} announcement(s) left after withdrawals at their source, "
                  f"fewer than min_items={minimum}")
        if not store.issues.set_digest_issue_status(issue.id, DigestIssueStatus.SKIPPED, expected=NOT_SENDING,
                                             reason=reason, now=now):
            _leave(issue.id, "no longer waiting", report)
            return
        store.audit.record_action(ACTOR, "digest.skip", issue.id, {"reason": reason, "withdrawn": sorted(withdrawn)},
                            now=now)
        log.warning("digest issue %s skipped: %s", issue.id, reason)
        report.skipped_issues.append(issue.id)
        return
    rendered = render_digest(config, digest_config, announcements, issue.digest.scheduled_for or issue.created_at,
                             issue.digest.edits)
    rendered.issue_id = issue.id
    unapprove = digest_config.require_approval and issue.status is DigestIssueStatus.APPROVED
    if not store.issues.rerender_digest_issue(rendered, expected=NOT_SENDING, needs_approval=unapprove, now=now):
        _leave(issue.id, "no longer waiting", report)
        return
    detail = {
        "changed": sorted(changed),
        "withdrawn": sorted(withdrawn),
        "subject_before": issue.digest.subject,
        "subject_after": rendered.subject,
        "approval_withdrawn": unapprove,
    }
    store.audit.record_action(ACTOR, "digest.rerender", issue.id, detail, now=now)
    log.info("digest issue %s re-rendered: %d changed, %d withdrawn", issue.id, len(changed), len(withdrawn))
    report.rerendered_issues.append(issue.id)


def _leave(issue_id: str, status: str, report: RevisionReport) -> None:
    """Warn that an issue that started sending keeps what it had."""
    log.warning(
        "digest issue %s is %s: left as it is although some of its announcements changed or were "
        "withdrawn at their source", issue_id, status,
    )
    report.untouched_issues.append(issue_id)


def _error(report: RevisionReport, message: str) -> None:
    """Log and keep one problem; the other posts and issues are still handled."""
    log.error("%s", message)
    report.errors.append(message)
