"""Review actions: approve, edit a post, pick the key quote or figure, skip and undo a skip, move
a post to another slot, send a test digest.

Shared by the review web app and `newsletter approve`. Every action checks the state it acts
on atomically (a post already claimed for sending cannot be edited) and is recorded in the
audit log (`store.audit.record_action`: who, when, what).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from email_validator import EmailNotValidError, validate_email

from newsletter.compose.length import measure
from newsletter.config import Config, DigestConfig
from newsletter.core.errors import NewsletterError, StoreError
from newsletter.core.keys import parse_post_key
from newsletter.core.models import (
    QUEUED_STATUSES,
    Announcement,
    Delivery,
    DeliveryKind,
    DeliveryStatus,
    Digest,
    Post,
    post_from_payload,
    post_to_payload,
)
from newsletter.pipeline.posting import channel_config, recompose_queued
from newsletter.pipeline.revisions import hand_edited
from newsletter.publish.base import ChannelConfig
from newsletter.store import ActionRecord, DigestIssue, DigestIssueStatus, Store
from newsletter.store.ledger import Ledger

if TYPE_CHECKING:
    from newsletter.pipeline.digest_sender import SendReport

S = DeliveryStatus
EDITABLE = (S.PENDING, S.AWAITING_APPROVAL)
POSTABLE = (S.PENDING, S.UNCERTAIN, S.AWAITING_APPROVAL)  # what "post now" may publish (uncertain: checked first)
EDITABLE_ISSUES = SKIPPABLE_ISSUES = (DigestIssueStatus.AWAITING_APPROVAL, DigestIssueStatus.APPROVED)
MOVE_SLOTS = 14
SKIP_ACTION = "post.skip"  # the audit action of a person's skip of a post


class ActionError(NewsletterError):
    """An action cannot be done as asked (unknown id, wrong state, text too long…). `reason`
    names the interface sentence (`refused_<reason>` in `core/i18n.py`) a page shows instead of
    the English message, about `target`, with `values`."""

    def __init__(self, message: str, *, reason: str | None = None, target: str = "", **values: Any):
        super().__init__(message)
        self.reason, self.target, self.values = reason, target, values


class TargetKind(StrEnum):
    """What an id given to an action names."""

    ISSUE = "issue"
    POST = "post"
    ANNOUNCEMENT = "announcement"


@dataclass(frozen=True)
class ActionResult:
    """What an action did: the audit log's action name, its target and a one-line summary."""

    action: str
    target: str
    summary: str
    detail: dict[str, Any] = field(default_factory=dict)


def _record(store: Store, actor: str, action: str, target: str, summary: str, detail: dict[str, Any],
            now: datetime) -> ActionResult:
    """Append the action to the audit log and describe it."""
    store.audit.record_action(actor, action, target, detail, now=now)
    return ActionResult(action, target, summary, detail)


def resolve_target(config: Config, store: Store, target_id: str) -> tuple[TargetKind, str]:
    """What `target_id` names: a post key, a digest issue id, a digest name (its issue awaiting
    approval) or an announcement id; ActionError when none."""
    target_id = target_id.strip()
    if parse_post_key(target_id) is not None:
        if Ledger(store).get(target_id) is None:
            raise ActionError(f"no queued post {target_id!r}", reason="unknown_post", id=target_id)
        return TargetKind.POST, target_id
    if store.issues.get_digest_issue(target_id) is not None:
        return TargetKind.ISSUE, target_id
    if config.find_digest(target_id) is not None:
        waiting = store.issues.list_digest_issues(
            digest=target_id, statuses=[DigestIssueStatus.AWAITING_APPROVAL], limit=1
        )
        if not waiting:
            raise ActionError(f"digest {target_id!r} has no issue awaiting approval", reason="no_issue_awaiting",
                              digest=target_id)
        return TargetKind.ISSUE, waiting[0].id
    if store.announcements.get_announcement(target_id) is not None:
        return TargetKind.ANNOUNCEMENT, target_id
    raise ActionError(f"{target_id!r} is neither a post key, a digest issue, a digest name nor an announcement id",
                      reason="unknown_target", id=target_id)


