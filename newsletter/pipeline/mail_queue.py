"""Draining a queue of single mails kept in the ledger (subscribe confirmations, approval
notifications): claim due rows of one kind in batches, compose each, send it on one session of
the configured transport, and record the outcome: sent, failed, retried later with backoff, or
skipped. When the mail server cannot be reached the rows wait for the next drain, so nothing is
lost, and the ledger's claim -> sent path sends each row once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from newsletter.compose.mime import sender_domain
from newsletter.config import Config
from newsletter.core.models import Delivery, DeliveryStatus
from newsletter.pipeline.digest_sender import Backoff
from newsletter.publish.email.base import EmailSession, EmailTransport, Outcome, TransportUnavailable, email_transport
from newsletter.store import utcnow
from newsletter.store.ledger import Ledger

CLAIM_SIZE = 50


@dataclass(frozen=True)
class OutgoingMail:
    """One composed mail: envelope sender, recipient and the message's bytes."""

    sender: str
    recipient: str
    message: bytes


@dataclass(frozen=True)
class Skip:
    """A queued row that needs no mail any more, and why."""

    reason: str


@dataclass
class QueueReport:
    """What one drain of a queue did."""

    sent: int = 0
    skipped: int = 0
    retried: int = 0
    failed: int = 0
    waiting: int = 0
    errors: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """The counts for the run history."""
        return {"sent": self.sent, "skipped": self.skipped, "retried": self.retried, "failed": self.failed,
                "waiting": self.waiting}

    @property
    def did_something(self) -> bool:
        """Whether any queued row was handled or left waiting (an idle drain records no run)."""
        return any(self.counts().values())


Composer = Callable[[Delivery], "OutgoingMail | Skip"]


class MailQueue:
    """One pass over the queued rows of `kind`: claim due rows in batches, compose, send or skip
    each, record each outcome. The transport (for `sender`) is only opened once a mail is to go out."""

    def __init__(self, config: Config, ledger: Ledger, kind: str, compose: Composer, sender: str,
                 *, backoff: Backoff | None = None, stop: threading.Event | None = None):
        self.config, self.ledger, self.kind, self.compose, self.sender = config, ledger, kind, compose, sender
        self.backoff, self.stop = backoff or Backoff(), stop or threading.Event()
        self.report = QueueReport()
        self.session: EmailSession | None = None

    def run(self) -> QueueReport:
        """Drain until nothing is due, the server is unreachable or `stop` is set."""
        try:
            while not self.stop.is_set() and (batch := self.ledger.claim_batch(self.kind, CLAIM_SIZE, now=utcnow())):
                if not self._send_batch(batch):
                    break
        finally:
            if self.session is not None:
                self.session.close()
        return self.report

    def _send_batch(self, batch: list[Delivery]) -> bool:
        """Handle the claimed rows; False once the drain must stop, the rest released unsent."""
        for index, delivery in enumerate(batch):
            if self.stop.is_set():
                self._release(batch[index:])
                return False
            try:
                self._handle(delivery)
            except TransportUnavailable as error:
                self._release(batch[index:])
                self.report.errors.append(str(error))
                return False
            except BaseException:  # a missing password, a store error: nothing more is sent, no row stays claimed
                self._release(batch[index:])
                raise
        return True

    def _release(self, rows: list[Delivery]) -> None:
        self.report.waiting += self.ledger.release_many([d.key for d in rows])

    def _handle(self, delivery: Delivery) -> None:
        mail = self.compose(delivery)
        if isinstance(mail, Skip):
            self.ledger.mark_skipped(delivery.key, mail.reason)
            self.report.skipped += 1
            return
        result = self._session().send(mail.sender, mail.recipient, mail.message)
        if result.outcome is Outcome.SENT:
            self.ledger.mark_sent(delivery.key, result.reply[:200])
            self.report.sent += 1
        elif result.outcome is Outcome.PERMANENT:
            self.ledger.mark_failed(delivery.key, result.reply)
            self.report.failed += 1
        else:
            retry_at = utcnow() + timedelta(seconds=self.backoff.delay(delivery.attempts))
            status = self.ledger.mark_retry(delivery.key, result.reply, retry_at)
            if status is DeliveryStatus.FAILED:
                self.report.failed += 1
            else:
                self.report.retried += 1

    def _session(self) -> EmailSession:
        """The drain's one session, opened on first use."""
        if self.session is None:
            self.session = self._transport().session()
        self.session.open()
        return self.session

    def _transport(self) -> EmailTransport:
        return email_transport(self.config, sender_domain(self.sender))
