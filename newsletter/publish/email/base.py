"""The email-transport seam: every email leaves through an `EmailTransport` chosen by `smtp.type`.

A transport is built once per run from the config and shared by the workers; each worker
sends on a session of its own. A session takes a finished MIME message (CRLF line breaks)
with its envelope sender and one recipient, and says what the provider answered: sent,
failed for now (retry later) or refused for good, with the provider's reply. Framing,
signing, bounce addresses and rate limits are the transport's business, never the caller's.
Implementations are registered by type name and imported lazily, like sources and publishers.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from importlib import import_module
from typing import TYPE_CHECKING, ClassVar, Protocol, Self

from newsletter.core.errors import PublishError
from newsletter.plugins import UnknownTypeError

if TYPE_CHECKING:
    from newsletter.config import Config

TRANSPORT_TYPES: dict[str, str] = {
    "smtp": "newsletter.publish.email.smtp:SmtpTransport",
    "ses": "newsletter.publish.email.ses:SesTransport",
    "brevo": "newsletter.publish.email.brevo:BrevoTransport",
}


class Outcome(StrEnum):
    """What became of one message to one recipient."""

    SENT = "sent"
    TRANSIENT = "transient"
    PERMANENT = "permanent"


@dataclass(frozen=True)
class SendResult:
    """The outcome and the provider's reply; `recipient_refused` when the address itself was refused."""

    outcome: Outcome
    reply: str
    recipient_refused: bool = False


class TransportUnavailable(PublishError):
    """The provider cannot be reached or is refusing connections now: try again later."""

    def __init__(self, message: str):
        super().__init__(message, retryable=True)


class DeliveryFailed(PublishError):
    """A single message (test copy, confirmation, alert) was not accepted."""

    def __init__(self, result: SendResult):
        super().__init__(result.reply, retryable=result.outcome is Outcome.TRANSIENT)
        self.result = result


class EmailSession(Protocol):
    """One connection (or client) to the provider, used by one worker at a time."""

    def open(self) -> None:
        """Connect and authenticate if not yet done: TransportUnavailable for now, ConfigError for good."""
        ...

    def send(self, envelope_from: str, recipient: str, message: bytes) -> SendResult:
        """Send one MIME message (CRLF line breaks) to one recipient; never raises for a refusal."""
        ...

    def close(self) -> None:
        """End the session; the next `open` starts a new one."""
        ...


class EmailTransport(Protocol):
    """Where email leaves, built once per run from the config and shared by the workers."""

    type_name: ClassVar[str]

    @classmethod
    def from_config(cls, config: Config, local_hostname: str) -> Self:
        """The transport the config describes; `local_hostname` names this sender (EHLO)."""
        ...

    def check(self) -> None:
        """Open one session and close it, so a bad setup is reported before anything is claimed."""
        ...

    def session(self) -> EmailSession:
        """A new, unopened session for one worker."""
        ...

    def describe(self) -> str:
        """One line naming the provider and account, secrets redacted."""
        ...


def transport_class(type_name: str) -> type[EmailTransport]:
    """The transport class registered for `type_name`; UnknownTypeError lists valid ones."""
    if type_name not in TRANSPORT_TYPES:
        valid = ", ".join(sorted(TRANSPORT_TYPES))
        raise UnknownTypeError(f"unknown email transport type {type_name!r} (valid: {valid})")
    module_name, _, attribute = TRANSPORT_TYPES[type_name].partition(":")
    found: type[EmailTransport] = getattr(import_module(module_name), attribute)
    return found


def email_transport(config: Config, local_hostname: str) -> EmailTransport:
    """The configured transport (`smtp.type`, default `smtp`)."""
    return transport_class(config.smtp.type).from_config(config, local_hostname)


def send_one(transport: EmailTransport, envelope_from: str, recipient: str, message: bytes) -> str:
    """Send one message on a session of its own; the provider's reply, else DeliveryFailed
    (or TransportUnavailable / ConfigError when no session could be opened)."""
    session = transport.session()
    try:
        session.open()
        result = session.send(envelope_from, recipient, message)
    finally:
        session.close()
    if result.outcome is not Outcome.SENT:
        raise DeliveryFailed(result)
    return result.reply