def approve(config: Config, store: Store, target_id: str, actor: str, now: datetime) -> ActionResult:
    """Release a post or a digest issue awaiting approval (posts go to the queue, issues may be
    sent); a digest name with no issue waiting approves its planned next issue ahead of time."""
    name = target_id.strip()
    if config.find_digest(name) is not None and not _awaiting(store, name):
        return approve_planned(config, store, name, actor, now)
    kind, target = resolve_target(config, store, target_id)
    if kind is TargetKind.POST:
        return approve_post(store, target, actor, now)
    if kind is TargetKind.ISSUE:
        return approve_issue(store, target, actor, now)
    raise ActionError(f"{target} is an announcement: approve its posts or its digest issue",
                      reason="announcement_not_approvable", target=target)


def _awaiting(store: Store, digest_name: str) -> bool:
    """Whether the digest has an issue awaiting approval."""
    return bool(
        store.issues.list_digest_issues(digest=digest_name, statuses=[DigestIssueStatus.AWAITING_APPROVAL], limit=1)
    )


def approve_planned(config: Config, store: Store, digest_name: str, actor: str, now: datetime) -> ActionResult:
    """Record the digest's planned next issue as approved: it waits for its scheduled time."""
    from newsletter.pipeline.plan import plan_digest

    plan = plan_digest(config, store, config.digest(digest_name), now)
    if plan.issue is not None:
        issue = plan.issue
        raise ActionError(f"digest {digest_name} has no issue awaiting approval: {issue.id} is {issue.status}",
                          reason="no_issue_awaiting", digest=digest_name)
    if plan.digest is None:
        raise ActionError(f"digest {digest_name} has nothing to approve ({plan.skip_reason})", reason="nothing_to_send",
                          digest=digest_name)
    try:
        issue = store.issues.create_digest_issue(plan.digest, status=DigestIssueStatus.AWAITING_APPROVAL,
                                                 follows=plan.follows, now=now)
    except StoreError:
        raise ActionError(f"digest {digest_name}: issue {plan.digest.issue_id} was recorded meanwhile",
                          reason="recorded_meanwhile", digest=digest_name) from None
    store.issues.set_digest_issue_status(issue.id, DigestIssueStatus.APPROVED, actor=actor, now=now)
    when = plan.send_at.isoformat()
    return _record(store, actor, "digest.approve", issue.id, f"digest issue {issue.id} approved: goes out at {when}",
                   {"released": 0, "send_now": False, "scheduled_for": when}, now)


def next_issue(config: Config, store: Store, digest_name: str, actor: str, now: datetime) -> DigestIssue:
    """The digest's next issue, recorded so a person can act on it: its open issue when it is not
    sending yet, else its plan recorded now for its scheduled time (awaiting approval when the
    digest requires it, else approved), as `plan_digest` decides it."""
    from newsletter.pipeline.plan import plan_digest

    digest = digest_named(config, digest_name)
    plan = plan_digest(config, store, digest, now)
    if plan.issue is not None:
        if plan.issue.status not in EDITABLE_ISSUES:
            raise ActionError(f"digest issue {plan.issue.id} is {plan.issue.status}: it can no longer be changed",
                              reason="issue_not_changeable", target=plan.issue.id, status=str(plan.issue.status))
        return plan.issue
    if plan.digest is None:
        raise ActionError(f"digest {digest_name} has nothing to send ({plan.skip_reason})", reason="nothing_to_send",
                          digest=digest_name)
    status = DigestIssueStatus.AWAITING_APPROVAL if digest.require_approval else DigestIssueStatus.APPROVED
    try:
        issue = store.issues.create_digest_issue(plan.digest, status=status, follows=plan.follows, now=now)
    except StoreError:
        raise ActionError(f"digest {digest_name}: its next issue was recorded meanwhile, try again",
                          reason="recorded_meanwhile", digest=digest_name) from None
    store.audit.record_action(actor, "digest.record_next", issue.id, {"status": str(status)}, now=now)
    return issue


