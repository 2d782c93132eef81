"""What `newsletter status` shows: jobs, their schedules in words, next and last runs, failures."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from newsletter.config import Config
from newsletter.core import keys
from newsletter.core.keys import JobKind
from newsletter.core.schedules import Schedule, describe, merge_schedules, next_fire_times, parse_schedule
from newsletter.store import RunOutcome, RunRecord, Store

DEFAULT_INGEST_SCHEDULE = parse_schedule({"every": "10m"})
RECENT_RUNS = 5
MISSED_SHOWN = 10
BOUNCE_DAYS = 7
BOUNCE_MAILBOX_JOB = keys.job_id(JobKind.BOUNCES, "imap")


def job_schedules(config: Config) -> dict[str, list[Schedule]]:
    """Every job the daemon runs, by fixed id, with its schedules."""
    jobs: dict[str, list[Schedule]] = {}
    for source in config.sources:
        jobs[keys.job_id(JobKind.INGEST, source.name)] = [source.schedule or DEFAULT_INGEST_SCHEDULE]
    for digest in config.digests:
        jobs[keys.job_id(JobKind.DIGEST, digest.name)] = [digest.schedule]
    for channel in config.channels:
        jobs[keys.job_id(JobKind.POST, channel.name)] = list(channel.slots)
    if config.bounces.imap is not None and config.bounces.imap.schedule is not None:
        jobs[BOUNCE_MAILBOX_JOB] = [config.bounces.imap.schedule]
    if config.offered_lists():
        jobs[keys.job_id(JobKind.MAIL, keys.CONFIRMATIONS)] = [config.public.confirmation_schedule]
    if needs_approval(config):
        jobs[keys.job_id(JobKind.MAIL, keys.NOTIFICATIONS)] = [config.public.confirmation_schedule]
    return jobs


def needs_approval(config: Config) -> bool:
    """Whether any digest or channel waits for approval (approvers are then told by mail)."""
    return any(d.require_approval for d in config.digests) or any(c.require_approval for c in config.channels)


def _iso(moment: datetime | None, config: Config) -> str | None:
    return moment.astimezone(config.tz).isoformat() if moment else None


def collect_status(config: Config, store: Store, now: datetime) -> dict[str, Any]:
    """The daemon's state as JSON-ready data for `status` and the health endpoint."""
    jobs = []
    for job_id, schedules in job_schedules(config).items():
        runs = store.runs.last_runs(job_id, limit=RECENT_RUNS)
        missed = [run for run in store.runs.last_runs(job_id, limit=200) if run.outcome is RunOutcome.MISSED]
        next_run = next_fire_times(merge_schedules(schedules), now, config.tz, 1) if schedules else []
        jobs.append({
            "id": job_id,
            "schedule": "; ".join(describe(s, config.locale) for s in schedules) or "—",
            "next_run": _iso(next_run[0], config) if next_run else None,
            "last_run": _run_summary(runs[0], config) if runs else None,
            "recent_runs": [_run_summary(run, config) for run in runs],
            "missed_runs": [_iso(run.scheduled_for, config) for run in missed[:MISSED_SHOWN]],
        })
    return {
        "now": _iso(now, config),
        "jobs": jobs,
        "sources_in_error": _sources_in_error(config, store),
        "skipped_documents": skipped_documents(config, store),
        "paused_channels": _paused_channels(config, store),
        "posts_in_doubt": _posts_in_doubt(store),
        "bounces": _recent_bounces(store, now),
    }


def collect_health(config: Config, store: Store, now: datetime) -> dict[str, Any]:
    """`collect_status` plus `ok`, the lease holder and the problems that make it not ok: what
    `GET /health` of the review app and of `newsletter run --health-port` answer."""
    status = collect_status(config, store, now)
    holder = store.leases.lease_holder(keys.RUNNER_LEASE)
    problems = [] if holder else ["no runner holds the lease (absent or stale): is `newsletter run` running?"]
    for job in status["jobs"]:
        last = job["last_run"]
        if last and last["outcome"] == "failed":
            problems.append(f"job {job['id']} failed at {last['started_at']}: {last['message'] or 'no message'}")
    return {"ok": not problems, "problems": problems, "runner": holder, **status}


def _run_summary(run: RunRecord, config: Config) -> dict[str, Any]:
    return {
        "outcome": str(run.outcome),
        "scheduled_for": _iso(run.scheduled_for, config),
        "started_at": _iso(run.started_at, config),
        "finished_at": _iso(run.finished_at, config),
        "counts": run.counts,
        "message": run.message,
    }


def _sources_in_error(config: Config, store: Store) -> list[dict[str, Any]]:
    failing = []
    for source in config.sources:
        runs = store.runs.last_runs(keys.job_id(JobKind.INGEST, source.name), limit=1)
        if runs and runs[0].outcome is RunOutcome.FAILED:
            state = store.source_states.get_source_state(source.name) or {}
            since = state.get("failing_since") or runs[0].started_at
            failing.append({"name": source.name, "error": runs[0].message, "since": _iso(since, config)})
    return failing


def skipped_documents(config: Config, store: Store) -> list[dict[str, str]]:
    """The documents each source's last successful run skipped, each with its reason."""
    skipped = []
    for source in config.sources:
        data = (store.source_states.get_source_state(source.name) or {}).get("data") or {}
        for message in data.get("skipped") or [] if isinstance(data, dict) else []:
            skipped.append({"source": source.name, "reason": str(message)})
    return skipped


def _paused_channels(config: Config, store: Store) -> list[dict[str, Any]]:
    paused = []
    for channel in config.channels:
        is_paused, reason = store.audit.channel_pause(channel.name)
        if is_paused:
            paused.append({"name": channel.name, "reason": reason})
    return paused


def _recent_bounces(store: Store, now: datetime) -> dict[str, Any]:
    """Bounce and complaint reports of the last `BOUNCE_DAYS` days, by kind."""
    counts = store.bounces.counts_since(now - timedelta(days=BOUNCE_DAYS))
    return {"days": BOUNCE_DAYS, **{str(kind): count for kind, count in counts.items()}}


def _posts_in_doubt(store: Store) -> list[dict[str, Any]]:
    """Posts being sent (claimed) or whose outcome is unknown (uncertain), with their parts known."""
    from newsletter.pipeline.posting import posts_in_doubt

    rows = posts_in_doubt(store, limit=MISSED_SHOWN * 10)
    return [{"key": row.key, "channel": row.target, "status": str(row.status), "error": row.error,
             "provider_id": row.provider_id, "url": row.provider_url} for row in rows]
