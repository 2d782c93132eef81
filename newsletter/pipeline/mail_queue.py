"""Draining a queue of mails kept in the ledger (subscribe confirmations, approval
notifications): claim due rows of one kind in batches, compose a mail for each row (or, with a
grouped composer, one mail for the rows of a group: an approver's notifications), send it on one
session of the configured transport, and record the outcome on each row: sent, failed, retried
later with backoff, or skipped. When the mail server cannot be reached the rows wait for the next
drain, so nothing is lost, and the ledger's claim -> sent path sends each row once."""

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


@dataclass(frozen=True)
class GroupMail:
    """What a grouped composer makes of a group of rows: the rows it skips (by key) and one mail
    covering all the others (None when every row is skipped)."""

    mail: OutgoingMail | None
    skipped: dict[str, Skip] = field(default_factory=dict)


@dataclass(frozen=True)
class Grouping:
    """How a queue sends rows together: the group a row belongs to (rows of one group claimed
    in one drain go out as one mail) and the composer of a group's mail."""

    key: Callable[[Delivery], str]
    compose: Callable[[list[Delivery]], GroupMail]


class MailQueue:
    """One pass over the queued rows of `kind`: claim due rows in batches, compose, send or skip
    each, record each outcome. The transport (for `sender`) is only opened once a mail is to go out."""

    def __init__(self, config: Config, ledger: Ledger, kind: str, compose: Composer | Grouping, sender: str,
                 *, backoff: Backoff | None = None, stop: threading.Event | None = None, claim_size: int = CLAIM_SIZE):
        self.config, self.ledger, self.kind, self.sender = config, ledger, kind, sender
        self.grouping = compose if isinstance(compose, Grouping) else Grouping(lambda d: d.key, _one_by_one(compose))
        self.backoff, self.stop, self.claim_size = backoff or Backoff(), stop or threading.Event(), claim_size
        self.report = QueueReport()
        self.session: EmailSession | None = None

    def run(self) -> QueueReport:
        """Drain until nothing is due, the server is unreachable or `stop` is set."""
        try:
            while not self.stop.is_set() and (batch := self.ledger.claim_batch(self.kind, self.claim_size,
                                                                               now=utcnow())):
                if not self._send_batch(batch):
                    break
        finally:
            if self.session is not None:
                self.session.close()
        return self.report

    def _send_batch(self, batch: list[Delivery]) -> bool:
        """Handle the claimed rows, a group at a time; False once the drain must stop, the rest
        released unsent."""
        groups: dict[str, list[Delivery]] = {}
        for delivery in batch:
            groups.setdefault(self.grouping.key(delivery), []).append(delivery)
        units = list(groups.values())
        for index, unit in enumerate(units):
            if self.stop.is_set():
                self._release_units(units[index:])
                return False
            try:
                self._handle(unit)
            except TransportUnavailable as error:
                self._release_units(units[index:])
                self.report.errors.append(str(error))
                return False
            except BaseException:  # a missing password, a store error: nothing more is sent, no row stays claimed
                self._release_units(units[index:])
                raise
        return True

    def _release_units(self, units: list[list[Delivery]]) -> None:
        self._release([d for unit in units for d in unit])

    def _release(self, rows: list[Delivery]) -> None:
        self.report.waiting += self.ledger.release_many([d.key for d in rows])

    def _handle(self, unit: list[Delivery]) -> None:
        """Compose the unit's mail, skip the rows it leaves out, send it and record the outcome on
        each row it covers."""
        composed = self.grouping.compose(unit)
        for delivery in unit:
            if delivery.key in composed.skipped:
                self.ledger.mark_skipped(delivery.key, composed.skipped[delivery.key].reason)
                self.report.skipped += 1
        covered = [d for d in unit if d.key not in composed.skipped]
        if composed.mail is None or not covered:  # rows neither skipped nor covered wait for the next drain
            self._release(covered)
            return
        mail = composed.mail
        result = self._session().send(mail.sender, mail.recipient, mail.message)
        for delivery in covered:
            self._record(delivery, result.outcome, result.reply)

    def _record(self, delivery: Delivery, outcome: Outcome, reply: str) -> None:
        """One row's outcome once its mail was handed over (or refused)."""
        if outcome is Outcome.SENT:
            self.ledger.mark_sent(delivery.key, reply[:200])
            self.report.sent += 1
        elif outcome is Outcome.PERMANENT:
            self.ledger.mark_failed(delivery.key, reply)
            self.report.failed += 1
        else:
            retry_at = utcnow() + timedelta(seconds=self.backoff.delay(delivery.attempts))
            status = self.ledger.mark_retry(delivery.key, reply, retry_at)
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


def _one_by_one(compose: Composer) -> Callable[[list[Delivery]], GroupMail]:
    """A group composer for a queue whose every row is its own mail."""

    def composed(unit: list[Delivery]) -> GroupMail:
        (delivery,) = unit
        mail = compose(delivery)
        return GroupMail(None, {delivery.key: mail}) if isinstance(mail, Skip) else GroupMail(mail)

    return composed