def digest_named(config: Config, name: str) -> DigestConfig:
    """The digest named `name`; ActionError when there is none."""
    digest = config.find_digest(name)
    if digest is None:
        raise ActionError(f"no digest named {name!r}", reason="unknown_digest", digest=name)
    return digest


def issue_target(config: Config, store: Store, target_id: str, actor: str, now: datetime) -> str | None:
    """For a digest name, the id of its next issue (recorded now when needed); None otherwise."""
    name = target_id.strip()
    if config.find_digest(name) is not None:
        return next_issue(config, store, name, actor, now).id
    return None


def is_due(issue: DigestIssue, now: datetime) -> bool:
    """Whether an issue's scheduled time has come (an approved one is then sent at once)."""
    when = issue.digest.scheduled_for
    return when is None or when <= now


def send_now(config: Config, store: Store, target_id: str, actor: str, now: datetime) -> SendReport:
    """Approve (when it waits) and send a digest issue at once, whatever its scheduled time (for a
    digest name, its next issue, recorded first when it is only planned)."""
    from newsletter.pipeline.sending import send_recorded

    issue_id = issue_to_send_now(config, store, target_id, actor, now)
    if _issue(store, issue_id).status is DigestIssueStatus.AWAITING_APPROVAL:
        approve_issue(store, issue_id, actor, now)
    store.audit.record_action(actor, "digest.send_now", issue_id, {}, now=now)
    return send_recorded(config, store, _issue(store, issue_id), now=now, trigger=f"send now by {actor}")


def issue_to_send_now(config: Config, store: Store, target_id: str, actor: str, now: datetime) -> str:
    """The digest issue "send now" acts on: the issue named, or a digest's next issue (recorded
    first when it is only planned); ActionError for anything else."""
    kind, issue_id = resolve_target(config, store, issue_target(config, store, target_id, actor, now) or target_id)
    if kind is not TargetKind.ISSUE:
        raise ActionError(f"{target_id!r} is not a digest issue or a digest with one awaiting approval",
                          reason="not_an_issue", id=target_id)
    return issue_id


def approve_post(store: Store, key: str, actor: str, now: datetime) -> ActionResult:
    """Release one post awaiting approval to the queue; ActionError if it is unknown or in another state."""
    _post(store, key)
    if not Ledger(store).approve_key(key, now=now):
        status = _post(store, key).status
        raise ActionError(f"post {key} is {status}, not awaiting approval", reason="not_awaiting", target=key,
                          status=str(status))
    return _record(store, actor, "post.approve", key, f"post {key} approved: queued", {}, now)


def post_now(config: Config, store: Store, key: str, actor: str, now: datetime) -> ActionResult:
    """Publish one post at once, whatever its slot (approving it first when it waits); an
    uncertain one is checked on the service before anything is created."""
    from newsletter.pipeline.posting import post_one

    status = _post(store, key).status
    if status not in POSTABLE:
        raise ActionError(f"post {key} is {status}: nothing to post", reason="not_postable", target=key,
                          status=str(status))
    if status is S.AWAITING_APPROVAL:
        approve_post(store, key, actor, now)
    store.audit.record_action(actor, "post.post_now", key, {}, now=now)
    report = post_one(config, store, key, now)
    row = _post(store, key)
    outcome = (row.provider_url or row.provider_id) if report.sent else "; ".join(report.errors) or str(row.status)
    return ActionResult("post.post_now", key, f"post {key}: {row.status} ({outcome})", {"status": str(row.status)})


