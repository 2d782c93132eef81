"""The daemon: APScheduler jobs from the config, one runner per database, catch-up, graceful stop.

Only one process schedules jobs against a database: it holds the runner lease and renews it on
a heartbeat; any other `newsletter run` waits as a standby and takes over when the lease
expires (the holder stopped or died). Jobs are module-level callables with fixed ids; what
they do lives in `jobs.py`. On SIGTERM/SIGINT the runner takes no new work, lets the message
or post in flight finish and be recorded (renewing its lease meanwhile), then releases the lease.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
import uuid
from datetime import datetime, timedelta
from types import FrameType
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

from newsletter.config import Config
from newsletter.core import keys
from newsletter.core.errors import NewsletterError
from newsletter.core.schedules import Schedule, catch_up_decision, merge_schedules
from newsletter.runtime.jobs import JobResult, close_interrupted_runs, digests_to_resume, run_job
from newsletter.runtime.status import job_schedules
from newsletter.store import RunOutcome, Store, utcnow
from newsletter.store.ledger import Ledger

log = logging.getLogger("newsletter.runtime.daemon")
LEASE_NAME = keys.RUNNER_LEASE
MISSED_MESSAGE = "the daemon was not running within the grace window"
_running_daemons: dict[str, Daemon] = {}


class RunnerBusy(NewsletterError):
    """Another runner holds the lease: a one-off job would race its scheduled work."""


def runner_id() -> str:
    """A lease holder name that says where the runner is: host, pid and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def run_once(config: Config, store: Store, job_id: str, stop: threading.Event) -> JobResult:
    """Run one job now (`run --once`) as the runner: holding the lease, renewed on a heartbeat,
    so a daemon cannot run the same work meanwhile; RunnerBusy when a daemon holds it."""
    holder, ttl = runner_id(), config.scheduler.lease_ttl_seconds
    if not store.leases.acquire_lease(LEASE_NAME, holder, ttl):
        raise RunnerBusy(f"a runner holds the lease ({store.leases.lease_holder(LEASE_NAME)}): it runs the scheduled "
                         f"jobs; stop it, or let it run {job_id} at its next slot")
    done = threading.Event()

    def keep_lease() -> None:
        while not done.wait(max(ttl / 3, 0.2)):
            if not store.leases.renew_lease(LEASE_NAME, holder, ttl):
                log.error("runner %s lost the lease: stopping %s", holder, job_id)
                stop.set()
                return

    heartbeat = threading.Thread(target=keep_lease, name="lease-heartbeat", daemon=True)
    heartbeat.start()
    try:
        return run_job(config, store, job_id, utcnow(), stop=stop)
    finally:
        done.set()
        heartbeat.join()
        store.leases.release_lease(LEASE_NAME, holder)


def execute(holder: str, job_id: str) -> None:
    """The callable every scheduled job runs (module level, so APScheduler can reference it)."""
    daemon = _running_daemons.get(holder)
    if daemon is not None:
        daemon.run_scheduled(job_id)


def catch_up_jobs(config: Config, store: Store, now: datetime) -> dict[str, datetime]:
    """Jobs whose scheduled time passed while no daemon ran, with that time: each runs once if
    within the grace window; older fire times are recorded as missed runs and not run."""
    grace = timedelta(seconds=config.scheduler.misfire_grace_seconds)
    due: dict[str, datetime] = {}
    for job_id, schedules in job_schedules(config).items():
        if not schedules or _runs_at_start(job_id, schedules):
            continue
        last = store.runs.last_runs(job_id, limit=1)
        decision = catch_up_decision(merge_schedules(schedules), config.tz, last[0].started_at if last else None,
                                     now, grace)
        for missed_at in decision.missed:
            run_id = store.runs.start_run(job_id, missed_at, now=now)
            store.runs.finish_run(run_id, RunOutcome.MISSED, {}, MISSED_MESSAGE, now=now)
            log.warning("job %s missed its run of %s (%s)", job_id, missed_at.isoformat(), MISSED_MESSAGE,
                        extra={"job": job_id, "outcome": str(RunOutcome.MISSED)})
        if decision.run_now and decision.due_at is not None:
            due[job_id] = decision.due_at
    return due


def _runs_at_start(job_id: str, schedules: list[Schedule]) -> bool:
    """Sources (fresh data) and interval jobs run when the daemon starts; they have no catch-up."""
    return keys.job_kind(job_id) is keys.JobKind.INGEST or any(s.kind == "interval" for s in schedules)


def scheduled_time(schedule: Schedule, config: Config, now: datetime) -> datetime | None:
    """The fire time a run starting at `now` belongs to (the latest within the grace window);
    None for intervals."""
    if schedule.interval is not None:
        return None
    grace = timedelta(seconds=config.scheduler.misfire_grace_seconds)
    return catch_up_decision(schedule, config.tz, now - grace, now, grace).due_at


def first_runs(config: Config, store: Store, now: datetime) -> dict[str, datetime | None]:
    """Jobs that run right at start, with the fire time they stand for: sources (fresh data),
    intervals, catch-ups within the grace window and digests to resume."""
    first: dict[str, datetime | None] = {}
    for job_id, schedules in job_schedules(config).items():
        if _runs_at_start(job_id, schedules):
            first[job_id] = None
    first.update(catch_up_jobs(config, store, now))
    for job_id in digests_to_resume(config, store):
        first.setdefault(job_id, None)
    return first


