"""Bounces and complaints applied to the store, whatever reported them (a DSN in the bounce
mailbox, SES through SNS, Brevo's webhook).

A hard bounce marks the subscriber bounced and suppresses the address; soft bounces are counted
and suppress it once `bounces.soft_threshold` of them occurred within `bounces.soft_window_days`;
a complaint takes the person off every list (for good), marks them complained and suppresses
the address; a provider's unsubscribe takes them off every list. Each report is recorded once
by its event id, so a report delivered twice is applied once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from newsletter.config import Config
from newsletter.core.models import BounceEvent, BounceKind, SubscriberStatus
from newsletter.store import Store
from newsletter.store.bounces import RecordedBounce

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
        who = self.event.recipient if self.subscriber_id is not None else f"{self.event.recipient} (not a subscriber)"
        counted = f" ({self.soft_bounces} soft bounce(s))" if self.event.kind is BounceKind.SOFT else ""
        return f"{self.event.kind} {who}: {self.effect}{counted}"


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