def settle(store: Store, key: str, sent: bool, actor: str, now: datetime) -> ActionResult:
    """A person's verdict on an uncertain post: it went out, or it may be posted again (resuming
    after the parts the service accepted)."""
    from newsletter.pipeline.posting import settle_post

    _post(store, key)
    try:
        settle_post(store, key, sent=sent, now=now, actor=actor)
    except StoreError as error:
        raise ActionError(str(error), reason="not_settleable", target=key,
                          status=str(_post(store, key).status)) from None
    return ActionResult("post.settle", key, f"post {key}: {'sent' if sent else 'pending again'}", {"sent": sent})


def retract(config: Config, store: Store, key: str, actor: str) -> ActionResult:
    """Delete every part of a post the service accepted (a whole or a cut thread), last first."""
    from newsletter.pipeline.posting import delete_post

    row = _post(store, key)
    if row.status is S.CLAIMED or not row.provider_id:
        raise ActionError(f"post {key} is {row.status}: nothing to delete", reason="not_retractable", target=key,
                          status=str(row.status))
    row = delete_post(config, store, key, actor=actor)
    return ActionResult("post.delete", key, f"post {key}: deleted ({row.provider_url or row.provider_id})")


def approve_issue(store: Store, issue_id: str, actor: str, now: datetime) -> ActionResult:
    """Approve a digest issue awaiting approval and release its ledger rows."""
    approved = store.issues.set_digest_issue_status(
        issue_id, DigestIssueStatus.APPROVED, expected=[DigestIssueStatus.AWAITING_APPROVAL], actor=actor, now=now
    )
    if not approved:
        status = _issue(store, issue_id).status
        raise ActionError(f"digest issue {issue_id} is {status}, not awaiting approval", reason="not_awaiting",
                          target=issue_id, status=str(status))
    released = Ledger(store).approve(issue_id, now=now)
    due = is_due(_issue(store, issue_id), now)
    summary = f"digest issue {issue_id} approved" + (": its time has come, it is sent now" if due else "")
    return _record(store, actor, "digest.approve", issue_id, summary, {"released": released, "send_now": due}, now)


