"""Bounce and complaint events reported by email providers, as `BounceEvent`s: Amazon SES
notifications (the `Message` of an SNS notification) and Brevo's event webhook.

SES: a Bounce whose bounceType is Permanent is hard, Transient or Undetermined soft; a
Complaint is a complaint; Delivery (and any other type) is not about a bounce. Brevo:
hard_bounce, invalid_email and blocked (Brevo refused to send to a blocklisted address) are
hard, soft_bounce soft, spam or complaint a complaint, unsubscribed the provider's unsubscribe;
delivered, opened, click… are not about a bounce. Each event gets an id from the provider's
own (SES feedbackId, Brevo message-id and event time), so a redelivered event is applied once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from newsletter.core.models import BounceEvent, BounceKind

SES = "ses"
BREVO = "brevo"
SES_BOUNCE_TYPES = {"Permanent": BounceKind.HARD, "Transient": BounceKind.SOFT, "Undetermined": BounceKind.SOFT}
BREVO_KINDS = {
    "hardbounce": BounceKind.HARD, "invalidemail": BounceKind.HARD, "invalid": BounceKind.HARD,
    "blocked": BounceKind.HARD, "softbounce": BounceKind.SOFT, "spam": BounceKind.COMPLAINT,
    "complaint": BounceKind.COMPLAINT, "unsubscribed": BounceKind.UNSUBSCRIBE, "unsubscribe": BounceKind.UNSUBSCRIBE,
}


@dataclass
class ProviderEvents:
    """What one webhook delivery reports: the bounce events, the events that are about
    something else (ignored), and those that cannot be read, each with why."""

    events: list[BounceEvent] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)


def ses_events(notification: Any, fallback_id: str) -> ProviderEvents:
    """The events of one SES notification (`notificationType`, or `eventType` for a
    configuration set's event publishing); `fallback_id` (the SNS MessageId) names them when
    SES gives no feedbackId."""
    found = ProviderEvents()
    if not isinstance(notification, dict):
        found.unreadable.append(f"SES notification {fallback_id}: not a JSON object")
        return found
    kind = notification.get("notificationType") or notification.get("eventType")
    if kind == "Bounce":
        report, recipients_key = notification.get("bounce"), "bouncedRecipients"
    elif kind == "Complaint":
        report, recipients_key = notification.get("complaint"), "complainedRecipients"
    else:
        found.ignored.append(f"SES {kind or 'notification without a type'} {fallback_id}")
        return found
    if not isinstance(report, dict) or not isinstance(report.get(recipients_key), list):
        found.unreadable.append(f"SES {kind} {fallback_id}: no {recipients_key}")
        return found
    event_kind = BounceKind.COMPLAINT if kind == "Complaint" else SES_BOUNCE_TYPES.get(str(report.get("bounceType")))
    if event_kind is None:
        found.unreadable.append(f"SES Bounce {fallback_id}: unknown bounceType {report.get('bounceType')!r}")
        return found
    base = f"{SES}:{report.get('feedbackId') or fallback_id}"
    occurred = _iso_time(report.get("timestamp"))
    for recipient in report[recipients_key]:
        address = recipient.get("emailAddress") if isinstance(recipient, dict) else None
        if not isinstance(address, str) or "@" not in address:
            found.unreadable.append(f"SES {kind} {fallback_id}: a recipient without an address")
            continue
        address = address.strip().lower()
        found.events.append(BounceEvent(f"{base}:{address}", SES, event_kind, address,
                                        _ses_diagnostic(kind, report, recipient), occurred))
    return found


def _ses_diagnostic(kind: str, report: dict[str, Any], recipient: dict[str, Any]) -> str:
    """What SES says went wrong: the status, diagnostic code and bounce type, or the complaint's type."""
    if kind == "Complaint":
        return f"feedback-type: {report.get('complaintFeedbackType') or 'abuse'}"
    bounce_type = f"({report.get('bounceType')}/{report.get('bounceSubType') or 'General'})"
    return " ".join(str(part) for part in (recipient.get("status"), recipient.get("diagnosticCode"), bounce_type)
                    if part)


def brevo_events(payload: Any) -> ProviderEvents:
    """The events of one Brevo webhook delivery: one event object, or a list of them (batched)."""
    found = ProviderEvents()
    items: Iterable[Any] = payload if isinstance(payload, list) else [payload]
    for index, item in enumerate(items):
        _brevo_event(item, index, found)
    return found


def _brevo_event(item: Any, index: int, found: ProviderEvents) -> None:
    """Add one Brevo event to `found`, as an event, ignored or unreadable."""
    if not isinstance(item, dict):
        found.unreadable.append(f"Brevo event {index}: not a JSON object")
        return
    name = str(item.get("event") or "")
    kind = BREVO_KINDS.get(name.replace("_", "").lower())
    if kind is None:
        found.ignored.append(f"Brevo {name or 'event without a name'}")
        return
    address = item.get("email")
    if not isinstance(address, str) or "@" not in address:
        found.unreadable.append(f"Brevo {name} event {index}: no email address")
        return
    address = address.strip().lower()
    moment = item.get("ts_event") or item.get("ts") or item.get("date") or ""
    event_id = f"{BREVO}:{name}:{address}:{item.get('message-id') or item.get('id') or ''}:{moment}"
    diagnostic = " ".join(str(item[key]) for key in ("reason", "tag") if item.get(key))
    found.events.append(BounceEvent(event_id, BREVO, kind, address, f"{name} {diagnostic}".strip(),
                                    _epoch_time(item.get("ts_event") or item.get("ts"))))


def _iso_time(value: Any) -> datetime | None:
    """An ISO 8601 time such as SES gives (`2026-01-27T14:59:38.237Z`), or None."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _epoch_time(value: Any) -> datetime | None:
    """A Unix time in seconds such as Brevo gives, or None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        return None
