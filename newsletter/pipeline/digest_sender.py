"""The senders of one digest issue: `smtp.connections` threads, each with a transport session
of its own, claiming ledger rows in batches and recording each outcome before the session's next
message (see `sending.py` for the run around them and `senders.py` for sender processes).

Each sender process imports this module, not `sending.py`: it needs no planning, composing or
archive code, so a process starts quickly.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from newsletter.compose.mime import MessageTemplate
from newsletter.config import Config
from newsletter.core.errors import ConfigError, NewsletterError
from newsletter.core.keys import list_names
from newsletter.core.models import Delivery, DeliveryKind, DeliveryStatus
from newsletter.pipeline.unsubscribe import make_token, secret_from_env, unsubscribe_url
from newsletter.publish.email.base import EmailSession, EmailTransport, Outcome, TransportUnavailable, email_transport
from newsletter.store import DigestIssue, DigestIssueStatus, Store, SubscriberStatus, utcnow
from newsletter.store.ledger import Ledger

if TYPE_CHECKING:
    from newsletter.pipeline.senders import WorkerPlan

log = logging.getLogger(__name__)

MAX_CLAIM_BATCH = 200
CLAIMS_PER_WORKER = 4
POLL_SECONDS = 0.5
RECOVER_SECONDS = 2.0
SENDABLE = (DigestIssueStatus.APPROVED, DigestIssueStatus.SENDING)
MAX_ERRORS_KEPT = 20


class SendError(NewsletterError):
    """A digest cannot be sent as asked (unknown, paused, awaiting approval…)."""


@dataclass(frozen=True)
class Backoff:
    """Exponential delays between attempts of one message: base, base×factor, … up to cap."""

    base: float = 10.0
    factor: float = 2.0
    cap: float = 600.0

    def delay(self, attempts: int) -> float:
        """Seconds to wait after the `attempts`-th failed attempt."""
        return min(self.cap, self.base * self.factor ** max(0, attempts - 1))


@dataclass
class SendReport:
    """What one run did; updated live (the progress callback sees it) and returned at the end."""

    issue_id: str
    digest: str
    dry_run: bool = False
    total: int = 0
    created: int = 0
    already_sent: int = 0
    to_send: int = 0
    sent: int = 0
    failed: int = 0
    retried: int = 0
    skipped: int = 0
    pending: int = 0
    paused: bool = False
    auto_paused: str | None = None
    finished: bool = False
    written: int = 0
    outbox: Path | None = None
    started: float = field(default_factory=time.monotonic)
    elapsed: float = 0.0
    errors: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        """Messages per second so far."""
        elapsed = self.elapsed or (time.monotonic() - self.started)
        return (self.sent + self.failed) / elapsed if elapsed > 0 else 0.0

    @property
    def done(self) -> int:
        """Messages settled in this run (sent, failed or skipped)."""
        return self.sent + self.failed + self.skipped

    def note(self, error: str) -> None:
        """Keep a few error lines for the summary."""
        if len(self.errors) < MAX_ERRORS_KEPT:
            self.errors.append(error)


Progress = Callable[[SendReport], None]


def token_lists(digest_list: str) -> str:
    """What an unsubscribe token of this digest names: every list the digest goes to, so the
    one-click link stops this digest (and only the lists it is sent to)."""
    return ",".join(list_names(digest_list))


def claim_size(to_send: int, connections: int) -> int:
    """Rows a worker claims at a time: large batches cost less per message, but each worker
    should get several batches so that a small list still spreads over every connection."""
    return max(1, min(MAX_CLAIM_BATCH, to_send // (connections * CLAIMS_PER_WORKER)))


class DigestSender:
    """One run of one issue: shared state of the workers (ledger, template, rate, pause)."""

    def __init__(
        self,
        config: Config,
        store: Store,
        issue: DigestIssue,
        template: MessageTemplate,
        report: SendReport,
        *,
        transport: EmailTransport,
        secret: str,
        limit: int | None,
        backoff: Backoff,
        progress: Progress | None,
        shutdown: threading.Event | None = None,
        paused: threading.Event | None = None,
    ):
        self.config = config
        self.store = store
        self.issue = issue
        self.digest_config = config.digest(issue.digest.name)
        self.template = template
        self.report = report
        self.secret = secret
        self.budget = limit
        self.claim_size = claim_size(report.to_send, config.smtp.connections)
        self.backoff = backoff
        self.progress = progress
        self.shutdown = shutdown
        self.paused = paused
        self.ledger = Ledger(store, max_attempts=config.smtp.max_attempts)
        self.transport = transport
        self.token_lists = token_lists(issue.digest.list_name)
        self.envelope_from = self.digest_config.from_address
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.marks = self.ledger.sent_marker(config.smtp.connections)
        self.recovered_at = time.monotonic()

    def run(self) -> None:
        """Send with one worker per session until nothing is due, the budget is spent or a pause."""
        monitor = threading.Thread(target=self._watch_pause, name="send-pause-watch", daemon=True)
        monitor.start()
        workers = [
            threading.Thread(target=self._work, args=(self.transport.session(),), name=f"email-{n}")
            for n in range(self.config.smtp.connections)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        self.stop.set()
        monitor.join()
        self.marks.close()

    def _watch_pause(self) -> None:
        while not self.stop.wait(POLL_SECONDS):
            if self.shutdown is not None and self.shutdown.is_set():
                self.stop.set()
                return
            issue = self.store.issues.get_digest_issue(self.issue.id)
            if issue is not None and issue.status not in SENDABLE:
                self.report.paused = issue.status is DigestIssueStatus.PAUSED
                self.stop.set()

    def _work(self, session: EmailSession) -> None:
        try:
            while not self._stopping() and self._connect(session):
                batch = self._claim()
                if batch is None:
                    return
                if batch:
                    self._send_batch(session, batch)
        except Exception as error:  # a worker must never die silently: stop the run, keep the ledger right
            log.exception("sending worker stopped")
            with self.lock:
                self.report.note(f"worker stopped: {error}")
            self.stop.set()
        finally:
            session.close()

    def _stopping(self) -> bool:
        """True once the run must end: a worker failed, the issue was paused, or the caller asked."""
        if self.shutdown is not None and self.shutdown.is_set():
            self.stop.set()
        if self.paused is not None and self.paused.is_set():
            self.report.paused = True
            self.stop.set()
        return self.stop.is_set()

    def _connect(self, session: EmailSession) -> bool:
        """Open the session before claiming rows; back off on failure, give up after max_attempts."""
        for attempt in range(1, self.config.smtp.max_attempts + 1):
            try:
                session.open()
                return True
            except TransportUnavailable as error:
                with self.lock:
                    self.report.note(str(error))
                if self.stop.wait(self.backoff.delay(attempt)):
                    return False
        return False

    def _claim(self) -> list[Delivery] | None:
        """Claim the next rows (empty: wait and try again; None: nothing left for this worker)."""
        with self.lock:
            size = self.claim_size if self.budget is None else min(self.claim_size, self.budget)
            if size <= 0:
                return None
            if self.budget is not None:
                self.budget -= size
        batch = self.marks.claim_batch(str(DeliveryKind.EMAIL), size, now=utcnow(), issue_id=self.issue.id)
        if self.budget is not None:
            with self.lock:
                self.budget += size - len(batch)
        if batch:
            return batch
        due, claimed = self.ledger.next_due(self.issue.id)
        if due is None and not claimed:
            return None
        if claimed:
            self._recover_dead_claims()
        wait = POLL_SECONDS if due is None else (due - utcnow()).total_seconds()
        if self.stop.wait(min(max(wait, 0.01), POLL_SECONDS * 2)):
            return None
        return []

    def _recover_dead_claims(self) -> None:
        """While rows claimed elsewhere are awaited, settle those whose owner died (a killed
        worker, here or on another host), at most every `RECOVER_SECONDS`."""
        with self.lock:
            if time.monotonic() - self.recovered_at < RECOVER_SECONDS:
                return
            self.recovered_at = time.monotonic()
        self.ledger.recover_dead_claims(issue_id=self.issue.id)

    def _send_batch(self, session: EmailSession, batch: list[Delivery]) -> None:
        statuses = self.store.subscribers.subscriber_statuses([d.payload.get("subscriber_id", 0) for d in batch])
        for index, delivery in enumerate(batch):
            if self._stopping():
                self.ledger.release_many([d.key for d in batch[index:]])
                return
            status = statuses.get(delivery.payload.get("subscriber_id", 0))
            if status != SubscriberStatus.ACTIVE:
                self.ledger.mark_skipped(delivery.key, f"subscriber is {status or 'forgotten'}")
                self._count("skipped")
                continue
            try:
                self._deliver(session, delivery)
            except ConfigError:  # raised before the message went out: nothing of this batch was sent
                self.ledger.release_many([d.key for d in batch[index:]])
                raise

    def _deliver(self, session: EmailSession, delivery: Delivery) -> None:
        """Send one message and record the outcome before the session's next message."""
        try:
            message = self._message_for(delivery)
        except (ValueError, UnicodeError) as error:  # one unusable recipient never stops the others
            reason = f"{delivery.target}: cannot build this copy ({error})"
            self.ledger.mark_failed(delivery.key, reason)
            self._count("failed", reason)
            return
        result = session.send(self.envelope_from, delivery.target, message)
        if result.outcome is Outcome.SENT:
            self.marks.mark(delivery.key, result.reply[:200])
            self._count("sent")
        elif result.outcome is Outcome.PERMANENT:
            self.ledger.mark_failed(delivery.key, result.reply)
            if result.recipient_refused:
                self.store.subscribers.set_subscriber_status(delivery.target, SubscriberStatus.BOUNCED)
            self._count("failed", result.reply)
        else:
            retry_at = utcnow() + timedelta(seconds=self.backoff.delay(delivery.attempts))
            status = self.ledger.mark_retry(delivery.key, result.reply, retry_at)
            self._count("failed" if status is DeliveryStatus.FAILED else "retried", result.reply)

    def _message_for(self, delivery: Delivery) -> bytes:
        """The recipient's MIME copy, with their name and unsubscribe link."""
        token = make_token(self.secret, int(delivery.payload["subscriber_id"]), self.token_lists)
        name, url = delivery.payload.get("name"), unsubscribe_url(self.config, token)
        return self.template.render(delivery.target, name, url)

    def _count(self, outcome: str, error: str | None = None) -> None:
        with self.lock:
            setattr(self.report, outcome, getattr(self.report, outcome) + 1)
            if error:
                self.report.note(error)
            if self.progress is not None:
                self.progress(self.report)


def worker_send(plan: WorkerPlan, shutdown: threading.Event, progress: Progress) -> SendReport:
    """A sender process's part of a send (see `senders.py`): its own store, claim owner and
    sessions, its share of the connections and of the limit; the rows exist and the transport
    was checked by the parent."""
    config = plan.config
    with Store.open(config.database_url()) as store:
        issue = store.issues.get_digest_issue(plan.issue_id)
        if issue is None:
            raise SendError(f"no issue {plan.issue_id} to send")
        report = SendReport(issue_id=issue.id, digest=issue.digest.name, to_send=plan.to_send)
        transport = email_transport(config, plan.template.domain)
        DigestSender(config, store, issue, plan.template, report, transport=transport, secret=secret_from_env(config),
                     limit=plan.limit, backoff=plan.backoff, progress=progress, shutdown=shutdown).run()
    return finish(report)


def finish(report: SendReport) -> SendReport:
    """The report with its run time set, at the end of a run."""
    report.elapsed = time.monotonic() - report.started
    return report
