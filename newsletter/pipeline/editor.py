"""The digest editor: reorder, remove and add announcements, change the subject or the intro of
a digest's next issue, through the one plan.

Editing works on the recorded issue the send will read: a digest with no issue recorded yet
has its plan recorded first (as `plan_digest` decides it), then each edit re-renders that issue
in place (same id) with `render_digest`, keeping the edits through later re-renders. When the
digest requires approval, an edited issue waits for an approver again: what was approved is not
what would go out any more. An issue that started sending cannot be edited.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum

from newsletter.compose.digest import render_digest
from newsletter.config import Config, DigestConfig
from newsletter.core.models import Announcement, DigestEdits
from newsletter.pipeline.actions import EDITABLE_ISSUES, ActionError, ActionResult, digest_named, next_issue
from newsletter.pipeline.digests import not_yet_carried
from newsletter.pipeline.plan import DigestPlan, ordered_announcements, plan_digest
from newsletter.store import DigestIssue, DigestIssueStatus, Store

ADD_WINDOW = timedelta(days=60)
MAX_CANDIDATES = 100
SENT_ISSUES_CHECKED = 20
MAX_SUBJECT = 200
MAX_INTRO = 2000


class EditOp(StrEnum):
    """One change the editor makes to an issue."""

    UP = "up"
    DOWN = "down"
    REMOVE = "remove"
    ADD = "add"
    SUBJECT = "subject"
    INTRO = "intro"


@dataclass(frozen=True)
class DigestEdit:
    """An edit: the operation, the announcement it moves, removes or adds, or the new text
    (an empty subject or intro goes back to the config's)."""

    op: EditOp
    announcement_id: str = ""
    text: str = ""


@dataclass
class EditorView:
    """What the editor page shows: the digest's next issue as the plan decides it (recorded or
    not yet), its announcements in order, what may be added, and whether it can still change."""

    plan: DigestPlan
    announcements: list[Announcement]
    candidates: list[Announcement] = field(default_factory=list)

    @property
    def editable(self) -> bool:
        """Whether the issue can still be edited (not sending, and something to send)."""
        return self.plan.digest is not None and (self.plan.issue is None or self.plan.issue.status in EDITABLE_ISSUES)


def editor_view(config: Config, store: Store, digest_name: str, now: datetime) -> EditorView:
    """The editor's page for a digest, read from the one plan; nothing is recorded."""
    digest = digest_named(config, digest_name)
    plan = plan_digest(config, store, digest, now)
    held = [a.id for a in plan.announcements] if plan.digest else []
    return EditorView(plan, plan.announcements if plan.digest else [], addable(store, digest, held, now))


def addable(store: Store, digest: DigestConfig, held: list[str], now: datetime) -> list[Announcement]:
    """Announcements eligible in the last weeks (for the digest's tags) that no sent issue of the
    digest carried (unless re-announced since) and that are not among `held`, newest first."""
    found = store.announcements.announced_since(now - ADD_WINDOW, digest.tags or None, now=now)
    for sent in store.issues.list_digest_issues(digest=digest.name, statuses=[DigestIssueStatus.SENT],
                                                limit=SENT_ISSUES_CHECKED):
        kept = {a.id for a in not_yet_carried(found, sent)}
        found = [item for item in found if item.announcement.id in kept]
    fresh = [item.announcement for item in reversed(found) if item.announcement.id not in set(held)]
    return fresh[:MAX_CANDIDATES]


def edit_digest(
    config: Config, store: Store, digest_name: str, edit: DigestEdit, actor: str, now: datetime
) -> ActionResult:
    """Apply one edit to the digest's next issue (recording its plan first when needed) and
    re-render it in place; an approved issue of a digest that requires approval goes back to
    awaiting approval."""
    issue = next_issue(config, store, digest_name, actor, now)
    digest = digest_named(config, digest_name)
    ids, edits = edited(store, digest, issue, edit, now)
    announcements = ordered_announcements(store, ids)
    rendered = render_digest(config, digest, announcements, issue.digest.scheduled_for or now, edits)
    rendered.issue_id = issue.id
    unapprove = digest.require_approval and issue.status is DigestIssueStatus.APPROVED
    if not store.issues.rerender_digest_issue(rendered, expected=EDITABLE_ISSUES, needs_approval=unapprove, now=now):
        raise ActionError(f"digest issue {issue.id} started sending meanwhile: it can no longer be edited",
                          reason="sending_started", target=issue.id)
    detail = {
        "op": str(edit.op), "announcement": edit.announcement_id, "subject_before": issue.digest.subject,
        "subject_after": rendered.subject, "order": ids, "approval_withdrawn": unapprove,
    }
    summary = f"digest issue {issue.id}: {edit.op} done" + (", it waits for approval again" if unapprove else "")
    store.audit.record_action(actor, "digest.edit", issue.id, detail, now=now)
    return ActionResult("digest.edit", issue.id, summary, detail)


def edited(
    store: Store, digest: DigestConfig, issue: DigestIssue, edit: DigestEdit, now: datetime
) -> tuple[list[str], DigestEdits]:
    """The issue's announcement ids and edits after `edit`; ActionError when it cannot apply."""
    ids = list(issue.digest.announcement_ids)
    edits = issue.digest.edits
    target = edit.announcement_id
    if edit.op in (EditOp.UP, EditOp.DOWN, EditOp.REMOVE) and target not in ids:
        raise ActionError(f"digest issue {issue.id} does not hold announcement {target!r}", reason="not_in_issue",
                          target=issue.id, id=target)
    if edit.op is EditOp.UP or edit.op is EditOp.DOWN:
        return _moved(ids, target, -1 if edit.op is EditOp.UP else 1), edits
    if edit.op is EditOp.REMOVE:
        if len(ids) == 1:
            raise ActionError(f"digest issue {issue.id} needs at least one announcement: skip the issue instead",
                              reason="last_announcement", target=issue.id)
        return [i for i in ids if i != target], edits
    if edit.op is EditOp.ADD:
        if target not in {a.id for a in addable(store, digest, ids, now)}:
            raise ActionError(f"announcement {target!r} cannot be added to digest issue {issue.id}",
                              reason="not_addable", target=issue.id, id=target)
        return [*ids, target], edits
    return ids, _with_text(edits, edit)


def _with_text(edits: DigestEdits, edit: DigestEdit) -> DigestEdits:
    """The edits with a new subject or intro (blank: back to the config's)."""
    if edit.op is EditOp.SUBJECT:
        subject = " ".join(edit.text.split())
        if len(subject) > MAX_SUBJECT:
            raise ActionError(f"the subject has {len(subject)} characters: at most {MAX_SUBJECT}",
                              reason="subject_too_long", length=len(subject), max=MAX_SUBJECT)
        return replace(edits, subject=subject or None)
    intro = "\n".join(line.rstrip() for line in edit.text.replace("\r\n", "\n").split("\n")).strip()
    if len(intro) > MAX_INTRO:
        raise ActionError(f"the intro has {len(intro)} characters: at most {MAX_INTRO}", reason="intro_too_long",
                          length=len(intro), max=MAX_INTRO)
    return replace(edits, intro=intro or None)


def _moved(ids: list[str], target: str, step: int) -> list[str]:
    """`ids` with `target` moved one place up (-1) or down (+1), when it can move."""
    index = ids.index(target)
    other = index + step
    if 0 <= other < len(ids):
        ids[index], ids[other] = ids[other], ids[index]
    return ids
