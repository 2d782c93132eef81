"""Double opt-in: a subscribe request queues a confirmation mail carrying a signed, expiring
link; only opening it and confirming adds the address to the list. The web pages only parse
the form, call these and render the answer.

The request never talks to a mail server and does the same work whoever the address belongs to:
it counts the request (per client and per address, in the store), then queues one ledger row
(kind `confirmation`). `send_confirmations` (the daemon's `mail:confirmations` job, `run --once`
or `newsletter subscribers send-confirmations`) later sends each queued row through the email
transport, once: the ledger's claim -> sent path, so a crash resends at most the message in
flight and loses none. Only then is a subscribed or forgotten address skipped, unseen by the
visitor.

The link's token carries the address, list, name and the time it was requested, signed (with
itsdangerous) by the same secret as unsubscribe links, under its own salt.
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from enum import StrEnum
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer

from newsletter.compose.mime import message_id, sender_domain
from newsletter.compose.placeholders import clean_header
from newsletter.config import Config, DigestConfig
from newsletter.core.errors import NewsletterError
from newsletter.core.i18n import translator
from newsletter.core.keys import confirmation_key, list_names
from newsletter.core.models import Delivery, DeliveryKind, RequestKind
from newsletter.pipeline.digest_sender import Backoff
from newsletter.pipeline.mail_queue import MailQueue, OutgoingMail, QueueReport, Skip
from newsletter.pipeline.subscribers import SubscriberError, normalise_address
from newsletter.pipeline.unsubscribe import secret_from_env
from newsletter.store import Store, SubscriberStatus, utcnow
from newsletter.store.ledger import Ledger
from newsletter.store.subscribers import email_hash

SALT = "newsletter-subscribe-confirm"
CONFIRM_VALID_FOR = timedelta(hours=48)
CONSENT_SOURCE = "double opt-in (web form)"
ALREADY_SUBSCRIBED = "already on the list, or forgotten: no confirmation needed"


class InvalidConfirmation(NewsletterError):
    """The confirmation link is forged, altered or names a list that is not offered."""


class ExpiredConfirmation(NewsletterError):
    """The confirmation link is older than `CONFIRM_VALID_FOR`."""


@dataclass(frozen=True)
class SubscribeRequest:
    """Who asked to subscribe to which list, and when."""

    email: str
    list_name: str
    name: str
    locale: str
    issued_at: datetime


class SubscribeOutcome(StrEnum):
    """What became of a subscribe request: a confirmation queued, none because the address had
    its share of mails (the visitor is told the same as when queued), or refused because the
    client asked too often (the only answer that differs)."""

    QUEUED = "queued"
    ADDRESS_LIMITED = "address_limited"
    CLIENT_LIMITED = "client_limited"


@dataclass(frozen=True)
class SubscribeAnswer:
    """The outcome, and for a limited client the seconds until it may ask again."""

    outcome: SubscribeOutcome
    retry_after: int = 0


def list_digest(config: Config, list_name: str) -> DigestConfig | None:
    """The first digest that goes to `list_name` (its sender signs the confirmation email)."""
    return next((d for d in config.digests if list_name in list_names(d.list)), None)


def normalised_address(email: str) -> str | None:
    """The address as `subscribers.normalise_address` keeps it (ASCII, lower case), or None
    when it is not one the digest can be sent to."""
    try:
        return normalise_address(email)
    except SubscriberError:
        return None


def _serializer(secret: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt=SALT)


def make_confirm_token(secret: str, request: SubscribeRequest) -> str:
    """The signed token of a confirmation link."""
    return str(_serializer(secret).dumps({
        "e": request.email, "l": request.list_name, "n": request.name, "g": request.locale,
        "t": int(request.issued_at.timestamp()),
    }))


def read_confirm_token(config: Config, secret: str, token: str, now: datetime) -> SubscribeRequest:
    """The request a confirmation token carries; raises InvalidConfirmation or ExpiredConfirmation."""
    try:
        data = _serializer(secret).loads(token)
        request = SubscribeRequest(str(data["e"]), str(data["l"]), str(data["n"]), str(data["g"]),
                                   datetime.fromtimestamp(int(data["t"]), tz=now.tzinfo))
    except (BadSignature, KeyError, TypeError, ValueError):
        raise InvalidConfirmation("confirmation link is not valid") from None
    if request.list_name not in config.offered_lists():
        raise InvalidConfirmation("confirmation link names a list that is not offered")
    if now - request.issued_at > CONFIRM_VALID_FOR:
        raise ExpiredConfirmation("confirmation link has expired")
    return request


def confirm_url(config: Config, token: str) -> str:
    """The public confirmation link."""
    return f"{config.public_base_url}/subscribe/confirm/{token}"


def confirmation_sender(config: Config, list_name: str) -> str:
    """The envelope sender of a list's confirmations: its digest's sender, else the alerts' one."""
    digest = list_digest(config, list_name)
    return digest.from_address if digest else config.alerts.from_address


