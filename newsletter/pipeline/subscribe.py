"""Double opt-in: a subscribe request mails a signed, expiring link (through the email
transport, like every message); only opening it and confirming adds the address to the list.
The web pages only parse the form, call these and render the answer.

The link's token carries the address, list, name and the time it was issued, signed (with
itsdangerous) by the same secret as unsubscribe links, under its own salt. Whether an address
is already subscribed or suppressed is never revealed: the page says the same thing either way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from itsdangerous import BadSignature, URLSafeSerializer

from newsletter.compose.digest import clean_header
from newsletter.compose.mime import sender_domain
from newsletter.config import Config, DigestConfig
from newsletter.core.errors import NewsletterError
from newsletter.core.i18n import translator
from newsletter.pipeline.subscribers import SubscriberError, list_names, normalise_address
from newsletter.publish.email.base import email_transport, send_one
from newsletter.store import Store, SubscriberStatus

SALT = "newsletter-subscribe-confirm"
CONFIRM_VALID_FOR = timedelta(hours=48)
CONSENT_SOURCE = "double opt-in (web form)"


class InvalidConfirmation(NewsletterError):
    """The confirmation link is forged, altered or names a list that is not offered."""


class ExpiredConfirmation(NewsletterError):
    """The confirmation link is older than `CONFIRM_VALID_FOR`."""


@dataclass(frozen=True)
class SubscribeRequest:
    """Who asked to subscribe to which list, and when the link was issued."""

    email: str
    list_name: str
    name: str
    locale: str
    issued_at: datetime


def offered_lists(config: Config) -> list[str]:
    """The lists people may subscribe to: every list a digest goes to, in config order."""
    return list(dict.fromkeys(name for digest in config.digests for name in list_names(digest.list)))


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
    if request.list_name not in offered_lists(config):
        raise InvalidConfirmation("confirmation link names a list that is not offered")
    if now - request.issued_at > CONFIRM_VALID_FOR:
        raise ExpiredConfirmation("confirmation link has expired")
    return request


def confirm_url(config: Config, token: str) -> str:
    """The public confirmation link."""
    return f"{config.public_base_url}/subscribe/confirm/{token}"


def confirmation_message(config: Config, request: SubscribeRequest, url: str, now: datetime) -> tuple[str, bytes]:
    """The envelope sender and bytes of the confirmation email."""
    digest = list_digest(config, request.list_name)
    sender = digest.from_address if digest else config.alerts.from_address
    display = (digest.from_name if digest else None) or config.branding.organisation
    newsletter_name = config.branding.name or config.branding.organisation
    t = translator(request.locale)
    message = EmailMessage(policy=policy.SMTP)
    message["From"] = Address(display_name=clean_header(display), addr_spec=sender)
    message["To"] = request.email
    message["Subject"] = clean_header(t("confirm_mail_subject", name=newsletter_name))
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid(domain=sender_domain(sender))
    message["Auto-Submitted"] = "auto-generated"
    hours = int(CONFIRM_VALID_FOR.total_seconds() // 3600)
    message.set_content(t("confirm_mail_body", name=newsletter_name, hours=hours, url=url))
    return sender, message.as_bytes(policy=policy.SMTP)


def request_subscription(
    config: Config, store: Store, secret: str, request: SubscribeRequest, now: datetime
) -> bool:
    """Mail a confirmation link unless the address is suppressed or already on the list;
    returns whether a message was sent (never shown to the visitor)."""
    if store.subscribers.is_suppressed(request.email):
        return False
    existing = store.subscribers.get_subscriber(request.email)
    if existing and existing.status is SubscriberStatus.ACTIVE and request.list_name in existing.lists:
        return False
    sender, message = confirmation_message(config, request, confirm_url(config, make_confirm_token(secret, request)),
                                           now)
    send_one(email_transport(config, sender_domain(sender)), sender, request.email, message)
    return True


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
