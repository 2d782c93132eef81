"""Approval notifications: when a digest issue or a post starts awaiting approval, every
approver and admin with an email address (`newsletter users email NAME ADDRESS`) gets one mail
about it.

The daemon's `mail:notifications` job (and `run --once`) looks at what awaits approval,
queues one ledger row per item and user (`notify:<item>:<user>`: never two mails for the same
item to the same person, however often it runs), then sends the queued rows through the
configured transport like subscribe confirmations (`pipeline/mail_queue.py`): a mail server
that is down leaves them queued for the next run, so none is lost. An item approved or skipped
before its mail went out is skipped.
"""

from __future__ import annotations

import threading
from datetime import datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

from newsletter.compose.mime import message_id, sender_domain
from newsletter.compose.placeholders import clean_header
from newsletter.config import Config
from newsletter.core.i18n import translator
from newsletter.core.keys import notification_key
from newsletter.core.models import Delivery, DeliveryKind, DeliveryStatus
from newsletter.core.roles import Role
from newsletter.pipeline.digest_sender import Backoff
from newsletter.pipeline.mail_queue import MailQueue, OutgoingMail, QueueReport, Skip
from newsletter.pipeline.naming import ItemKind, name_item
from newsletter.store import DigestIssueStatus, Store, utcnow
from newsletter.store.ledger import Ledger

NOTIFIED_ROLE = Role.APPROVER
MAX_ITEMS = 500
NO_LONGER_AWAITING = "no longer awaiting approval"
NO_LONGER_NOTIFIED = "the user was removed, lost the approver role or changed address"


def awaiting_items(store: Store) -> list[str]:
    """The digest issues and posts awaiting approval now (issue ids and post keys)."""
    issues = store.issues.list_digest_issues(statuses=[DigestIssueStatus.AWAITING_APPROVAL], limit=MAX_ITEMS)
    posts = Ledger(store).list_deliveries(status=DeliveryStatus.AWAITING_APPROVAL, kind=str(DeliveryKind.POST),
                                          limit=MAX_ITEMS)
    return [issue.id for issue in issues] + [post.key for post in posts]


def queue_notifications(store: Store, now: datetime) -> int:
    """Queue one notification per awaiting item and approver or admin with an address (rows
    already queued are kept as they are); returns how many were queued now."""
    people = [u for u in store.users.list_users() if u.email and u.role.allows(NOTIFIED_ROLE)]
    rows = [(notification_key(item, user.name), str(DeliveryKind.NOTIFICATION), user.email, {"item": item,
             "user": user.name}) for item in awaiting_items(store) for user in people if user.email]
    return Ledger(store).ensure_pending(rows, now=now) if rows else 0


def send_notifications(config: Config, store: Store, *, now: datetime | None = None,
                       stop: threading.Event | None = None, backoff: Backoff | None = None) -> QueueReport:
    """Queue the notifications of what awaits approval, then send every due one once."""
    queue_notifications(store, now or utcnow())
    ledger = Ledger(store, max_attempts=config.smtp.max_attempts)
    ledger.recover_dead_claims()
    composer = _NotificationComposer(config, store)
    return MailQueue(config, ledger, str(DeliveryKind.NOTIFICATION), composer.compose, config.alerts.from_address,
                     backoff=backoff, stop=stop).run()


class _NotificationComposer:
    def __init__(self, config: Config, store: Store):
        self.config, self.store = config, store
        self.awaiting = set(awaiting_items(store))

    def compose(self, delivery: Delivery) -> OutgoingMail | Skip:
        """The mail telling the user what awaits them, unless it was settled or they may no longer approve."""
        item, user_name = str(delivery.payload.get("item", "")), str(delivery.payload.get("user", ""))
        if item not in self.awaiting:
            return Skip(NO_LONGER_AWAITING)
        user = self.store.users.get_user(user_name)
        if user is None or user.email != delivery.target or not user.role.allows(NOTIFIED_ROLE):
            return Skip(NO_LONGER_NOTIFIED)
        message = notification_message(self.config, self.store, item, delivery.target, delivery.key, utcnow())
        return OutgoingMail(self.config.alerts.from_address, delivery.target, message)


def notification_message(config: Config, store: Store, item: str, recipient: str, key: str, now: datetime) -> bytes:
    """The bytes of one notification, in the configured language; its Message-ID is the same for
    every attempt of `key`."""
    t = translator(config.locale)
    named = name_item(store, item)
    kind = "digest" if named.kind is ItemKind.ISSUE else "post"
    sender = config.alerts.from_address
    message = EmailMessage(policy=policy.SMTP)
    message["From"] = Address(display_name=clean_header(config.branding.name or config.branding.organisation),
                              addr_spec=sender)
    message["To"] = recipient
    message["Subject"] = clean_header(t(f"notify_{kind}_subject", place=named.place, title=named.title))
    message["Date"] = format_datetime(now)
    message["Message-ID"] = message_id(key, recipient, sender_domain(sender))
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(t(f"notify_{kind}_body", place=named.place, title=named.title,
                          url=f"{config.public_base_url}/upcoming"))
    return message.as_bytes(policy=policy.SMTP)
