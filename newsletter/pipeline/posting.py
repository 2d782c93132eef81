"""The posting stage: queue composed posts in the ledger, then publish what is due, one slot at a time.

`queue_posts` composes the posts of newly announced announcements (those that became eligible,
`announced_at`, within the window) for every channel and stores each as a ledger row keyed by
`Post.idempotency_key` (pending, or awaiting_approval when the channel requires approval). A
re-announced update (source `announce_updates: true`) gets its own key: the variant carries a
revision suffix (`post:<id>:quote~r1:<channel>`), and only where no earlier post of that
variant is still queued (a queued post is re-rendered in place instead, see
`newsletter.pipeline.revisions`). `post_due` claims at most the slot's share of a channel's due rows
and publishes them, handling faults:

- 429: wait until the reset when it is close (`max_wait`), else reschedule the row at the reset;
- 5xx, refused connections, timeouts the service deduplicates: retried with backoff, then left
  pending for the next slot;
- 401/403: the channel is paused with one clear reason (channel and env vars); the row goes back
  to pending untouched (`newsletter channels resume NAME` lifts the pause);
- duplicate-content rejection: recorded as sent;
- a thread is sent part by part, each part's provider id recorded in the row as soon as it is
  accepted: any later attempt resumes after the recorded parts, never re-sending one;
- a post whose request may have gone out (an answer lost, a crash): `uncertain`; every later
  attempt first asks the publisher to check the service (X: the account's recent posts;
  Mastodon: the same Idempotency-Key; Bluesky: the record key derived from the ledger key), so
  it is resumed without a second create; `newsletter posts settle` and `posts delete` (which
  retracts every accepted part, the row then `deleted`) remain for a person.
Dry runs write to the outbox folder and never touch the ledger.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from newsletter.config import Config
from newsletter.core.errors import ConfigError, NewsletterError, PublishError
from newsletter.core.keys import base_variant
from newsletter.core.models import (
    POSTS_PER_SLOT,
    Announcement,
    Delivery,
    DeliveryKind,
    DeliveryStatus,
    Post,
    post_from_payload,
    post_to_payload,
)
from newsletter.pipeline.wanted import channels_wanting_posts
from newsletter.plugins import publisher_class
from newsletter.publish.base import ChannelConfig, Published, Publisher
from newsletter.publish.faults import AlreadyPosted, AuthFailed, RateLimited, Transient, Uncertain, Unconfirmed
from newsletter.store import Store
from newsletter.store.ledger import Ledger, PendingRow

log = logging.getLogger(__name__)

S = DeliveryStatus
DEFAULT_MAX_WAIT = 60.0
RETRY_ATTEMPTS = 3
RETRY_WAIT_MAX = 30.0


@dataclass
class PostReport:
    """What one `post_due` run did for one channel (keys of the ledger rows)."""

    channel: str
    sent: list[str] = field(default_factory=list)
    rescheduled: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    uncertain: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    written: list[Path] = field(default_factory=list)
    paused: str | None = None
    errors: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """Counts per outcome, for run records."""
        outcomes = ("sent", "rescheduled", "failed", "uncertain", "skipped", "written")
        return {name: len(getattr(self, name)) for name in outcomes}


def channel_config(config: Config, name: str) -> ChannelConfig:
    """The channel called `name`; ConfigError lists the configured ones."""
    for channel in config.channels:
        if channel.name == name:
            return channel
    valid = ", ".join(c.name for c in config.channels) or "none"
    raise ConfigError([f"channels: no channel named {name!r} (configured: {valid})"])


_publishers: dict[str, Publisher] = {}


def make_publisher(channel: ChannelConfig) -> Publisher:
    """The publisher for a channel, from its type, kept for the process (per channel config): the
    daemon and the review app reuse its sessions, so Bluesky logs in once, not at every slot."""
    identity = channel.model_dump_json()
    publisher = _publishers.get(identity)
    if publisher is None:
        publisher = _publishers[identity] = publisher_class(channel.type)(channel)
    return publisher


def forget_publishers(channel: ChannelConfig | None = None) -> None:
    """Drop the kept publisher of `channel` (every one with None): its credentials were refused."""
    if channel is None:
        _publishers.clear()
    else:
        _publishers.pop(channel.model_dump_json(), None)


def recompose_queued(config: Config, announcement: Announcement, row: Delivery) -> Post | None:
    """A queued post composed afresh from `announcement`, keeping its variant key; None when the
    announcement can no longer fill that variant."""
    from newsletter.compose.social import compose_posts
    from newsletter.pipeline.plan import cards_dir

    posts = compose_posts(announcement, channel_config(config, row.target), config, cards_dir=cards_dir(config))
    variant = str(row.payload.get("variant", ""))
    fresh = next((post for post in posts if post.variant == base_variant(variant)), None)
    return None if fresh is None else replace(fresh, variant=variant)


def queue_posts(config: Config, store: Store, now: datetime, *, since: datetime | None = None) -> dict[str, int]:
    """Create ledger rows for the new posts of every channel; returns how many per channel (the
    composer is loaded only when some announcement still needs a post)."""
    ledger = Ledger(store)
    created = {channel.name: 0 for channel in config.channels}
    wanting = channels_wanting_posts(config, store, now, since)
    if not wanting:
        return created
    from newsletter.pipeline.plan import holds_post, posts_to_queue

    for channel in (c for c in config.channels if c.name in wanting):
        by_status: dict[DeliveryStatus, list[PendingRow]] = {}
        for post in posts_to_queue(config, store, channel, now, since=since):
            status = S.AWAITING_APPROVAL if holds_post(store, channel, post) else S.PENDING
            by_status.setdefault(status, []).append(
                (post.idempotency_key, str(DeliveryKind.POST), channel.name, post_to_payload(post))
            )
        created[channel.name] = sum(
            ledger.ensure_pending(rows, status=status, now=now) for status, rows in by_status.items()
        )
    return created


class ThreadProgress:
    """The parts of one post the service accepted so far, recorded in its ledger row as each
    is accepted, so an interrupted thread resumes after them and never re-sends one."""

    def __init__(self, ledger: Ledger, key: str, row: Delivery):
        self.ledger = ledger
        self.key = key
        self.ids = [part for part in (row.provider_id or "").split(",") if part]
        self.url = row.provider_url
        self.verify = row.attempts > 1 or bool(self.ids)

    @property
    def provider_id(self) -> str | None:
        """The accepted parts' ids, comma-joined (None before the first)."""
        return ",".join(self.ids) or None

    def accepted(self, part: Published) -> None:
        """Record one more accepted part (committed before the next is sent)."""
        self.ids.append(part.provider_id)
        self.url = self.url or part.url
        self.ledger.record_parts(self.key, self.ids, self.url)


