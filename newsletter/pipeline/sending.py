"""The send-digest stage: ledger rows for every recipient, a check that the email transport
(`publish/email/base.py`) can send, then the senders: `smtp.connections` threads, each with a
transport session of its own, in this process or spread over sender processes (`senders.py`).

Every message goes through the ledger: rows are created in batches, claimed in small batches,
and each one is marked sent (committed) as soon as the server answered 250 and before that
connection starts its next message, so a kill duplicates at most the one message in flight
per connection. Transient failures go back to pending with exponential backoff until
`smtp.max_attempts`; permanent refusals are failed and the subscriber marked bounced.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from newsletter.compose.mime import MessageTemplate, build_message_template, preview_unsubscribe_url
from newsletter.config import Config, DigestConfig
from newsletter.core.errors import ConfigError, NewsletterError, PublishError
from newsletter.core.keys import JobKind, email_key, job_id, list_names
from newsletter.core.models import Delivery, DeliveryKind, DeliveryStatus
from newsletter.pipeline.autopause import AutoPause, ErrorBudget
from newsletter.pipeline.digests import write_archive
from newsletter.pipeline.plan import freeze_issue, plan_digest
from newsletter.pipeline.senders import WorkerPlan, process_count, run_workers, worker_plans
from newsletter.pipeline.unsubscribe import make_token, secret_from_env, unsubscribe_url
from newsletter.publish.email.base import (
    EmailSession,
    EmailTransport,
    Outcome,
    TransportUnavailable,
    email_transport,
    send_one,
)
from newsletter.store import DigestIssue, DigestIssueStatus, RunOutcome, Store, SubscriberStatus, utcnow
from newsletter.store.ledger import Ledger

log = logging.getLogger(__name__)

MAX_CLAIM_BATCH = 200
CLAIMS_PER_WORKER = 4
RECIPIENT_PAGE = 5000
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


def find_issue(store: Store, name_or_id: str) -> DigestIssue:
    """The issue with this id, else the newest issue of the digest with this name."""
    issue = store.issues.get_digest_issue(name_or_id)
    if issue is not None:
        return issue
    latest = store.issues.list_digest_issues(digest=name_or_id, limit=1)
    if not latest:
        raise SendError(f"no issue of digest {name_or_id!r} to send: compose one first")
    return latest[0]


@dataclass(frozen=True)
class IssuePlan:
    """The issue a `send digest` run works on, or (issue None) why there is nothing to send."""

    issue: DigestIssue | None
    skip_reason: str | None = None


def issue_to_send(config: Config, store: Store, name_or_id: str, now: datetime, *, dry_run: bool = False) -> IssuePlan:
    """The issue with this id; for a digest name, its unfinished issue (resumed as recorded),
    else a newly frozen one (`digests.freeze_issue`), else the reason nothing is due. A dry
    run renders a new selection without recording it."""
    found = store.issues.get_digest_issue(name_or_id)
    if found is not None:
        return IssuePlan(found)
    if name_or_id not in {digest.name for digest in config.digests}:
        raise SendError(f"{name_or_id!r} is neither a configured digest nor a stored issue id")
    digest_config = config.digest(name_or_id)
    if dry_run:
        plan = plan_digest(config, store, digest_config, now, send_at=now)
        if plan.issue is not None:
            return IssuePlan(plan.issue)
        if plan.digest is None:
            return IssuePlan(None, plan.skip_reason)
        return IssuePlan(DigestIssue(digest=plan.digest, status=DigestIssueStatus.APPROVED, created_at=now))
    frozen = freeze_issue(store, config, digest_config, now)
    if frozen is None:
        reason = plan_digest(config, store, digest_config, now, send_at=now).skip_reason
        return IssuePlan(None, reason or "nothing new to send")
    return IssuePlan(store.issues.get_digest_issue(frozen.issue_id))


def publish_web_copy(config: Config, issue: DigestIssue) -> None:
    """Write the issue's public web copy before its first message goes out, so the « Voir dans
    le navigateur » link works on arrival (rewriting it on a resume is harmless)."""
    try:
        write_archive(config, issue.digest)
    except OSError as error:
        raise SendError(f"cannot write the web copy of {issue.id}: {error}") from None


def pause_digest(store: Store, name_or_id: str, now: datetime) -> DigestIssue:
    """Stop an issue in progress: running senders finish their current message and stop."""
    issue = find_issue(store, name_or_id)
    if not store.issues.set_digest_issue_status(issue.id, DigestIssueStatus.PAUSED, expected=SENDABLE, now=now):
        raise SendError(f"issue {issue.id} is {issue.status}, only approved or sending issues can be paused")
    store.audit.record_action("cli", "send.pause", target=issue.id, now=now)
    return find_issue(store, issue.id)


def resume_digest(store: Store, name_or_id: str, now: datetime) -> DigestIssue:
    """Allow a paused issue to be sent again (the caller then runs `send_digest`)."""
    issue = find_issue(store, name_or_id)
    if not store.issues.set_digest_issue_status(
        issue.id, DigestIssueStatus.SENDING, expected=(DigestIssueStatus.PAUSED,), now=now
    ):
        raise SendError(f"issue {issue.id} is {issue.status}, not paused")
    store.audit.record_action("cli", "send.resume", target=issue.id, now=now)
    return find_issue(store, issue.id)


def token_lists(digest_list: str) -> str:
    """What an unsubscribe token of this digest names: every list the digest goes to, so the
    one-click link stops this digest (and only the lists it is sent to)."""
    return ",".join(list_names(digest_list))


def recipients(store: Store, digest_list: str, page: int = RECIPIENT_PAGE) -> Iterator[tuple[int, str, str | None]]:
    """Active, unsuppressed subscribers of the list(s), once each, by id, read page by page."""
    return store.subscribers.sendable_subscribers(list_names(digest_list), page)


def create_deliveries(ledger: Ledger, store: Store, issue: DigestIssue) -> int:
    """One pending row per recipient of the issue (batched inserts); returns how many were new."""
    rows = (
        (email_key(issue.id, sid), str(DeliveryKind.EMAIL), email, {"subscriber_id": sid, "name": name})
        for sid, email, name in recipients(store, issue.digest.list_name)
    )
    return ledger.ensure_pending(rows, issue_id=issue.id)


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
            self.marks.mark(delivery.key, result.reply[:200], utcnow())
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


def send_digest(
    config: Config,
    store: Store,
    digest: str | DigestIssue,
    *,
    now: datetime,
    limit: int | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
    backoff: Backoff | None = None,
    stop: threading.Event | None = None,
    web_copy: bool = True,
) -> SendReport:
    """Send an issue (by id, digest name or object) to its list through the ledger; with
    `dry_run`, write `.eml` files to the outbox instead and touch nothing. Setting `stop`
    ends the run between messages (the issue stays `sending`, to be resumed). A worker on
    another host leaves the web copy to the scheduler (`web_copy=False`)."""
    issue = find_issue(store, digest) if isinstance(digest, str) else digest
    digest_config = config.digest(issue.digest.name)
    template = build_message_template(issue.digest, digest_config, config, now=now)
    report = SendReport(issue_id=issue.id, digest=issue.digest.name, dry_run=dry_run)
    if dry_run:
        write_outbox(config, store, issue, template, report, limit=limit)
        return _finish(report)
    secret = secret_from_env(config)
    _check_sendable(issue)
    ledger = Ledger(store, max_attempts=config.smtp.max_attempts)
    if issue.status is not DigestIssueStatus.SENT:
        if web_copy:
            publish_web_copy(config, issue)
        store.issues.set_digest_issue_status(issue.id, DigestIssueStatus.SENDING, expected=SENDABLE, now=now)
        ledger.recover_dead_claims(issue_id=issue.id)
        report.created = create_deliveries(ledger, store, issue)
    counts = ledger.counts(issue.id)
    report.total = sum(counts.values())
    report.already_sent = counts[DeliveryStatus.SENT]
    report.to_send = counts[DeliveryStatus.PENDING] if limit is None else min(limit, counts[DeliveryStatus.PENDING])
    if report.to_send or (limit is None and counts[DeliveryStatus.CLAIMED]):
        # Rows another live process is sending are waited for: they end sent, or come back pending.
        backoff = backoff or Backoff()
        transport = ready_transport(config, template.domain, issue, backoff, stop)
        processes = process_count(config, report.to_send)
        guard = AutoPause(store, issue.id, ErrorBudget.of(config.smtp), progress, now)
        if processes > 1:
            plans = worker_plans(config, issue.id, template, backoff, report.to_send, limit, processes)
            run_workers(plans, report, guard, stop)
        else:
            DigestSender(config, store, issue, template, report, transport=transport, secret=secret,
                         limit=limit, backoff=backoff, progress=guard, shutdown=stop, paused=guard.paused).run()
        guard.settle(config, report)
    counts = ledger.counts(issue.id)
    report.pending = counts[DeliveryStatus.PENDING] + counts[DeliveryStatus.CLAIMED]
    if not report.pending and not report.paused:
        report.finished = True
        store.issues.set_digest_issue_status(issue.id, DigestIssueStatus.SENT, expected=(DigestIssueStatus.SENDING,))
    return _finish(report)


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
    return _finish(report)


def ready_transport(
    config: Config, local_hostname: str, issue: DigestIssue, backoff: Backoff, stop: threading.Event | None = None
) -> EmailTransport:
    """The configured transport, checked by opening a session (up to `smtp.max_attempts` times,
    with backoff) before any row is claimed: a missing password or a bad TLS setup is a
    ConfigError, a relay still unreachable a SendError; either way every row stays pending."""
    transport = email_transport(config, local_hostname)
    waiter = stop or threading.Event()
    attempts = config.smtp.max_attempts
    for attempt in range(1, attempts + 1):
        try:
            transport.check()
            return transport
        except TransportUnavailable as error:
            problem = str(error)
        log.warning("email transport not ready (attempt %d of %d): %s", attempt, attempts, problem)
        if attempt == attempts or waiter.wait(backoff.delay(attempt)):
            break
    raise SendError(f"{issue.id} not sent, every message is still pending: {problem}")


def send_outcome(report: SendReport, *, stopped: bool, limited: bool = False) -> tuple[RunOutcome, str | None]:
    """How a send run goes in the run history, for the daemon's digest job and manual sends alike:
    ok when finished (or when `limited` on purpose), skipped when paused by hand, failed when it
    paused itself on errors, interrupted when stopped, else failed with the reason."""
    errors = "; ".join(report.errors) or None
    if report.finished:
        return RunOutcome.OK, errors
    if report.auto_paused:
        return RunOutcome.FAILED, f"issue {report.issue_id} paused automatically: {report.auto_paused}"
    if report.paused:
        return RunOutcome.SKIPPED, f"issue {report.issue_id} was paused while sending"
    if stopped:
        return RunOutcome.INTERRUPTED, f"stopped with {report.pending} message(s) left, resumed at the next start"
    if limited and not report.failed:
        return RunOutcome.OK, f"limited run: {report.pending} message(s) left for the next send"
    return RunOutcome.FAILED, errors or f"{report.pending} message(s) not sent"


def send_counts(store: Store, report: SendReport) -> dict[str, object]:
    """The run-history counts of a send: the issue, the ledger's totals and what this run sent."""
    totals = {status: n for status, n in Ledger(store).counts(report.issue_id).items() if n}
    return {"issue": report.issue_id, **totals, "sent_this_run": report.sent}


