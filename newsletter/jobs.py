"""The daemon's jobs: one function per job kind, each recorded in the run history.

A job id names its kind and target: `ingest:<source>`, `digest:<digest>`, `post:<channel>`.
The scheduler and `run --once` both go through `run_job`, so a run is recorded the same way.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from newsletter import alerts
from newsletter.config import Config
from newsletter.digests import freeze_issue, unfinished_issues
from newsletter.errors import NewsletterError
from newsletter.ingest import ingest
from newsletter.posting import post_due, queue_posts
from newsletter.sending import send_digest
from newsletter.store import Store

log = logging.getLogger("newsletter.jobs")


@dataclass
class JobResult:
    """How a job ended: its outcome, counts and a message for the run history."""

    outcome: str = "ok"
    counts: dict[str, Any] = field(default_factory=dict)
    message: str | None = None


def job_ids(config: Config) -> list[str]:
    """Every job the config defines, by fixed id."""
    return (
        [f"ingest:{s.name}" for s in config.sources]
        + [f"digest:{d.name}" for d in config.digests]
        + [f"post:{c.name}" for c in config.channels]
    )


def _ingest(config: Config, store: Store, name: str, now: datetime, stop: threading.Event) -> JobResult:
    (report,) = ingest(config, store, now=now, only=name)
    if report.failed and not (report.new or report.updated or report.unchanged):
        return JobResult("failed", report.counts(), "; ".join(report.errors))
    queue_posts(config, store, now)
    return JobResult("ok", report.counts(), "; ".join(report.errors) or None)


def _digest(config: Config, store: Store, name: str, now: datetime, stop: threading.Event) -> JobResult:
    digest_config = config.digest(name)
    issue = freeze_issue(store, config, digest_config, now, record_skip=False)
    if issue is None:
        return JobResult("skipped", {}, f"fewer than {digest_config.min_items} new announcement(s)")
    report = send_digest(config, store, issue.issue_id, now=now, stop=stop)
    return JobResult("ok" if not report.failed else "failed", report.counts(), report.message)


def _post(config: Config, store: Store, name: str, now: datetime, stop: threading.Event) -> JobResult:
    queue_posts(config, store, now)
    report = post_due(config, store, name, now)
    return JobResult("failed" if report.failed else "ok", report.counts(), report.message)


JOB_KINDS: dict[str, Callable[[Config, Store, str, datetime, threading.Event], JobResult]] = {
    "ingest": _ingest,
    "digest": _digest,
    "post": _post,
}


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
    kind, _, name = job_id.partition(":")
    if kind not in JOB_KINDS or job_id not in job_ids(config):
        raise NewsletterError(f"unknown job {job_id!r} (jobs: {', '.join(job_ids(config))})")
    run_id = store.start_run(job_id, scheduled_for, now=now)
    try:
        result = JOB_KINDS[kind](config, store, name, now, stop or threading.Event())
    except NewsletterError as error:
        result = JobResult("failed", {}, str(error))
    except Exception as error:  # a job failure must be recorded and alerted, never kill the daemon
        log.exception("job %s crashed", job_id)
        result = JobResult("failed", {}, f"{type(error).__name__}: {error}")
    store.finish_run(run_id, result.outcome, result.counts, result.message)
    log.info("job %s: %s %s%s", job_id, result.outcome, result.counts,
             f" ({result.message})" if result.message else "")
    if result.outcome == "failed":
        alerts.job_failed(config, store, job_id, result.message or "failed")
    return result


def resume_unfinished(config: Config, store: Store, now: datetime, stop: threading.Event) -> int:
    """Resume digest issues a previous process left half-sent; returns how many were resumed."""
    resumed = 0
    for issue_id, digest_name in unfinished_issues(store):
        if stop.is_set():
            break
        log.info("resuming digest %s issue %s", digest_name, issue_id)
        send_digest(config, store, issue_id, now=now, stop=stop)
        resumed += 1
    return resumed