def confirmation_message(config: Config, request: SubscribeRequest, url: str, key: str, now: datetime) -> bytes:
    """The bytes of the confirmation email; its Message-ID is the same for every attempt of `key`."""
    digest = list_digest(config, request.list_name)
    sender = confirmation_sender(config, request.list_name)
    display = (digest.from_name if digest else None) or config.branding.organisation
    list_title = config.list_title(request.list_name)
    t = translator(request.locale)
    message = EmailMessage(policy=policy.SMTP)
    message["From"] = Address(display_name=clean_header(display), addr_spec=sender)
    message["To"] = request.email
    message["Subject"] = clean_header(t("confirm_mail_subject", name=list_title))
    message["Date"] = format_datetime(now)
    message["Message-ID"] = message_id(key, request.email, sender_domain(sender))
    message["Auto-Submitted"] = "auto-generated"
    hours = int(CONFIRM_VALID_FOR.total_seconds() // 3600)
    message.set_content(t("confirm_mail_body", name=list_title, hours=hours, url=url))
    return message.as_bytes(policy=policy.SMTP)


def client_key(client: str) -> str:
    """A client's counter key: the SHA-256 of its address, never kept in clear."""
    return hashlib.sha256(client.encode("utf-8")).hexdigest()


def request_subscription(config: Config, store: Store, request: SubscribeRequest, client: str) -> SubscribeAnswer:
    """Count the request and queue a confirmation mail, within `public`'s limits; the same
    statements run whether the address is new, pending, subscribed or forgotten, and no mail
    server is contacted."""
    limits, now = config.public, request.issued_at
    by_client = store.public_requests.count_request(
        RequestKind.CLIENT, client_key(client), now, timedelta(minutes=limits.client_window_minutes))
    if by_client.count > limits.requests_per_client:
        wait = int((by_client.resets_at - now).total_seconds())
        return SubscribeAnswer(SubscribeOutcome.CLIENT_LIMITED, max(1, wait))
    by_address = store.public_requests.count_request(
        RequestKind.ADDRESS, email_hash(request.email), now, timedelta(hours=limits.address_window_hours))
    if by_address.count > limits.confirmations_per_address:
        return SubscribeAnswer(SubscribeOutcome.ADDRESS_LIMITED)
    row = (confirmation_key(uuid.uuid4().hex), str(DeliveryKind.CONFIRMATION), request.email, _payload(request))
    Ledger(store).ensure_pending([row], now=now)
    return SubscribeAnswer(SubscribeOutcome.QUEUED)


def _payload(request: SubscribeRequest) -> dict[str, Any]:
    return {"list": request.list_name, "name": request.name, "locale": request.locale,
            "requested_at": request.issued_at.isoformat()}


def _request(delivery: Delivery) -> SubscribeRequest:
    data = delivery.payload
    return SubscribeRequest(delivery.target, str(data["list"]), str(data["name"]), str(data["locale"]),
                            datetime.fromisoformat(str(data["requested_at"])))


ConfirmationReport = QueueReport


def send_confirmations(
    config: Config, store: Store, *, stop: threading.Event | None = None, backoff: Backoff | None = None
) -> ConfirmationReport:
    """Send every due queued confirmation once, on one session of the configured transport;
    when the mail server cannot be reached the rows wait for the next drain. The secret and the
    transport are only needed once a mail is to go out (an empty queue needs neither)."""
    ledger = Ledger(store, max_attempts=config.smtp.max_attempts)
    ledger.recover_dead_claims()
    _forget_old_counters(config, store)
    lists = config.offered_lists()
    sender = confirmation_sender(config, lists[0]) if lists else config.alerts.from_address
    composer = _ConfirmationComposer(config, store)
    return MailQueue(config, ledger, str(DeliveryKind.CONFIRMATION), composer.compose, sender,
                     backoff=backoff, stop=stop).run()


def _forget_old_counters(config: Config, store: Store) -> None:
    longest = max(timedelta(hours=config.public.address_window_hours),
                  timedelta(minutes=config.public.client_window_minutes))
    store.public_requests.forget_before(utcnow() - longest)


class _ConfirmationComposer:
    """Each queued request's confirmation mail, or a skip when it needs none any more."""

    def __init__(self, config: Config, store: Store):
        self.config, self.store = config, store
        self.secret: str | None = None

    def compose(self, delivery: Delivery) -> OutgoingMail | Skip:
        """The confirmation of the queued request (the secret read on first use)."""
        if not delivery.payload or self._needs_no_confirmation(delivery):
            return Skip(ALREADY_SUBSCRIBED)
        request = _request(delivery)
        self.secret = self.secret or secret_from_env(self.config)
        url = confirm_url(self.config, make_confirm_token(self.secret, request))
        message = confirmation_message(self.config, request, url, delivery.key, utcnow())
        return OutgoingMail(confirmation_sender(self.config, request.list_name), request.email, message)

    def _needs_no_confirmation(self, delivery: Delivery) -> bool:
        """Forgotten (suppressed) addresses and people already on the list get no mail."""
        if self.store.subscribers.is_suppressed(delivery.target):
            return True
        subscriber = self.store.subscribers.get_subscriber(delivery.target)
        return (subscriber is not None and subscriber.status is SubscriberStatus.ACTIVE
                and delivery.payload["list"] in subscriber.lists)


def confirm_subscription(store: Store, request: SubscribeRequest, now: datetime) -> int:
    """Add the confirmed address to the list (re-activating someone who had unsubscribed);
    returns the subscriber id. Replaying the link changes nothing more."""
    subscriber_id = store.subscribers.add_subscriber(request.email, name=request.name or None, locale=request.locale,
                                         lists=[request.list_name], consent_source=CONSENT_SOURCE, now=now)
    subscriber = store.subscribers.get_subscriber(request.email)
    if subscriber is not None and subscriber.status is SubscriberStatus.UNSUBSCRIBED:
        store.subscribers.set_subscriber_status(request.email, SubscriberStatus.ACTIVE, now=now)
    store.audit.record_action("subscriber", "subscribe", f"subscriber:{subscriber_id}",
                        {"list": request.list_name, "consent": CONSENT_SOURCE}, now=now)
    return subscriber_id