def send_recorded(
    config: Config, store: Store, issue: DigestIssue, *, now: datetime, trigger: str, limit: int | None = None,
    progress: Progress | None = None,
) -> SendReport:
    """`send_digest` recorded as a run of the digest's job with its `trigger` (an operator's
    `send digest`, "send now"), so `status` shows manual sends and their failures."""
    run_id = store.runs.start_run(job_id(JobKind.DIGEST, issue.digest.name), now=now)
    counts: dict[str, object] = {"issue": issue.id, "trigger": trigger}
    try:
        report = send_digest(config, store, issue, now=now, limit=limit, progress=progress)
    except NewsletterError as error:
        store.runs.finish_run(run_id, RunOutcome.FAILED, counts, str(error))
        raise
    except BaseException as error:
        store.runs.finish_run(run_id, RunOutcome.INTERRUPTED, counts, f"stopped: {type(error).__name__}")
        raise
    outcome, message = send_outcome(report, stopped=False, limited=limit is not None)
    store.runs.finish_run(run_id, outcome, {**send_counts(store, report), "trigger": trigger}, message)
    return report


def _check_sendable(issue: DigestIssue) -> None:
    if issue.status is DigestIssueStatus.PAUSED:
        raise SendError(f"issue {issue.id} is paused: run `newsletter send resume {issue.digest.name}`")
    if issue.status is DigestIssueStatus.AWAITING_APPROVAL:
        raise SendError(f"issue {issue.id} is awaiting approval")
    if issue.status is DigestIssueStatus.SKIPPED:
        raise SendError(f"issue {issue.id} was skipped ({issue.skip_reason or 'no reason given'})")