class PostRunner:
    """Publishes the due posts of one channel with the fault handling described above."""

    def __init__(
        self, config: Config, store: Store, channel: ChannelConfig, publisher: Publisher, *,
        sleep: Callable[[float], None] = time.sleep, max_wait: float = DEFAULT_MAX_WAIT,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        self.config = config
        self.store = store
        self.ledger = Ledger(store)
        self.channel = channel
        self.publisher = publisher
        self.sleep = sleep
        self.max_wait = max_wait
        self.clock = clock

    def run(self, rows: list[Delivery], now: datetime, report: PostReport) -> None:
        """Claim and publish each row, stopping early when the channel gets paused."""
        for row in rows:
            if report.paused:
                break
            if self.store.announcements.is_withdrawn(row.payload.get("announcement_id", "")):
                self.ledger.mark_skipped(row.key, "announcement withdrawn", now=now)
                report.skipped.append(row.key)
                continue
            if not self.ledger.claim(row.key, now, resume_uncertain=True):
                continue
            self._publish_claimed(row, now, report)

    def _publish_claimed(self, row: Delivery, now: datetime, report: PostReport) -> None:
        """Publish one claimed row and record the outcome in the ledger and the report."""
        key = row.key
        thread = ThreadProgress(self.ledger, key, row)
        try:
            published = self._send(post_from_payload(row.payload), thread)
        except AlreadyPosted as error:
            self.ledger.mark_sent(key, thread.provider_id, thread.url, now=now)
            report.sent.append(key)
            log.info("%s", error)
        except RateLimited as error:
            when = error.reset_at or now + timedelta(minutes=15)
            self._retry(key, str(error), when, now, report)
        except (Uncertain, Unconfirmed) as error:
            self.ledger.mark_uncertain(key, str(error), now=now)
            report.uncertain.append(key)
            report.errors.append(str(error))
        except Transient as error:
            self._retry(key, str(error), now, now, report)
        except AuthFailed as error:
            forget_publishers(self.channel)
            self.ledger.release(key, str(error), now=now)
            self.store.audit.set_channel_paused(self.channel.name, True, str(error), now=now)
            report.paused = str(error)
            report.errors.append(str(error))
        except PublishError as error:
            self.ledger.mark_failed(key, str(error), now=now)
            report.failed.append(key)
            report.errors.append(str(error))
        except Exception as error:  # a bug mid-request: the post may have gone out
            self.ledger.mark_uncertain(key, f"unexpected {type(error).__name__}: {error}", now=now)
            report.uncertain.append(key)
            report.errors.append(f"{key}: unexpected {type(error).__name__}: {error}")
        else:
            self.ledger.mark_sent(key, published.provider_id, thread.url or published.url, now=now)
            report.sent.append(key)

    def _send(self, post: Post, thread: ThreadProgress) -> Published:
        """Publish with backoff on transient faults and one wait on a near rate-limit reset."""
        try:
            return self._with_backoff(post, thread)
        except RateLimited as error:
            wait = (error.reset_at - self.clock()).total_seconds() if error.reset_at else None
            if wait is None or wait > self.max_wait:
                raise
            self.sleep(max(wait, 0.0) + 1.0)
            return self._with_backoff(post, thread)

    def _with_backoff(self, post: Post, thread: ThreadProgress) -> Published:
        """Publish, retrying transient faults with exponential backoff (the injected sleeper waits);
        every attempt after a row's first checks the service before creating anything."""
        retrying = Retrying(
            stop=stop_after_attempt(RETRY_ATTEMPTS),
            wait=wait_exponential(multiplier=1, max=RETRY_WAIT_MAX),
            retry=retry_if_exception_type(Transient),
            sleep=self.sleep,
            reraise=True,
        )
        return retrying(self._attempt, post, thread)

    def _attempt(self, post: Post, thread: ThreadProgress) -> Published:
        """One publish attempt resuming after the parts already accepted."""
        try:
            return self.publisher.publish(post, idempotency_key=thread.key, done=tuple(thread.ids),
                                          on_part=thread.accepted, verify=thread.verify)
        finally:
            thread.verify = True

    def _retry(self, key: str, error: str, when: datetime, now: datetime, report: PostReport) -> None:
        """Reschedule a claimed row at `when` (failed once its attempts are used up)."""
        status = self.ledger.mark_retry(key, error, when, now=now)
        (report.failed if status == S.FAILED else report.rescheduled).append(key)
        report.errors.append(error)


def due_rows(store: Store, channel: str, now: datetime, limit: int) -> list[Delivery]:
    """The oldest due post rows of `channel`: pending ones, and uncertain ones to resume after a check."""
    return Ledger(store).due(DeliveryKind.POST, channel, now, limit, resume_uncertain=True)


def post_due(
    config: Config, store: Store, channel_name: str, now: datetime, *, dry_run: bool = False,
    limit: int = POSTS_PER_SLOT, publisher: Publisher | None = None,
    sleep: Callable[[float], None] = time.sleep, max_wait: float = DEFAULT_MAX_WAIT,
) -> PostReport:
    """Publish at most `limit` due posts of one channel (one slot's share), after settling the
    claims of dead processes, alerting when the channel gets paused (every posting command comes
    here); with `dry_run`, write them (and the posts not queued yet) to the outbox instead."""
    channel = channel_config(config, channel_name)
    if dry_run:
        return _dry_run(config, store, channel, now, limit, PostReport(channel.name))
    return _publish_rows(config, store, channel, now, lambda: due_rows(store, channel.name, now, limit),
                         publisher=publisher, sleep=sleep, max_wait=max_wait)


def post_one(
    config: Config, store: Store, key: str, now: datetime, *, publisher: Publisher | None = None,
    sleep: Callable[[float], None] = time.sleep, max_wait: float = 0.0,
) -> PostReport:
    """Publish one queued (or uncertain, checked first) post at once, whatever its slot: the
    review app's "post now", with the same recovery, fault handling and alerts as `post_due`."""
    ledger = Ledger(store)
    row = ledger.get(key)
    if row is None or row.kind != str(DeliveryKind.POST):
        raise NewsletterError(f"no post with id {key!r} (see `newsletter posts list`)")
    channel = channel_config(config, row.target)

    def the_row() -> list[Delivery]:
        ledger.bring_forward(key, now)
        fresh = ledger.get(key)
        if fresh is None or fresh.status not in (S.PENDING, S.UNCERTAIN):
            raise NewsletterError(f"post {key} is {fresh.status if fresh else 'gone'}: nothing to post")
        return [fresh]

    return _publish_rows(config, store, channel, now, the_row, publisher=publisher, sleep=sleep, max_wait=max_wait)


def _publish_rows(
    config: Config, store: Store, channel: ChannelConfig, now: datetime, rows: Callable[[], list[Delivery]], *,
    publisher: Publisher | None, sleep: Callable[[float], None], max_wait: float,
) -> PostReport:
    """Recover dead claims, then publish `rows()` unless the channel is paused; alert when it gets paused."""
    report = PostReport(channel.name)
    paused, reason = store.audit.channel_pause(channel.name)
    if paused:
        report.paused = reason or "paused"
        return report
    Ledger(store).recover_dead_claims(now)
    due = rows()
    if due:
        runner = PostRunner(config, store, channel, publisher or make_publisher(channel), sleep=sleep,
                            max_wait=max_wait)
        runner.run(due, now, report)
    if report.paused:
        from newsletter.runtime.alerts import channel_paused  # the alert transport loads only when needed

        channel_paused(config, channel.name, report.paused)
    return report


def _dry_run(
    config: Config, store: Store, channel: ChannelConfig, now: datetime, limit: int, report: PostReport
) -> PostReport:
    """Write what the plan would post now to `<outbox>/posts/<channel>/`."""
    from newsletter.pipeline.plan import PostState, holds_post, plan_channel
    from newsletter.publish.outbox import OutboxPublisher

    outbox_dir = config.resolve(config.outbox_dir)
    outbox = OutboxPublisher(outbox_dir)
    entries = plan_channel(config, store, channel, now, card_folder=outbox_dir / "cards")
    due = [e for e in entries if e.state is PostState.QUEUED and (e.not_before is None or e.not_before <= now)]
    due += [e for e in entries if e.state is PostState.PLANNED and not holds_post(store, channel, e.post)]
    for entry in due[:limit]:
        published = outbox.publish(entry.post, idempotency_key=entry.key)
        report.written.append(Path(published.url.removeprefix("file://")) if published.url else outbox_dir)
    return report


def resume_channel(store: Store, channel: str, now: datetime) -> str | None:
    """Lift a channel's pause; returns the reason it was paused (None if it was not)."""
    paused, reason = store.audit.channel_pause(channel)
    store.audit.set_channel_paused(channel, False, now=now)
    return reason if paused else None


def delete_post(
    config: Config, store: Store, key: str, *, publisher: Publisher | None = None, actor: str = "cli"
) -> Delivery:
    """Retract every accepted part of a post (a whole thread, or what a cut one published), last
    first, each recorded as it goes (recorded as `actor`'s action); the row ends `deleted`, never
    posted again. Refused while a process is sending it."""
    ledger = Ledger(store)
    row = ledger.get(key)
    if row is None or row.kind != str(DeliveryKind.POST):
        raise NewsletterError(f"no post with id {key!r} (see `newsletter posts list`)")
    parts = [part for part in (row.provider_id or "").split(",") if part]
    if row.status == S.CLAIMED or not parts:
        missing = "" if parts else " without a provider id"
        raise NewsletterError(f"post {key} is {row.status}{missing}: nothing to delete")
    service = publisher or make_publisher(channel_config(config, row.target))
    while parts:
        service.delete(parts[-1])
        parts.pop()
        ledger.record_retracted(key, parts)
    store.audit.record_action(actor, "post.delete", key, {"provider_id": row.provider_id, "url": row.provider_url})
    return row


def settle_post(store: Store, key: str, *, sent: bool, now: datetime, actor: str = "cli") -> None:
    """`actor`'s verdict on an uncertain post: it went out (its known part ids kept, for
    `delete_post`), or it may be posted again, resuming after its accepted parts."""
    Ledger(store).resolve_uncertain(key, sent=sent, now=now)
    store.audit.record_action(actor, "post.settle", key, {"sent": sent}, now=now)


def posts_in_doubt(store: Store, limit: int = 200) -> list[Delivery]:
    """Posts being sent (claimed) or whose outcome is unknown (uncertain), for `status` and the review app."""
    return Ledger(store).list_deliveries(status=[S.CLAIMED, S.UNCERTAIN], kind=str(DeliveryKind.POST), limit=limit)


def list_posts(store: Store, *, status: DeliveryStatus | None = None, channel: str | None = None,
               limit: int = 200) -> list[Delivery]:
    """Post rows of the ledger, oldest first, by status and channel."""
    rows = Ledger(store).list_deliveries(status=status, kind=str(DeliveryKind.POST), limit=limit)
    return [row for row in rows if channel is None or row.target == channel]
