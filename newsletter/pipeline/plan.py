"""The one plan: each outgoing thing is decided here, once, and every path reads it.

`plan_digest` decides a digest's next issue (its announcements in order, subject, recipients,
scheduled time, or why it is skipped); `plan_channel` decides each post of a channel (every
thread part, card, alt text, order and slot). The preview, the review app's Upcoming page, test
copies, `send --dry-run`, `post --dry-run`, the digest freeze and the real posting run all read
these functions, so what the team previews is what goes out.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path

from newsletter.compose.digest import render_digest
from newsletter.compose.social import UnfitVariant, compose_posts
from newsletter.config import Config, DigestConfig
from newsletter.core.errors import NewsletterError, StoreError
from newsletter.core.keys import variant_key
from newsletter.core.models import (
    QUEUED_STATUSES,
    Announcement,
    Delivery,
    DeliveryStatus,
    Digest,
    Post,
    post_from_payload,
)
from newsletter.core.schedules import Schedule, merge_schedules, next_fire_times
from newsletter.pipeline.digests import digest_job, open_recorded_issue, select_announcements
from newsletter.pipeline.wanted import QUEUE_WINDOW, wants_row
from newsletter.publish.base import ChannelConfig
from newsletter.store import AnnouncedItem, DigestIssue, DigestIssueStatus, RunOutcome, Store
from newsletter.store.ledger import Ledger

log = logging.getLogger(__name__)

FREEZE_ATTEMPTS = 3
QUEUED = QUEUED_STATUSES


def slot_times(config: Config, schedules: list[Schedule], now: datetime, count: int) -> list[datetime | None]:
    """The next `count` fire times of `schedules` after `now` (one post per slot), in the config's
    timezone; None where there is no such time."""
    times = next_fire_times(merge_schedules(schedules), now, config.tz, count) if schedules and count else []
    return [t.astimezone(config.tz) for t in times] + [None] * (count - len(times))


def next_run(schedules: list[Schedule], config: Config, now: datetime) -> datetime | None:
    """The next time any of `schedules` fires after `now`, in the config's timezone."""
    return slot_times(config, schedules, now, 1)[0]


@dataclass
class DigestPlan:
    """A digest's next issue: recorded (open) or as it would be frozen at `send_at`; with no
    `digest`, `skip_reason` says why nothing goes out."""

    config: DigestConfig
    send_at: datetime
    scheduled_for: datetime | None
    recipients: int
    announcements: list[Announcement] = field(default_factory=list)
    digest: Digest | None = None
    issue: DigestIssue | None = None
    skip_reason: str | None = None
    left_out: list[str] = field(default_factory=list)
    follows: str = ""

    @property
    def subject(self) -> str | None:
        """The subject line subscribers will see (None when skipped)."""
        return self.digest.subject if self.digest else None


def plan_digest(
    config: Config, store: Store, digest: DigestConfig, now: datetime, *, send_at: datetime | None = None,
    extra: list[Announcement] | None = None,
) -> DigestPlan:
    """The digest's next issue: its open recorded issue as recorded, else the selection and
    render it would get at `send_at` (default: its next scheduled run); `extra` adds what an
    ingestion run would bring now (the preview's dry run)."""
    scheduled_for = next_run([digest.schedule], config, now)
    moment = send_at or scheduled_for or now
    plan = DigestPlan(digest, moment, scheduled_for, store.subscribers.count_subscribers(digest.list),
                      follows=store.issues.digest_chain_tip(digest.name))
    issue = open_recorded_issue(store, digest)
    if issue is not None:
        plan.issue, plan.digest = issue, issue.digest
        plan.announcements = ordered_announcements(store, issue.digest.announcement_ids)
        return plan
    selection = select_announcements(store, config, digest, moment, extra=announced_now(store, extra or [], now))
    plan.announcements, plan.left_out, plan.skip_reason = selection.announcements, selection.left_out, (
        selection.skip_reason
    )
    if plan.skip_reason is None:
        plan.digest = render_digest(config, digest, selection.announcements, moment)
    return plan


def freeze_issue(
    store: Store, config: Config, digest: DigestConfig, now: datetime, *, record_skip: bool = True
) -> Digest | None:
    """Record the digest's plan at `now` as an issue (awaiting approval or approved), once.

    An unfinished issue of the same digest is returned as it was recorded, never re-selected.
    With too few announcements, nothing is recorded but (with `record_skip`) a skipped run
    giving the reason, and None is returned. Two racing freezes record one issue.
    """
    for _ in range(FREEZE_ATTEMPTS):
        plan = plan_digest(config, store, digest, now, send_at=now)
        if plan.issue is not None:
            return plan.issue.digest
        if plan.digest is None:
            if record_skip:
                run_id = store.runs.start_run(digest_job(digest), scheduled_for=now, now=now)
                counts = {"selected": len(plan.announcements), "min_items": digest.minimum_items}
                store.runs.finish_run(run_id, RunOutcome.SKIPPED, counts, plan.skip_reason, now=now)
            return None
        status = DigestIssueStatus.AWAITING_APPROVAL if digest.require_approval else DigestIssueStatus.APPROVED
        try:
            store.issues.create_digest_issue(plan.digest, status=status, follows=plan.follows, now=now)
        except StoreError:
            log.info("digest %s: another process recorded its issue first; planning again", digest.name)
            continue
        return plan.digest
    raise StoreError(f"digest {digest.name}: other processes kept recording issues while this one froze")


def ordered_announcements(store: Store, ids: list[str]) -> list[Announcement]:
    """The stored announcements with these ids, in the order of `ids`."""
    found = {a.id: a for a in store.announcements.get_announcements(ids)}
    return [found[i] for i in ids if i in found]


