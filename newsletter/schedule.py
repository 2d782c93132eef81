"""The daemon: APScheduler jobs from the config, one runner per database, catch-up, graceful stop.

Only one process schedules jobs against a database: it holds the runner lease and renews it on
a heartbeat; any other `newsletter run` waits as a standby and takes over when the lease
expires. Jobs are module-level callables with fixed ids; what they do lives in `jobs.py`.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import uuid
from datetime import datetime, timedelta
from types import FrameType

from apscheduler.schedulers.background import BackgroundScheduler

from newsletter.config import Config
from newsletter.jobs import resume_unfinished, run_job
from newsletter.ledger import Ledger
from newsletter.schedule_grammar import catch_up_decision, combined_trigger, merge_schedules
from newsletter.status import job_schedules
from newsletter.store import Store, utcnow

log = logging.getLogger("newsletter.schedule")
LEASE_NAME = "runner"
_active: Daemon | None = None


def execute(job_id: str) -> None:
    """The callable every scheduled job runs (module level, so APScheduler can reference it)."""
    daemon = _active
    if daemon is None or daemon.stopping.is_set():
        return
    run_job(daemon.config, daemon.store, job_id, utcnow(), stop=daemon.stopping)


def catch_up_jobs(config: Config, store: Store, now: datetime) -> list[str]:
    """Jobs whose scheduled time passed while no daemon ran: run once if within grace, else recorded missed."""
    grace = timedelta(seconds=config.scheduler.misfire_grace_seconds)
    due = []
    for job_id, schedules in job_schedules(config).items():
        if job_id.startswith("ingest:") or not schedules or any(s.kind == "interval" for s in schedules):
            continue
        last = store.last_runs(job_id, limit=1)
        schedule = merge_schedules(schedules)
        decision = catch_up_decision(schedule, config.tz, last[0].started_at if last else None, now, grace)
        for missed_at in decision.missed:
            run_id = store.start_run(job_id, missed_at, now=now)
            store.finish_run(run_id, "missed", {}, "the daemon was not running within the grace window", now=now)
        if decision.run_now:
            due.append(job_id)
    return due


class Daemon:
    """One `newsletter run` process: standby until it holds the lease, then the scheduler."""

    def __init__(self, config: Config, store: Store):
        self.config = config
        self.store = store
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.stopping = threading.Event()
        self.ttl = config.scheduler.lease_ttl_seconds
        self.heartbeat = max(self.ttl / 3, 0.2)

    def install_signal_handlers(self) -> None:
        """SIGTERM and SIGINT stop taking new work and let the job in flight finish."""
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        log.info("received %s: stopping after the work in flight", signal.Signals(signum).name)
        self.stopping.set()

    def run(self) -> int:
        """Serve until stopped: lead while holding the lease, else wait as a standby. Returns 0."""
        global _active
        _active = self
        announced_standby = False
        try:
            while not self.stopping.is_set():
                if self.store.acquire_lease(LEASE_NAME, self.holder, self.ttl, utcnow()):
                    log.info("runner %s holds the lease: scheduling jobs", self.holder)
                    self.lead()
                    announced_standby = False
                elif not announced_standby:
                    log.info("another runner holds the lease (%s): waiting as standby",
                             self.store.lease_holder(LEASE_NAME))
                    announced_standby = True
                self.stopping.wait(self.heartbeat)
        finally:
            self.store.release_lease(LEASE_NAME, self.holder)
            _active = None
        log.info("runner %s stopped", self.holder)
        return 0

    def lead(self) -> None:
        """Schedule every job, resume and catch up, and keep the lease alive until stopped or lost."""
        now = utcnow()
        Ledger(self.store).recover_after_crash(now)
        scheduler = self.build_scheduler(now)
        scheduler.start()
        resume_unfinished(self.config, self.store, now, self.stopping)
        try:
            while not self.stopping.wait(self.heartbeat):
                if not self.store.renew_lease(LEASE_NAME, self.holder, self.ttl, utcnow()):
                    log.error("runner %s lost the lease: stopping its jobs", self.holder)
                    break
        finally:
            scheduler.shutdown(wait=True)

    def build_scheduler(self, now: datetime) -> BackgroundScheduler:
        """An APScheduler with one job per config entry (fixed ids) plus one-off catch-up runs."""
        scheduler = BackgroundScheduler(
            timezone=self.config.tz,
            job_defaults={
                "max_instances": 1,
                "coalesce": True,
                "misfire_grace_time": self.config.scheduler.misfire_grace_seconds,
            },
        )
        for job_id, schedules in job_schedules(self.config).items():
            if not schedules:
                continue
            scheduler.add_job(execute, trigger=combined_trigger(schedules, self.config.tz), args=[job_id],
                              id=job_id, name=job_id, replace_existing=True)
        for job_id in catch_up_jobs(self.config, self.store, now):
            log.info("catching up %s (missed while the daemon was down)", job_id)
            scheduler.add_job(execute, args=[job_id], id=f"{job_id}:catch-up", name=f"{job_id} (catch-up)",
                              replace_existing=True, next_run_time=now)
        for source in self.config.sources:
            scheduler.add_job(execute, args=[f"ingest:{source.name}"], id=f"ingest:{source.name}:start",
                              replace_existing=True, next_run_time=now)
        return scheduler
