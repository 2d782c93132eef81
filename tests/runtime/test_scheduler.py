"""The daemon's wiring: catch-up from run history, one runner per database, graceful stop."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from newsletter.config import load_config
from newsletter.runtime.daemon import LEASE_NAME, Daemon, catch_up_jobs
from newsletter.store import RunOutcome, Store


def make_config(tmp_path: Path, **overrides):
    data = {
        "data_dir": str(tmp_path / "data"),
        "digests": [{"name": "hebdo", "schedule": "0 9 * * MON", "list": "abonnes"}],
        "scheduler": {"misfire_grace_seconds": 3600, "lease_ttl_seconds": 1},
        **overrides,
    }
    path = tmp_path / "newsletter.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return load_config(path)


@pytest.fixture
def store(tmp_path):
    with Store.open(f"sqlite:///{tmp_path / 'data' / 'newsletter.db'}", create=True) as opened:
        yield opened


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def record_run(store: Store, job: str, at: datetime) -> None:
    store.runs.finish_run(store.runs.start_run(job, at, now=at), "ok", {}, now=at)


def test_digest_missed_within_grace_runs_once(tmp_path, store):
    config = make_config(tmp_path)
    record_run(store, "digest:hebdo", utc(2026, 3, 2, 8, 0, 5))
    assert catch_up_jobs(config, store, utc(2026, 3, 9, 8, 30)) == {"digest:hebdo": utc(2026, 3, 9, 8, 0)}


def test_digest_missed_beyond_grace_is_recorded_missed_and_not_run(tmp_path, store):
    config = make_config(tmp_path)
    record_run(store, "digest:hebdo", utc(2026, 3, 2, 8, 0, 5))
    assert catch_up_jobs(config, store, utc(2026, 3, 9, 12, 0)) == {}
    last = store.runs.last_runs("digest:hebdo", limit=1)[0]
    assert str(last.outcome) == "missed"
    assert last.scheduled_for == utc(2026, 3, 9, 8, 0)


def test_a_job_that_never_ran_does_not_fire_for_the_past(tmp_path, store):
    assert catch_up_jobs(make_config(tmp_path), store, utc(2026, 3, 9, 8, 30)) == {}


def test_a_long_pause_coalesces_into_one_run_and_records_each_older_miss(tmp_path, store):
    config = make_config(tmp_path, digests=[{"name": "quotidien", "schedule": "0 7 * * *", "list": "abonnes"}])
    record_run(store, "digest:quotidien", utc(2026, 3, 1, 6, 0, 3))
    due = catch_up_jobs(config, store, utc(2026, 3, 10, 6, 20))
    assert due == {"digest:quotidien": utc(2026, 3, 10, 6, 0)}, "inside the window: one run"
    missed = [r for r in store.runs.last_runs("digest:quotidien", limit=50) if r.outcome is RunOutcome.MISSED]
    assert sorted(r.scheduled_for for r in missed) == [utc(2026, 3, day, 6, 0) for day in range(2, 10)]
    assert catch_up_jobs(config, store, utc(2026, 3, 10, 6, 21)) == {}, "misses are recorded once"


def test_jobs_have_fixed_ids_crontab_days_and_first_runs_at_start(tmp_path, store):
    config = make_config(
        tmp_path,
        digests=[{"name": "dimanche", "schedule": "0 9 * * 0", "list": "abonnes"}],
        sources=[{"name": "dossier", "type": "folder", "path": "annonces", "schedule": "*/30 * * * *"}],
        channels=[{"name": "masto", "type": "mastodon", "base_url": "http://127.0.0.1:9",
                   "slots": ["weekdays 09:30, 12:30, 17:00"]}],
    )
    now = utc(2026, 3, 25, 10, 0)  # a Wednesday, 11:00 in Paris
    daemon = Daemon(config, store)
    scheduler = daemon.build_scheduler(now)
    scheduler.start(paused=True)
    try:
        jobs = {job.id: job for job in scheduler.get_jobs()}
        assert set(jobs) == {"ingest:dossier", "digest:dimanche", "post:masto", "mail:confirmations"}
        assert jobs["ingest:dossier"].next_run_time == now, "sources are read at start"
        assert jobs["mail:confirmations"].next_run_time == now, "queued confirmations leave at start"
        sunday = jobs["digest:dimanche"].trigger.get_next_fire_time(None, now)
        assert (sunday.isoformat(), sunday.strftime("%A")) == ("2026-03-29T09:00:00+02:00", "Sunday")
        assert jobs["post:masto"].trigger.get_next_fire_time(None, now).isoformat() == "2026-03-25T12:30:00+01:00"
        assert all(job.max_instances == 1 and job.coalesce and job.misfire_grace_time == 3600
                   for job in jobs.values())
    finally:
        scheduler.shutdown(wait=False)


def run_in_thread(daemon: Daemon) -> threading.Thread:
    thread = threading.Thread(target=daemon.run, daemon=True)
    thread.start()
    return thread


def wait_for(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


def test_second_runner_waits_as_standby_and_takes_over_when_the_first_stops(tmp_path, store):
    config = make_config(tmp_path, digests=[])
    first, second = Daemon(config, store), Daemon(config, Store.open(store.url.render_as_string(False)))
    first_thread = run_in_thread(first)
    wait_for(lambda: store.leases.lease_holder(LEASE_NAME) == first.holder)
    second_thread = run_in_thread(second)
    time.sleep(1.5)
    assert store.leases.lease_holder(LEASE_NAME) == first.holder, "the standby must not take a live lease"
    first.stopping.set()
    first_thread.join(timeout=10)
    assert not first_thread.is_alive()
    wait_for(lambda: store.leases.lease_holder(LEASE_NAME) == second.holder)
    second.stopping.set()
    second_thread.join(timeout=10)
    assert store.leases.lease_holder(LEASE_NAME) is None