class Daemon:
    """One `newsletter run` process: standby until it holds the lease, then the scheduler."""

    def __init__(self, config: Config, store: Store):
        self.config = config
        self.store = store
        self.holder = runner_id()
        self.stopping = threading.Event()
        self.work_stop = threading.Event()
        self.ttl = config.scheduler.lease_ttl_seconds
        self.heartbeat = max(self.ttl / 3, 0.2)
        self.stopped_cleanly = True
        self.schedules = {job_id: merge_schedules(s) for job_id, s in job_schedules(config).items() if s}
        self.catch_up: dict[str, datetime | None] = {}
        self._running = 0
        self._idle = threading.Condition()

    def install_signal_handlers(self) -> None:
        """SIGTERM and SIGINT stop taking new work and let the job in flight finish."""
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        log.info("received %s: stopping after the work in flight", signal.Signals(signum).name)
        self.stop()

    def stop(self) -> None:
        """Ask the daemon to stop: no new job starts, running ones end after their current message."""
        self.stopping.set()
        self.work_stop.set()

    def run(self) -> int:
        """Serve until stopped: lead while holding the lease, else wait as a standby. Returns 0."""
        _running_daemons[self.holder] = self
        announced_standby = False
        try:
            while not self.stopping.is_set():
                if self.store.leases.acquire_lease(LEASE_NAME, self.holder, self.ttl):
                    self.lead()
                    announced_standby = False
                elif not announced_standby:
                    log.info("another runner holds the lease (%s): waiting as standby",
                             self.store.leases.lease_holder(LEASE_NAME))
                    announced_standby = True
                self.stopping.wait(self.heartbeat)
        finally:
            self.store.leases.release_lease(LEASE_NAME, self.holder)
            _running_daemons.pop(self.holder, None)
        log.info("runner %s stopped", self.holder)
        return 0

    def lead(self) -> None:
        """Recover, schedule every job (with catch-up and resumes), and keep the lease alive
        until stopped or lost; then let the work in flight finish."""
        self.work_stop = threading.Event()
        if self.stopping.is_set():
            return
        now = utcnow()
        Ledger(self.store).recover_dead_claims(now)
        close_interrupted_runs(self.store, now)
        scheduler = self.build_scheduler(now)
        scheduler.start()
        log.info("runner %s holds the lease: %d job(s) scheduled", self.holder, len(scheduler.get_jobs()))
        try:
            while not self.stopping.wait(self.heartbeat):
                if not self.store.leases.renew_lease(LEASE_NAME, self.holder, self.ttl):
                    log.error("runner %s lost the lease: stopping its jobs", self.holder)
                    break
        finally:
            self.work_stop.set()
            scheduler.shutdown(wait=False)
            self.stopped_cleanly = self._drain()

    def build_scheduler(self, now: datetime) -> BackgroundScheduler:
        """An APScheduler with one job per config entry, by fixed id; jobs due at start
        (sources, intervals, catch-ups, resumes) get their first run now."""
        scheduler = BackgroundScheduler(
            timezone=self.config.tz,
            job_defaults={
                "max_instances": 1,
                "coalesce": True,
                "misfire_grace_time": self.config.scheduler.misfire_grace_seconds,
            },
        )
        self.catch_up = first_runs(self.config, self.store, now)
        for job_id, schedule in self.schedules.items():
            options: dict[str, Any] = {"next_run_time": now} if job_id in self.catch_up else {}
            scheduler.add_job(execute, trigger=schedule.trigger(self.config.tz), args=[self.holder, job_id], id=job_id,
                              name=job_id, replace_existing=True, **options)
        return scheduler

    def run_scheduled(self, job_id: str) -> None:
        """Run one scheduled job unless the daemon is stopping, counted as work in flight."""
        with self._idle:
            if self.work_stop.is_set():
                return
            self._running += 1
        try:
            now = utcnow()
            if job_id in self.catch_up:
                scheduled_for = self.catch_up.pop(job_id)
            else:
                scheduled_for = scheduled_time(self.schedules[job_id], self.config, now)
            run_job(self.config, self.store, job_id, now, scheduled_for=scheduled_for, stop=self.work_stop)
        finally:
            with self._idle:
                self._running -= 1
                self._idle.notify_all()

    def _drain(self) -> bool:
        """Wait for the jobs in flight (renewing the lease so no standby steps in meanwhile);
        False when they outlast `scheduler.stop_timeout_seconds`."""
        deadline = time.monotonic() + self.config.scheduler.stop_timeout_seconds
        while True:
            with self._idle:
                if self._idle.wait_for(lambda: self._running == 0, timeout=self.heartbeat):
                    return True
            if time.monotonic() >= deadline:
                log.error("jobs still running after %.0fs: stopping anyway (the ledger resumes them)",
                          self.config.scheduler.stop_timeout_seconds)
                return False
            self.store.leases.renew_lease(LEASE_NAME, self.holder, self.ttl)
