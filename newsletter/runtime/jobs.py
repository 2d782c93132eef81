"""The daemon's jobs: one function per job kind, each recorded in the run history.

A job id names its kind and target: `ingest:<source>`, `digest:<digest>`, `post:<channel>`,
`mail:confirmations` (the queued subscribe confirmations, whenever a digest offers a list),
`mail:notifications` (approval notifications, whenever a digest or channel needs approval) and
`bounces:imap` (the bounce mailbox, when `bounces.imap.schedule` is set).
The scheduler and `run --once` both go through `run_job`, so a run is recorded, logged and
alerted on the same way. A digest issue left half-sent keeps its run: the run that resumes it
reopens the interrupted record, so one issue is one run, with the ledger's totals as counts.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from newsletter.config import Config
from newsletter.core import keys
from newsletter.core.errors import NewsletterError
from newsletter.core.keys import JobKind
from newsletter.pipeline.actions import is_due
from newsletter.pipeline.bounces import fetch_bounce_mailbox
from newsletter.pipeline.digests import unfinished_issues
from newsletter.pipeline.ingest import ingest
from newsletter.pipeline.notifications import send_notifications
from newsletter.pipeline.plan import freeze_issue
from newsletter.pipeline.posting import post_due, queue_posts
from newsletter.pipeline.revisions import follow_changes
from newsletter.pipeline.sending import send_counts, send_digest, send_outcome
from newsletter.pipeline.subscribe import send_confirmations
from newsletter.runtime import alerts
from newsletter.runtime.status import job_schedules, needs_approval
from newsletter.store import DigestIssueStatus, RunOutcome, RunRecord, Store

log = logging.getLogger("newsletter.runtime.jobs")

INTERRUPTED_MESSAGE = "the runner stopped before this run finished"


@dataclass
class JobResult:
    """How a job ended: its outcome, counts and a message for the run history.

    `alerted` is set when the job already sent a more specific alert than "job failed".
    """

    outcome: str = str(RunOutcome.OK)
    counts: dict[str, Any] = field(default_factory=dict)
    message: str | None = None
    alerted: bool = False


JobFunction = Callable[[Config, Store, str, datetime, threading.Event], JobResult]


@dataclass(frozen=True)
class JobRunner:
    """What a job of one kind runs, and whether its stage writes its own run history."""

    run: JobFunction
    records_own_runs: bool = False


def job_ids(config: Config) -> list[str]:
    """Every job the config defines, by fixed id."""
    return (
        [keys.job_id(JobKind.INGEST, s.name) for s in config.sources]
        + [keys.job_id(JobKind.DIGEST, d.name) for d in config.digests]
        + [keys.job_id(JobKind.POST, c.name) for c in config.channels]
        + [job for job in job_schedules(config) if keys.job_kind(job) is JobKind.BOUNCES]
        + ([keys.job_id(JobKind.MAIL, keys.CONFIRMATIONS)] if config.offered_lists() else [])
        + ([keys.job_id(JobKind.MAIL, keys.NOTIFICATIONS)] if needs_approval(config) else [])
    )


def _ingest(config: Config, store: Store, name: str, now: datetime, stop: threading.Event) -> JobResult:
    (report,) = ingest(config, store, now=now, only=name, follow=follow_changes)
    if report.new or report.updated:
        queue_posts(config, store, now)
    outcome = RunOutcome.FAILED if report.failed else RunOutcome.OK
    return JobResult(str(outcome), report.counts(), "; ".join(report.errors) or None)


def _digest(config: Config, store: Store, name: str, now: datetime, stop: threading.Event) -> JobResult:
    digest_config = config.digest(name)
    frozen = freeze_issue(store, config, digest_config, now, record_skip=False)
    if frozen is None:
        minimum = digest_config.minimum_items
        return JobResult(str(RunOutcome.SKIPPED), {}, f"fewer than {minimum} new announcement(s)")
    issue = store.issues.get_digest_issue(frozen.issue_id)
    if issue is None or issue.status in (DigestIssueStatus.AWAITING_APPROVAL, DigestIssueStatus.PAUSED):
        status = issue.status if issue else "gone"
        return JobResult(str(RunOutcome.SKIPPED), {"issue": frozen.issue_id}, f"issue {frozen.issue_id} is {status}")
    if not is_due(issue, now):
        when = issue.digest.scheduled_for
        return JobResult(str(RunOutcome.SKIPPED), {"issue": issue.id}, f"issue {issue.id} waits for {when}")
    report = send_digest(config, store, issue, now=now, stop=stop)
    outcome, message = send_outcome(report, stopped=stop.is_set())
    return JobResult(str(outcome), send_counts(store, report), message, alerted=report.auto_paused is not None)


def _post(config: Config, store: Store, name: str, now: datetime, stop: threading.Event) -> JobResult:
    was_paused, reason = store.audit.channel_pause(name)
    if was_paused:
        return JobResult(str(RunOutcome.SKIPPED), {}, f"channel paused: {reason or 'no reason given'}")
    queue_posts(config, store, now)
    report = post_due(config, store, name, now)  # alerts itself when it pauses the channel
    failed = bool(report.paused or report.failed or report.uncertain)
    outcome = RunOutcome.FAILED if failed else RunOutcome.OK
    return JobResult(str(outcome), report.counts(), "; ".join(report.errors) or None, alerted=bool(report.paused))


def _bounces(config: Config, store: Store, name: str, now: datetime, stop: threading.Event) -> JobResult:
    run = fetch_bounce_mailbox(config, store, now)
    return JobResult(str(RunOutcome.OK), run.counts(), "; ".join(run.left) or None)


def _mail(config: Config, store: Store, name: str, now: datetime, stop: threading.Event) -> JobResult:
    """Send the queued confirmations, or the approval notifications; only a drain that found work
    is recorded (it runs every few seconds)."""
    if name == keys.NOTIFICATIONS:
        report = send_notifications(config, store, now=now, stop=stop)
    else:
        report = send_confirmations(config, store, stop=stop)
    outcome = RunOutcome.FAILED if report.errors else RunOutcome.OK
    result = JobResult(str(outcome), report.counts(), "; ".join(report.errors) or None)
    if report.did_something:
        run_id = store.runs.start_run(keys.job_id(JobKind.MAIL, name), now=now)
        store.runs.finish_run(run_id, result.outcome, result.counts, result.message)
    return result


JOB_KINDS: dict[str, JobRunner] = {
    "ingest": JobRunner(_ingest, records_own_runs=True),
    "digest": JobRunner(_digest),
    "post": JobRunner(_post),
    "bounces": JobRunner(_bounces),
    "mail": JobRunner(_mail, records_own_runs=True),
}


def job_kind(config: Config, job_id: str) -> tuple[JobRunner, str]:
    """What a configured job runs and the name it runs for; NewsletterError lists the valid ids."""
    parsed = keys.parse_job_id(job_id)
    if parsed is None or job_id not in job_ids(config):
        raise NewsletterError(f"unknown job {job_id!r} (jobs: {', '.join(job_ids(config)) or 'none configured'})")
    return JOB_KINDS[parsed.kind], parsed.name


def run_job(
    config: Config,
    store: Store,
    job_id: str,
    now: datetime,
    *,
    scheduled_for: datetime | None = None,
    stop: threading.Event | None = None,
) -> JobResult:
    """Run one job, record it in the run history, log one line, and alert on failure."""
    kind, name = job_kind(config, job_id)
    started = time.monotonic()
    run_id = None if kind.records_own_runs else _open_run(store, job_id, scheduled_for, now)
    try:
        result = kind.run(config, store, name, now, stop or threading.Event())
    except Exception as error:  # a job failure is recorded and alerted, it never kills the daemon
        result = _crashed(job_id, error)
        if run_id is None:
            run_id = store.runs.start_run(job_id, scheduled_for, now=now)
    if run_id is not None:
        store.runs.finish_run(run_id, result.outcome, result.counts, result.message)
    _log_run(job_id, result, time.monotonic() - started)
    if result.outcome == RunOutcome.FAILED and not result.alerted:
        alerts.job_failed(config, store, job_id, result.message or "failed")
    return result


def _crashed(job_id: str, error: Exception) -> JobResult:
    if isinstance(error, NewsletterError):
        return JobResult(str(RunOutcome.FAILED), {}, str(error))
    log.exception("job %s crashed", job_id)
    return JobResult(str(RunOutcome.FAILED), {}, f"{type(error).__name__}: {error}")


def _open_run(store: Store, job_id: str, scheduled_for: datetime | None, now: datetime) -> int:
    """A new run record, or the interrupted one of a digest issue this run resumes."""
    resumed = _interrupted_digest_run(store, job_id)
    if resumed is not None:
        store.runs.reopen_run(resumed.id)
        return resumed.id
    return store.runs.start_run(job_id, scheduled_for, now=now)


def _interrupted_digest_run(store: Store, job_id: str) -> RunRecord | None:
    parsed = keys.parse_job_id(job_id)
    if parsed is None or parsed.kind is not JobKind.DIGEST:
        return None
    name = parsed.name
    last = store.runs.last_runs(job_id, limit=1)
    if not last or last[0].outcome is not RunOutcome.INTERRUPTED:
        return None
    sending = store.issues.list_digest_issues(digest=name, statuses=[DigestIssueStatus.SENDING], limit=1)
    return last[0] if sending else None


def _log_run(job_id: str, result: JobResult, seconds: float) -> None:
    """One line per run (an error line when it failed), with structured fields for JSON logs."""
    level = logging.ERROR if result.outcome == RunOutcome.FAILED else logging.INFO
    counts = " ".join(f"{key}={value}" for key, value in result.counts.items())
    detail = f" — {result.message}" if result.message else ""
    log.log(level, "job %s %s in %.1fs %s%s", job_id, result.outcome, seconds, counts, detail,
            extra={"job": job_id, "outcome": result.outcome, "counts": result.counts,
                   "duration_s": round(seconds, 3)})


def close_interrupted_runs(store: Store, now: datetime) -> int:
    """Runs a stopped or dead runner left `running` become interrupted; returns how many."""
    return store.runs.interrupt_running(INTERRUPTED_MESSAGE, now=now)


def digests_to_resume(config: Config, store: Store) -> list[str]:
    """Job ids of the configured digests with an issue a previous process left half-sent."""
    configured = {digest.name for digest in config.digests}
    names = [name for _, name in unfinished_issues(store) if name in configured]
    return [keys.job_id(JobKind.DIGEST, name) for name in dict.fromkeys(names)]