def edit_post(config: Config, store: Store, key: str, text: str, actor: str, now: datetime) -> ActionResult:
    """Replace a queued post's text after checking it against the platform's length rule."""
    row = _post(store, key)
    post = post_from_payload(row.payload)
    text = "\n".join(line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")).strip()
    measured = measure(text, post.platform, post.limit)
    if not text:
        raise ActionError(f"post {key}: the text is empty", reason="empty_text", target=key)
    if not measured.valid:
        raise ActionError(f"post {key}: {measured} characters as {post.platform} counts them, over the limit",
                          reason="too_long", target=key, measured=str(measured))
    before = post.text
    post.text, post.length = text, measured.length
    updated, withdrawn = _rewrite_post(config, store, row, post, now)
    if not updated:
        status = _post(store, key).status
        raise ActionError(f"post {key} is {status} now: it can no longer be edited", reason="not_editable",
                          target=key, status=str(status))
    detail = {"before": before, "after": text, "length": str(measured), "approval_withdrawn": withdrawn}
    summary = f"post {key} edited ({measured})" + (": it waits for approval again" if withdrawn else "")
    return _record(store, actor, "post.edit", key, summary, detail, now)


def _rewrite_post(config: Config, store: Store, row: Delivery, post: Post, now: datetime) -> tuple[bool, bool]:
    """Replace a queued post's payload; an approved post of a channel that holds it for approval
    goes back to awaiting approval in the same statement (what was approved is not what would go
    out). Returns whether it was replaced and whether its approval was withdrawn."""
    from newsletter.pipeline.plan import holds_post

    withdraw = row.status is S.PENDING and holds_post(store, channel_config(config, row.target), post)
    if withdraw:
        updated = Ledger(store).update_payload(row.key, post_to_payload(post), only_in=(S.PENDING,),
                                               status=S.AWAITING_APPROVAL, now=now)
        return updated, updated
    return _update_payload(store, row.key, post_to_payload(post), now), False


def pick_key(
    config: Config, store: Store, announcement_id: str, kind: str, index: int, actor: str, now: datetime
) -> ActionResult:
    """Make another extracted quote or figure the key one, then recompose the announcement's
    queued posts that nobody edited by hand."""
    announcement = store.announcements.get_announcement(announcement_id)
    if announcement is None:
        raise ActionError(f"no announcement {announcement_id!r}", reason="unknown_announcement", id=announcement_id)
    if kind not in ("quote", "figure"):
        raise ActionError(f"pick either a quote or a figure, not {kind!r}", reason="bad_key_kind", kind=kind)
    count = len(announcement.quotes if kind == "quote" else announcement.figures)
    if not 0 <= index < count:
        raise ActionError(f"announcement {announcement_id} has no {kind} number {index + 1}",
                          reason=f"no_{kind}_number", target=announcement_id, number=index + 1)
    if kind == "quote":
        announcement.key_quote = index
        picked = announcement.quotes[index].text
    else:
        announcement.key_figures = [index, *(i for i in announcement.key_figures if i != index)]
        picked = announcement.figures[index].raw
    store.announcements.save_extracted(announcement, now=now)
    recomposed = _recompose_posts(config, store, announcement, now)
    detail = {"kind": kind, "index": index, "text": picked, "recomposed": recomposed}
    summary = f"announcement {announcement_id}: key {kind} is now « {picked} » ({recomposed} post(s) recomposed)"
    return _record(store, actor, "announcement.pick_key", announcement_id, summary, detail, now)


def skip(config: Config, store: Store, target_id: str, actor: str, now: datetime, reason: str = "") -> ActionResult:
    """Skip an announcement (no digest or post will carry it), one queued post, or a digest issue
    (for a digest name, its next issue, recorded first when it is only planned)."""
    kind, target = resolve_target(config, store, issue_target(config, store, target_id, actor, now) or target_id)
    reason = " ".join(reason.split()) or f"skipped by {actor}"
    ledger = Ledger(store)
    if kind is TargetKind.POST:
        row = _post(store, target)
        if row.status not in EDITABLE:
            raise ActionError(f"post {target} is {row.status}: only queued posts can be skipped",
                              reason="not_skippable", target=target, status=str(row.status))
        ledger.mark_skipped(target, reason, now=now)
        return _record(store, actor, SKIP_ACTION, target, f"post {target} skipped",
                       {"reason": reason, "was": str(row.status)}, now)
    if kind is TargetKind.ISSUE:
        if not store.issues.set_digest_issue_status(target, DigestIssueStatus.SKIPPED, expected=SKIPPABLE_ISSUES,
                                             reason=reason, now=now):
            status = _issue(store, target).status
            raise ActionError(f"digest issue {target} is {status}: it cannot be skipped", reason="not_skippable",
                              target=target, status=str(status))
        return _record(store, actor, "digest.skip", target, f"digest issue {target} skipped", {"reason": reason}, now)
    store.announcements.set_announce(target, False, now=now)
    skipped = [row.key for row in queued_posts(store) if row.payload.get("announcement_id") == target]
    for key in skipped:
        ledger.mark_skipped(key, reason, now=now)
    detail = {"reason": reason, "posts_skipped": skipped}
    return _record(store, actor, "announcement.skip", target,
                   f"announcement {target} skipped ({len(skipped)} queued post(s) skipped)", detail, now)


def undo_skip(config: Config, store: Store, target_id: str, actor: str, now: datetime) -> ActionResult:
    """Undo a person's skip of a post or a digest issue: the post goes back to the queue as it
    was (awaiting approval or pending), the issue to awaiting approval (approved when its digest
    needs no approval), unless a later issue of its digest was recorded since. An issue back as
    approved whose time has come asks to be sent now, like an issue approved late."""
    kind, target = resolve_target(config, store, target_id)
    if kind is TargetKind.POST:
        return _undo_post_skip(config, store, target, actor, now)
    if kind is not TargetKind.ISSUE:
        raise ActionError(f"{target} is an announcement: undo the skip of its posts or its digest issue",
                          reason="announcement_not_undoable", target=target)
    issue = _issue(store, target)
    digest = digest_named(config, issue.digest.name)
    status = DigestIssueStatus.AWAITING_APPROVAL if digest.require_approval else DigestIssueStatus.APPROVED
    if issue.status is not DigestIssueStatus.SKIPPED:
        raise ActionError(f"digest issue {target} is {issue.status}, not skipped: nothing to undo",
                          reason="not_skipped", target=target, status=str(issue.status))
    if not store.issues.reopen_skipped_issue(target, status, actor=actor, now=now):
        raise ActionError(f"digest issue {target}: a later issue of {digest.name} was recorded since, "
                          "its skip cannot be undone", reason="later_issue_recorded", target=target)
    due = status is DigestIssueStatus.APPROVED and is_due(issue, now)
    summary = f"digest issue {target} is back: {status}" + (": its time has come, it is sent now" if due else "")
    return _record(store, actor, "digest.undo_skip", target, summary, {"status": str(status), "send_now": due}, now)


def _undo_post_skip(config: Config, store: Store, key: str, actor: str, now: datetime) -> ActionResult:
    """Put a post a person skipped back in the queue, in the state it had before the skip."""
    from newsletter.pipeline.plan import holds_post

    row = _post(store, key)
    skipped = skip_record(store, key)
    if row.status is not S.SKIPPED or skipped is None:
        raise ActionError(f"post {key} is {row.status}: only a post a person skipped can be brought back",
                          reason="not_skipped", target=key, status=str(row.status))
    was = (skipped.detail or {}).get("was")
    if was not in QUEUED_STATUSES:  # skipped before skips recorded the state: ask again when the channel holds it
        held = holds_post(store, channel_config(config, row.target), post_from_payload(row.payload))
        was = S.AWAITING_APPROVAL if held else S.PENDING
    status = S(was)
    if not Ledger(store).restore_skipped(key, status, now=now):
        status = _post(store, key).status
        raise ActionError(f"post {key} is {status} now: nothing to undo", reason="not_skipped", target=key,
                          status=str(status))
    return _record(store, actor, "post.undo_skip", key, f"post {key} is back in the queue: {status}",
                   {"status": str(status)}, now)


def skip_record(store: Store, key: str) -> ActionRecord | None:
    """The audit record of a person's skip of post `key` (None when no person skipped it: only
    such a skip can be undone)."""
    return store.audit.last_action(SKIP_ACTION, key)


def move_post(config: Config, store: Store, key: str, slot: str, actor: str, now: datetime) -> ActionResult:
    """Move a queued post to another of its channel's next slots: it waits until then and then
    goes first (the posting run and the plan both read the row's time)."""
    row = _post(store, key)
    if row.status not in EDITABLE:
        raise ActionError(f"post {key} is {row.status}: only queued posts can be moved", reason="not_movable",
                          target=key, status=str(row.status))
    channel = channel_config(config, row.target)
    when = _offered_slot(config, channel, slot, now)
    before = planned_slot(config, store, key, now)
    if not Ledger(store).reschedule(key, when, now=now):
        status = _post(store, key).status
        raise ActionError(f"post {key} is {status} now: it can no longer be moved", reason="not_movable", target=key,
                          status=str(status))
    after = planned_slot(config, store, key, now)
    detail = {"from": before.isoformat() if before else None, "to": when.isoformat(),
              "slot": after.isoformat() if after else None}
    going = f"goes out at {after.isoformat()}" if after else "goes out at its slot once approved"
    return _record(store, actor, "post.move", key, f"post {key} moved: {going}", detail, now)


def next_slots(config: Config, channel: ChannelConfig, now: datetime) -> list[datetime]:
    """The channel's next slots a post may be moved to, in the config's timezone."""
    from newsletter.pipeline.plan import slot_times

    return [t for t in slot_times(config, channel.slots, now, MOVE_SLOTS) if t is not None]


def planned_slot(config: Config, store: Store, key: str, now: datetime) -> datetime | None:
    """The slot the one plan gives the queued post `key` (None while it awaits approval)."""
    from newsletter.pipeline.plan import plan_channel

    row = _post(store, key)
    entries = plan_channel(config, store, channel_config(config, row.target), now, queued_only=True)
    return next((e.slot for e in entries if e.key == key), None)


def _offered_slot(config: Config, channel: ChannelConfig, slot: str, now: datetime) -> datetime:
    """The slot among the channel's next ones that `slot` (an ISO time) names; ActionError otherwise."""
    try:
        wanted = datetime.fromisoformat(slot.strip())
    except ValueError:
        raise ActionError(f"{slot!r} is not a time: pick one of channel {channel.name}'s next slots",
                          reason="not_a_slot", slot=slot, channel=channel.name, count=MOVE_SLOTS) from None
    if wanted.tzinfo is None:
        wanted = wanted.replace(tzinfo=config.tz)
    found = next((t for t in next_slots(config, channel, now) if t == wanted), None)
    if found is None:
        raise ActionError(f"{slot!r} is not one of channel {channel.name}'s next {MOVE_SLOTS} slots",
                          reason="not_a_slot", slot=slot, channel=channel.name, count=MOVE_SLOTS)
    return found


def send_test(
    config: Config, store: Store, issue: DigestIssue | Digest, address: str, actor: str, now: datetime
) -> ActionResult:
    """Send one copy of a digest (frozen or as it would be rendered now) to one address."""
    from newsletter.pipeline.sending import send_test_copy

    try:
        recipient = validate_email(address.strip(), check_deliverability=False, allow_smtputf8=False).normalized
    except EmailNotValidError as error:
        raise ActionError(f"test send: {address!r} is not a valid address ({error})", reason="invalid_address",
                          address=address.strip()) from None
    if isinstance(issue, Digest):
        issue = DigestIssue(digest=issue, status=DigestIssueStatus.AWAITING_APPROVAL, created_at=now)
    reply = send_test_copy(config, issue, recipient, now=now, store=store)
    detail = {"to": recipient, "digest": issue.digest.name, "subject": issue.digest.subject, "reply": reply[:200]}
    return _record(store, actor, "digest.test_send", issue.id, f"test copy of {issue.id} sent to {recipient}",
                   detail, now)


def queued_posts(store: Store) -> list[Delivery]:
    """Post rows that can still change: awaiting approval or pending, oldest first."""
    return Ledger(store).queued_posts()


def _recompose_posts(config: Config, store: Store, announcement: Announcement, now: datetime) -> int:
    """Recompose the queued, never hand-edited posts of `announcement`; returns how many changed."""
    changed = 0
    rows = [r for r in queued_posts(store) if r.payload.get("announcement_id") == announcement.id]
    for row in rows:
        if hand_edited(store, row.key):
            continue
        fresh = recompose_queued(config, announcement, row)
        if fresh and _rewrite_post(config, store, row, fresh, now)[0]:
            changed += 1
    return changed


def _post(store: Store, key: str) -> Delivery:
    """The post row `key`; ActionError when there is none."""
    row = Ledger(store).get(key)
    if row is None or row.kind != str(DeliveryKind.POST):
        raise ActionError(f"no queued post {key!r}", reason="unknown_post", id=key)
    return row


def _issue(store: Store, issue_id: str) -> DigestIssue:
    """The digest issue `issue_id`; ActionError when there is none."""
    issue = store.issues.get_digest_issue(issue_id)
    if issue is None:
        raise ActionError(f"no digest issue {issue_id!r}", reason="unknown_issue", id=issue_id)
    return issue


def _update_payload(store: Store, key: str, payload: dict[str, Any], now: datetime) -> bool:
    """Replace a post's payload if it is still queued (atomic with the status check)."""
    return Ledger(store).update_payload(key, payload, only_in=EDITABLE, now=now)
