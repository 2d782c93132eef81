"""The send-digest stage: ledger rows for every recipient, a check that the email transport
(`publish/email/base.py`) can send, then the senders (`digest_sender.py`): `smtp.connections`
threads, each with a transport session of its own, in this process or spread over sender
processes (`senders.py`).

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
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from newsletter.compose.mime import MessageTemplate, build_message_template, preview_unsubscribe_url
from newsletter.config import Config, DigestConfig
from newsletter.core.errors import NewsletterError, PublishError
from newsletter.core.keys import JobKind, email_key, job_id, list_names
from newsletter.core.models import DeliveryKind, DeliveryStatus
from newsletter.pipeline.autopause import AutoPause, ErrorBudget
from newsletter.pipeline.digest_sender import (
    SENDABLE,
    Backoff,
    DigestSender,
    Progress,
    SendError,
    SendReport,
    finish,
    token_lists,
)
from newsletter.pipeline.digests import write_archive
from newsletter.pipeline.plan import freeze_issue, plan_digest
from newsletter.pipeline.senders import process_count, run_workers, worker_plans
from newsletter.pipeline.unsubscribe import make_token, secret_from_env, unsubscribe_url
from newsletter.publish.email.base import (
    EmailTransport,
    TransportUnavailable,
    email_transport,
    send_one,
)
from newsletter.store import DigestIssue, DigestIssueStatus, RunOutcome, Store
from newsletter.store.ledger import Ledger

log = logging.getLogger(__name__)

RECIPIENT_PAGE = 5000

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
        return finish(report)
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
    return finish(report)


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