def announced_now(store: Store, announcements: list[Announcement], now: datetime) -> list[AnnouncedItem]:
    """What an ingestion run at `now` would announce, as eligible items (an update of a stored
    announcement keeps its revision)."""
    known = {item.announcement.id: item for item in store.announcements.announced_since(now - QUEUE_WINDOW, now=now)}
    items = []
    for announcement in announcements:
        stored = known.get(announcement.id)
        revision = stored.revision if stored else 0
        items.append(AnnouncedItem(announcement, stored.announced_at if stored else now, revision))
    return items


def cards_dir(config: Config) -> Path:
    """Where cards of queued posts are kept (they must outlive the run that drew them)."""
    return config.resolve(config.data_dir) / "cards"


def preview_cards_dir(config: Config) -> Path:
    """Where the review pages draw the cards of posts not queued yet."""
    return config.resolve(config.data_dir) / "preview-cards"


class PostState(StrEnum):
    """Where a planned post stands."""

    AWAITING_APPROVAL = "awaiting_approval"
    QUEUED = "pending"
    PLANNED = "planned"


@dataclass
class PlannedPost:
    """One post of a channel as it will go out: its ledger key, state, slot and not-before time."""

    post: Post
    key: str
    state: PostState
    slot: datetime | None = None
    not_before: datetime | None = None

    @property
    def parts(self) -> list[str]:
        """Every part of the post in order: the first post, then each thread reply."""
        return [self.post.text, *self.post.thread]


def holds_post(store: Store, channel: ChannelConfig, post: Post, extra: list[Announcement] | None = None) -> bool:
    """Whether `post` waits for a person's approval under the channel's `require_approval` rule
    (with `when_unsure`, when its announcement's extraction is weak); `extra` are unstored ones."""
    if isinstance(channel.require_approval, bool):
        return channel.require_approval
    fresh = next((a for a in extra or [] if a.id == post.announcement_id), None)
    return channel.holds(fresh or store.announcements.get_announcement(post.announcement_id))


def plan_channel(
    config: Config, store: Store, channel: ChannelConfig, now: datetime, *,
    extra: list[Announcement] | None = None, card_folder: Path | None = None,
    unfit: list[UnfitVariant] | None = None, queued_only: bool = False,
) -> list[PlannedPost]:
    """Every upcoming post of `channel`: awaiting approval, queued in the ledger, then those the
    next run would queue (not with `queued_only`: their slots come after the queued rows' anyway).
    Those in line get the channel's next slots, one post per slot, in the order the posting run
    takes them (the order they were queued); a row moved to a slot or rescheduled after a rate
    limit waits for its time and then goes first. Variants that fit in no post go to `unfit`,
    with the reason."""
    entries = [queued_entry(row) for row in Ledger(store).queued_posts(channel.name)]
    if not queued_only:
        entries += [
            PlannedPost(post, post.idempotency_key, PostState.PLANNED)
            for post in posts_to_queue(config, store, channel, now, extra=extra, card_folder=card_folder, unfit=unfit)
        ]
    in_line = [e for e in entries if e.state is PostState.QUEUED or (
        e.state is PostState.PLANNED and not holds_post(store, channel, e.post, extra))]
    assign_slots(config, channel, in_line, now)
    return entries


def queued_entry(row: Delivery) -> PlannedPost:
    """A ledger row as a planned post."""
    state = PostState.AWAITING_APPROVAL if row.status == DeliveryStatus.AWAITING_APPROVAL else PostState.QUEUED
    return PlannedPost(post_from_payload(row.payload), row.key, state, not_before=row.next_attempt_at)


def assign_slots(config: Config, channel: ChannelConfig, entries: list[PlannedPost], now: datetime) -> None:
    """Give each entry the first free slot after `now` that is not before its time: at each slot,
    an entry given a time (moved there, rescheduled) whose time has come goes first, else the
    oldest in line (as `Ledger.due` orders them)."""
    waiting = list(entries)
    slots = slot_times(config, channel.slots, now, len(waiting) * 4 + 4)
    for slot in slots:
        if slot is None or not waiting:
            break
        timed = (e for e in waiting if e.not_before is not None and e.not_before <= slot)
        ready = next(timed, None) or next((e for e in waiting if e.not_before is None), None)
        if ready is not None:
            ready.slot = slot
            waiting.remove(ready)


def posts_to_queue(
    config: Config, store: Store, channel: ChannelConfig, now: datetime, *,
    since: datetime | None = None, extra: list[Announcement] | None = None, card_folder: Path | None = None,
    unfit: list[UnfitVariant] | None = None,
) -> list[Post]:
    """Posts for announcements announced since `since` (default: a week) that have no ledger row
    yet, plus `extra` (what an ingestion run would announce now); an announcement that fails to
    compose is logged and skipped."""
    ledger = Ledger(store)
    items = {
        item.announcement.id: item for item in store.announcements.announced_since(since or now - QUEUE_WINDOW, now=now)
    }
    for item in announced_now(store, extra or [], now):
        items[item.announcement.id] = item
    posts: list[Post] = []
    for item in items.values():
        if not any(wants_row(ledger, item, variant, channel.name) for variant in channel.variants):
            continue
        try:
            composed = compose_posts(item.announcement, channel, config, cards_dir=card_folder or cards_dir(config),
                                     unfit=unfit)
        except (NewsletterError, OSError, ValueError) as error:
            log.error("channel %s: cannot compose posts for %s: %s", channel.name, item.announcement.id, error)
            continue
        for post in composed:
            if wants_row(ledger, item, post.variant, channel.name):
                post.variant = variant_key(post.variant, item.revision)
                posts.append(post)
    return posts
