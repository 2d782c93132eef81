"""Bounces and complaints applied to the store, whatever reported them (a DSN in the bounce
mailbox, SES through SNS, Brevo's webhook).

A hard bounce marks the subscriber bounced and suppresses the address; soft bounces are counted
and suppress it once `bounces.soft_threshold` of them occurred within `bounces.soft_window_days`;
a complaint takes the person off every list (for good), marks them complained and suppresses
the address; a provider's unsubscribe takes them off every list. Each report is recorded once
by its event id, so a report delivered twice is applied once.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from newsletter.config import Config
from newsletter.core.errors import ConfigError
from newsletter.core.models import BounceEvent, BounceKind, SubscriberStatus
from newsletter.publish.email.bounce_mailbox import BounceMailbox, imap_tls_context, mailbox_password
from newsletter.publish.email.bounce_reports import NotAReport, read_report
from newsletter.store import Store
from newsletter.store.bounces import RecordedBounce

log = logging.getLogger(__name__)

ACTOR = "bounces"


class Effect(StrEnum):
    """What applying one report did."""

    DUPLICATE = "duplicate"  # already applied before
    SUPPRESSED = "suppressed"  # hard bounce, or soft bounces past the threshold: bounced and suppressed
    COUNTED = "counted"  # a soft bounce below the threshold
    COMPLAINED = "complained"  # off every list, complained and suppressed
    UNSUBSCRIBED = "unsubscribed"  # off every list


SUPPRESSION_REASONS = {BounceKind.HARD: "hard_bounce", BounceKind.SOFT: "soft_bounces",
                       BounceKind.COMPLAINT: "complaint"}


@dataclass(frozen=True)
class BounceResult:
    """One report and what it did; `subscriber_id` is None when the address is no subscriber's."""

    event: BounceEvent
    effect: Effect
    subscriber_id: int | None = None
    soft_bounces: int = 0

    def describe(self) -> str:
        """One line for the command's report (the address as reported)."""
        if self.effect is Effect.DUPLICATE:
            return f"{self.event.kind} {self.event.recipient}: already applied"
        who = self.event.recipient if self.subscriber_id is not None else f"{self.event.recipient} (not a subscriber)"
        counted = f" ({self.soft_bounces} soft bounce(s))" if self.event.kind is BounceKind.SOFT else ""
        return f"{self.event.kind} {who}: {self.effect}{counted}"


@dataclass
class MailboxRun:
    """What one reading of the bounce mailbox did: the reports applied, and the messages left
    in the mailbox (not reports, or unreadable) with why."""

    results: list[BounceResult] = field(default_factory=list)
    left: list[str] = field(default_factory=list)

    @property
    def applied(self) -> int:
        """Reports applied by this run (not those applied before)."""
        return sum(result.effect is not Effect.DUPLICATE for result in self.results)

    def counts(self) -> dict[str, int]:
        """Reports by effect, and messages left, for the run history."""
        effects = Counter(str(result.effect) for result in self.results)
        return {**dict(sorted(effects.items())), "left": len(self.left)}


def return_paths(config: Config) -> list[str]:
    """The envelope senders our mail goes out with (digests and alerts): bounces come back to
    them, or to their VERP forms."""
    return sorted({digest.from_address for digest in config.digests} | {config.alerts.from_address})


def fetch_bounce_mailbox(config: Config, store: Store, now: datetime) -> MailboxRun:
    """Apply every report in the bounce mailbox (`bounces.imap`), moving each to the processed
    folder once applied; a message that is not a report, or cannot be read, stays where it is."""
    settings = config.bounces.imap
    if settings is None:
        raise ConfigError(["bounces.imap: no bounce mailbox is configured"])
    run = MailboxRun()
    senders = return_paths(config)
    with BounceMailbox(settings, mailbox_password(settings), imap_tls_context(settings, config.resolve)) as mailbox:
        for uid, raw in mailbox.messages():
            try:
                events = read_report(raw, senders)
            except NotAReport as error:
                run.left.append(f"message {uid}: {error}")
                continue
            except Exception as error:  # one unreadable message never stops the others
                log.exception("bounce mailbox message %s cannot be read", uid)
                run.left.append(f"message {uid}: cannot be read ({type(error).__name__}: {error})")
                continue
            run.results.extend(apply_bounces(config, store, events, now))
            mailbox.archive(uid)
    return run


def apply_bounces(config: Config, store: Store, events: Iterable[BounceEvent], now: datetime) -> list[BounceResult]:
    """Apply each report in turn (see `apply_bounce`)."""
    return [apply_bounce(config, store, event, now) for event in events]


def apply_bounce(config: Config, store: Store, event: BounceEvent, now: datetime) -> BounceResult:
    """Record one report and apply it to the subscriber and the suppression list, once."""
    recorded = store.bounces.record(event, now)
    if recorded is None:
        return BounceResult(event, Effect.DUPLICATE)
    if event.kind is BounceKind.SOFT:
        result = _soft_bounce(config, store, event, recorded, now)
    elif event.kind is BounceKind.HARD:
        result = _suppress(store, event, recorded, SubscriberStatus.BOUNCED, now)
    elif event.kind is BounceKind.COMPLAINT:
        _leave_every_list(store, recorded, now)
        result = _suppress(store, event, recorded, SubscriberStatus.COMPLAINED, now)
    else:
        _leave_every_list(store, recorded, now)
        result = BounceResult(event, Effect.UNSUBSCRIBED, recorded.subscriber_id)
    if recorded.subscriber_id is not None and result.effect is not Effect.COUNTED:
        store.audit.record_action(ACTOR, f"subscriber.{result.effect}", f"subscriber:{recorded.subscriber_id}",
                                  {"source": event.source, "kind": str(event.kind), "event": event.event_id,
                                   "diagnostic": event.diagnostic}, now=now)
    store.bounces.mark_applied(event.event_id, now)
    return result


def _soft_bounce(config: Config, store: Store, event: BounceEvent, recorded: RecordedBounce,
                 now: datetime) -> BounceResult:
    """Count the soft bounce; past the threshold the address is treated as a hard bounce."""
    since = now - timedelta(days=config.bounces.soft_window_days)
    count = store.bounces.soft_bounces(event.recipient, since)
    if count < config.bounces.soft_threshold:
        return BounceResult(event, Effect.COUNTED, recorded.subscriber_id, count)
    suppressed = _suppress(store, event, recorded, SubscriberStatus.BOUNCED, now)
    return BounceResult(event, suppressed.effect, recorded.subscriber_id, count)


def _suppress(store: Store, event: BounceEvent, recorded: RecordedBounce, status: SubscriberStatus,
              now: datetime) -> BounceResult:
    """Suppress the address and give the subscriber `status` (a complaint is never downgraded
    to a bounce)."""
    store.subscribers.add_suppression(event.recipient, SUPPRESSION_REASONS[event.kind], now=now)
    if recorded.subscriber_id is not None:
        current = store.subscribers.subscriber_statuses([recorded.subscriber_id]).get(recorded.subscriber_id)
        if current != SubscriberStatus.COMPLAINED:
            store.subscribers.set_subscriber_status(event.recipient, status, now=now)
    effect = Effect.COMPLAINED if status is SubscriberStatus.COMPLAINED else Effect.SUPPRESSED
    return BounceResult(event, effect, recorded.subscriber_id)


def _leave_every_list(store: Store, recorded: RecordedBounce, now: datetime) -> None:
    if recorded.subscriber_id is not None:
        store.subscribers.leave_every_list(recorded.subscriber_id, now)