def _finish(report: SendReport) -> SendReport:
    report.elapsed = time.monotonic() - report.started
    return report


def safe_filename(text: str) -> str:
    """`text` reduced to characters safe in a file name."""
    return re.sub(r"[^A-Za-z0-9._@+-]+", "_", text)[:120]


def write_outbox(
    config: Config,
    store: Store,
    issue: DigestIssue,
    template: MessageTemplate,
    report: SendReport,
    *,
    limit: int | None,
) -> None:
    """Write each recipient's message as an `.eml` file (real links if the secret is set)."""
    folder = config.resolve(config.outbox_dir) / safe_filename(issue.id)
    folder.mkdir(parents=True, exist_ok=True)
    try:
        secret: str | None = secret_from_env(config)
    except NewsletterError:
        secret = None
    lists_named = token_lists(issue.digest.list_name)
    for number, (sid, email, name) in enumerate(recipients(store, issue.digest.list_name), start=1):
        if limit is not None and number > limit:
            break
        token = make_token(secret, sid, lists_named) if secret else None
        url = unsubscribe_url(config, token) if token else preview_unsubscribe_url(config)
        path = folder / f"{number:06d}-{safe_filename(email)}.eml"
        path.write_bytes(template.render(email, name, url))
        report.written += 1
    report.outbox = folder


def send_test_copy(config: Config, issue: DigestIssue, address: str, *, now: datetime,
                   store: Store | None = None) -> str:
    """Send one copy of the issue to `address` (preview unsubscribe link), bypassing the ledger;
    its web-copy link works once the issue is sending (the archive never shows unsent issues).
    With `store`, the copy's counted links (`tracking.clicks`) are recorded so that they lead
    somewhere even before the issue is."""
    digest_config: DigestConfig = config.digest(issue.digest.name)
    if store is not None and issue.digest.tracked_links:
        store.clicks.record_links(issue.id, issue.digest.tracked_links, now)
    template = build_message_template(issue.digest, digest_config, config, now=now)
    message = template.render(address, None, preview_unsubscribe_url(config))
    try:
        return send_one(email_transport(config, template.domain), digest_config.from_address, address, message)
    except PublishError as error:
        raise SendError(f"test copy to {address} not sent: {error}") from None
