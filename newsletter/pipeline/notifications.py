"""Approval notifications: when digest issues or posts start awaiting approval, every approver
and admin with an email address (`newsletter users email NAME ADDRESS`) gets one mail per run
listing them.

The daemon's `mail:notifications` job (and `run --once`) looks at what awaits approval,
queues one ledger row per item and user (`notify:<item>:<user>`: never two mails about the same
item to the same person, however often it runs), then sends the queued rows through the
configured transport like subscribe confirmations (`pipeline/mail_queue.py`), grouped by person:
each person's rows claimed in a run go out as one mail listing their items, and each row is
recorded sent with it. A mail server that is down leaves them queued for the next run, so none
is lost, and a later run lists only what was not told yet. An item approved or skipped before
its mail went out is left out of it.
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
from newsletter.pipeline.mail_queue import Grouping, GroupMail, MailQueue, OutgoingMail, QueueReport, Skip
from newsletter.pipeline.naming import ItemKind, ItemName, name_item
from newsletter.store import DigestIssueStatus, Store, User, utcnow
from newsletter.store.ledger import Ledger

NOTIFIED_ROLE = Role.APPROVER
MAX_ITEMS = 500
CLAIM_SIZE = 5000  # rows of one run: each person's rows claimed together go out as one mail
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
    return _queue(store, awaiting_items(store), _notified_people(store), now)


def _notified_people(store: Store) -> dict[str, User]:
    """The approvers and admins with an address, by name: the people notifications go to."""
    return {u.name: u for u in store.users.list_users() if u.email and u.role.allows(NOTIFIED_ROLE)}


def _queue(store: Store, items: list[str], people: dict[str, User], now: datetime) -> int:
    rows = [(notification_key(item, user.name), str(DeliveryKind.NOTIFICATION), user.email, {"item": item,
             "user": user.name}) for item in items for user in people.values() if user.email]
    return Ledger(store).ensure_pending(rows, now=now) if rows else 0


def send_notifications(config: Config, store: Store, *, now: datetime | None = None,
                       stop: threading.Event | None = None, backoff: Backoff | None = None) -> QueueReport:
    """Queue the notifications of what awaits approval, then send every due one once (what
    awaits and who is told read once, for queueing and sending alike)."""
    items, people = awaiting_items(store), _notified_people(store)
    _queue(store, items, people, now or utcnow())
    ledger = Ledger(store, max_attempts=config.smtp.max_attempts)
    ledger.recover_dead_claims()
    composer = _NotificationComposer(config, store, set(items), people)
    grouping = Grouping(_person, composer.compose)
    return MailQueue(config, ledger, str(DeliveryKind.NOTIFICATION), grouping, config.alerts.from_address,
                     backoff=backoff, stop=stop, claim_size=CLAIM_SIZE).run()


def _person(delivery: Delivery) -> str:
    """The group of a notification row: who it is for, at which address (one mail each)."""
    return f"{delivery.payload.get('user', '')}\n{delivery.target}"


class _NotificationComposer:
    def __init__(self, config: Config, store: Store, awaiting: set[str], people: dict[str, User]):
        self.config, self.store = config, store
        self.awaiting, self.people = awaiting, people

    def compose(self, rows: list[Delivery]) -> GroupMail:
        """One mail telling a person everything in `rows` that awaits them, leaving out items
        settled since and every row when they may no longer approve."""
        skipped = {row.key: reason for row in rows if (reason := self._skip(row)) is not None}
        kept = [row for row in rows if row.key not in skipped]
        if not kept:
            return GroupMail(None, skipped)
        items = [str(row.payload.get("item", "")) for row in kept]
        key = min(row.key for row in kept)
        message = notification_message(self.config, self.store, items, kept[0].target, key, utcnow())
        return GroupMail(OutgoingMail(self.config.alerts.from_address, kept[0].target, message), skipped)

    def _skip(self, delivery: Delivery) -> Skip | None:
        """Why the row needs no mail any more (item settled, user gone or changed), or None."""
        if str(delivery.payload.get("item", "")) not in self.awaiting:
            return Skip(NO_LONGER_AWAITING)
        user = self.people.get(str(delivery.payload.get("user", "")))
        if user is None or user.email != delivery.target:
            return Skip(NO_LONGER_NOTIFIED)
        return None


def _kind(named: ItemName) -> str:
    return "digest" if named.kind is ItemKind.ISSUE else "post"


def notification_message(config: Config, store: Store, items: list[str], recipient: str, key: str,
                         now: datetime) -> bytes:
    """The bytes of one notification listing `items`, in the configured language (one item is
    named in the subject); its Message-ID is the same for every attempt of `key`."""
    t = translator(config.locale)
    named = [name_item(store, item) for item in items]
    url = f"{config.public_base_url}/upcoming"
    if len(named) == 1:
        kind, (only,) = _kind(named[0]), named
        subject = t(f"notify_{kind}_subject", place=only.place, title=only.title)
        body = t(f"notify_{kind}_body", place=only.place, title=only.title, url=url)
    else:
        lines = "\n".join(t(f"notify_line_{_kind(n)}", place=n.place, title=n.title) for n in named)
        subject = t("notify_many_subject", count=len(named))
        body = t("notify_many_body", count=len(named), items=lines, url=url)
    sender = config.alerts.from_address
    message = EmailMessage(policy=policy.SMTP)
    message["From"] = Address(display_name=clean_header(config.branding.name or config.branding.organisation),
                              addr_spec=sender)
    message["To"] = recipient
    message["Subject"] = clean_header(subject)
    message["Date"] = format_datetime(now)
    message["Message-ID"] = message_id(key, recipient, sender_domain(sender))
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(body)
    return message.as_bytes(policy=policy.SMTP)
