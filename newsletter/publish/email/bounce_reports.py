"""Bounce reports read from mail: delivery status notifications (RFC 3464, and the formats
flufl.bounce recognises, such as Exchange's) and complaints (ARF, RFC 5965), as `BounceEvent`s.

The recipient is the one the VERP envelope address names (`verp_recipient`) when the report
came back to one, else the address the report gives (its Final- or Original-Recipient).
A DSN status 5.x.x is a hard bounce and 4.x.x a soft one; without a status, flufl.bounce's
permanent or temporary verdict decides.
"""

from __future__ import annotations

import email
import hashlib
from collections.abc import Iterator, Sequence
from datetime import datetime
from email import policy
from email.message import Message
from email.utils import parseaddr, parsedate_to_datetime

from flufl.bounce import all_failures

from newsletter.core.errors import NewsletterError
from newsletter.core.models import BounceEvent, BounceKind
from newsletter.publish.email.smtp import verp_recipient

SOURCE = "imap"
ENVELOPE_HEADERS = ("X-Original-To", "Delivered-To", "Envelope-To", "To")


class NotAReport(NewsletterError):
    """The message is neither a bounce nor a complaint (left in the mailbox for a person)."""


def read_report(raw: bytes, return_paths: Sequence[str]) -> list[BounceEvent]:
    """The bounce or complaint events one message reports; NotAReport if it reports none.
    `return_paths` are the envelope senders our mail goes out with (the digests' from
    addresses), whose VERP forms name the recipient."""
    message = email.message_from_bytes(raw, policy=policy.compat32)
    try:
        return _events(message, raw, return_paths)
    except NotAReport as error:
        sender = parseaddr(message.get("From") or "")[1] or "no sender"
        subject = " ".join(str(message.get("Subject") or "").split())
        raise NotAReport(f"{subject!r} from {sender}: {error}") from None


def _events(message: Message, raw: bytes, return_paths: Sequence[str]) -> list[BounceEvent]:
    """`read_report` on the parsed message."""
    event_base = f"{SOURCE}:{_message_id(message, raw)}"
    verp = _verp_target(message, return_paths)
    occurred = _date(message.get("Date"))
    feedback = _feedback_report(message)
    if feedback is not None:
        recipient = verp or _complained_recipient(feedback, message, return_paths)
        if recipient is None:
            raise NotAReport("a complaint (ARF report) that names no recipient")
        diagnostic = f"feedback-type: {feedback.get('Feedback-Type', 'abuse').strip()}"
        return [BounceEvent(f"{event_base}:{recipient}", SOURCE, BounceKind.COMPLAINT, recipient, diagnostic, occurred)]
    return _bounces(message, event_base, verp, occurred)


def _bounces(message: Message, event_base: str, verp: str | None, occurred: datetime | None) -> list[BounceEvent]:
    """The DSN's failed or delayed recipients, each hard or soft."""
    temporary, permanent = all_failures(message)
    found = {address.decode("ascii").lower(): BounceKind.HARD for address in permanent}
    found.update({address.decode("ascii").lower(): BounceKind.SOFT for address in temporary - permanent})
    if not found:
        raise NotAReport("no failed or delayed recipient found (not a delivery status notification)")
    statuses = dict(_recipient_statuses(message))
    kinds = {address: _kind(statuses.get(address, ("", ""))[0], verdict) for address, verdict in found.items()}
    if verp is not None:  # a VERP report is about the one recipient its address names
        status, diagnostic = statuses.get(verp) or next(iter(statuses.values()), ("", ""))
        kind = BounceKind.HARD if BounceKind.HARD in kinds.values() else BounceKind.SOFT
        return [BounceEvent(f"{event_base}:{verp}", SOURCE, kind, verp, _detail(status, diagnostic), occurred)]
    return [
        BounceEvent(f"{event_base}:{address}", SOURCE, kind, address, _detail(*statuses.get(address, ("", ""))),
                    occurred)
        for address, kind in sorted(kinds.items())
    ]


def _detail(status: str, diagnostic: str) -> str:
    """What the report says went wrong: its status and diagnostic code."""
    return " ".join(part for part in (status, diagnostic) if part)


def _kind(status: str, verdict: BounceKind) -> BounceKind:
    """Hard for a 5.x.x status, soft for 4.x.x, else flufl.bounce's verdict."""
    if status.startswith("5."):
        return BounceKind.HARD
    if status.startswith("4."):
        return BounceKind.SOFT
    return verdict


def _recipient_statuses(message: Message) -> Iterator[tuple[str, tuple[str, str]]]:
    """(recipient, (status, diagnostic code)) of each per-recipient block of the DSN."""
    for block in _enclosed(message, "message/delivery-status"):
        address = _typed_address(block.get("Final-Recipient") or block.get("Original-Recipient") or "")
        if address:
            status = (block.get("Status") or "").split()[0] if block.get("Status") else ""
            diagnostic = " ".join((block.get("Diagnostic-Code") or "").split())
            yield address, (status, diagnostic)


def _enclosed(message: Message, content_type: str) -> Iterator[Message]:
    """The header blocks or messages enclosed in the parts of this type (a DSN's per-recipient
    blocks, an ARF report's fields, an original message)."""
    for part in message.walk():
        if part.get_content_type() == content_type:
            payload = part.get_payload()
            items = payload if isinstance(payload, list) else [email.message_from_string(str(payload or ""))]
            yield from (item for item in items if isinstance(item, Message))


def _typed_address(field: str) -> str:
    """The address of a DSN field such as `rfc822; jeanne@example.org`, lower-cased."""
    value = field.split(";", 1)[-1].strip()
    return parseaddr(value)[1].lower() or value.strip("<>").lower()


def _feedback_report(message: Message) -> Message | None:
    """The machine-readable part of an ARF complaint, or None when the message is not one."""
    return next(_enclosed(message, "message/feedback-report"), None)


def _complained_recipient(report: Message, message: Message, return_paths: Sequence[str]) -> str | None:
    """Who complained: the VERP form of the original envelope sender, else Original-Rcpt-To,
    else the To of the original message enclosed."""
    original_sender = parseaddr(report.get("Original-Mail-From") or "")[1]
    from_verp = _verp_of(original_sender, return_paths)
    if from_verp:
        return from_verp
    rcpt_to = parseaddr(report.get("Original-Rcpt-To") or "")[1]
    if rcpt_to:
        return rcpt_to.lower()
    for original in _enclosed(message, "message/rfc822"):
        address = parseaddr(original.get("To") or "")[1]
        if address:
            return address.lower()
    return None


def _verp_target(message: Message, return_paths: Sequence[str]) -> str | None:
    """The recipient named by the VERP address the report was delivered to, if any."""
    for header in ENVELOPE_HEADERS:
        for value in message.get_all(header) or []:
            found = _verp_of(parseaddr(str(value))[1], return_paths)
            if found:
                return found
    return None


def _verp_of(address: str, return_paths: Sequence[str]) -> str | None:
    for return_path in return_paths:
        found = verp_recipient(address, return_path) if address else None
        if found:
            return found.lower()
    return None


def _message_id(message: Message, raw: bytes) -> str:
    """The report's Message-ID, else a digest of its bytes: what makes its event ids unique."""
    message_id = " ".join((message.get("Message-ID") or "").split())
    return message_id or "sha256-" + hashlib.sha256(raw).hexdigest()[:32]


def _date(value: str | None) -> datetime | None:
    """The report's Date header as an aware datetime, or None when absent or unreadable."""
    if not value:
        return None
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return moment if moment.tzinfo is not None else None
