"""The real daemon as a subprocess: interval schedules, SMTP and social API fakes on loopback,
SIGTERM and SIGKILL mid-digest, and two daemons on one SQLite file."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from newsletter.core.models import DeliveryKind, DeliveryStatus
from newsletter.runtime.daemon import LEASE_NAME
from newsletter.store import RunOutcome, Store
from newsletter.store.ledger import Ledger
from tests.conftest import REPO_ROOT
from tests.fakes.daemon_env import open_config_store, seed_announcements, write_daemon_config
from tests.fakes.smtp import TEST_SECRET, TEST_SECRET_ENV, SmtpServer, seed_subscribers

EVERY_SECOND = {"every": "1s"}


class DaemonProcess:
    """`newsletter run` in a subprocess, its JSON log lines in a file."""

    def __init__(self, config_path: Path, log_path: Path):
        env = {**os.environ, TEST_SECRET_ENV: TEST_SECRET, "MASTODON_ACCESS_TOKEN": "masto-token"}
        self.log_path = log_path
        self.log_file = log_path.open("w", encoding="utf-8")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "newsletter", "run", "-c", str(config_path), "--log-format", "json"],
            stdout=self.log_file, stderr=self.log_file, env=env, cwd=REPO_ROOT,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_lines(self) -> list[dict]:
        """The JSON log lines written so far (a non-JSON line fails the test)."""
        return [json.loads(line) for line in self.log_path.read_text("utf-8").splitlines() if line.strip()]

    def terminate(self, timeout: float = 10.0) -> tuple[int, float]:
        """SIGTERM; the exit code and how long the exit took."""
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=timeout)
        return code, time.monotonic() - started

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=10)

    def close(self) -> None:
        if self.process.poll() is None:
            self.kill()
        self.log_file.close()


@pytest.fixture
def daemons(tmp_path) -> Iterator[Callable[[Path], DaemonProcess]]:
    started: list[DaemonProcess] = []

    def start(config_path: Path) -> DaemonProcess:
        daemon = DaemonProcess(config_path, tmp_path / f"daemon-{len(started)}.log")
        started.append(daemon)
        return daemon

    yield start
    for daemon in started:
        daemon.close()


def wait_for(condition: Callable[[], bool], timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} not reached within {timeout}s"
        time.sleep(0.05)


def email_counts(store: Store) -> dict[str, int]:
    rows = Ledger(store).list_deliveries(kind=str(DeliveryKind.EMAIL), limit=10_000)
    counts = {str(status): 0 for status in DeliveryStatus}
    for row in rows:
        counts[str(row.status)] += 1
    return counts


def holder_pid(store: Store) -> int | None:
    holder = store.leases.lease_holder(LEASE_NAME)
    return int(holder.split(":")[1]) if holder else None


def digest_env(tmp_path: Path, server: SmtpServer, recipients: int, **sections) -> tuple[Path, Store, list[str]]:
    path = write_daemon_config(tmp_path, smtp_port=server.port, digest_schedule=EVERY_SECOND, **sections)
    _, store = open_config_store(path)
    addresses = seed_subscribers(store, recipients)
    seed_announcements(store, datetime.now(UTC))
    return path, store, addresses


def test_daemon_ingests_sends_posts_and_stops_cleanly_on_sigterm(tmp_path, smtp_server, fake_mastodon, daemons):
    shutil.copytree(REPO_ROOT / "config" / "examples", tmp_path / "annonces")
    source = {"name": "dossier", "type": "folder", "path": "annonces", "backfill": 3, "schedule": EVERY_SECOND}
    channel = {"name": "masto", "type": "mastodon", "base_url": fake_mastodon.url, "variants": ["quote"],
               "timeout": 2, "slots": [EVERY_SECOND]}
    path = write_daemon_config(tmp_path, smtp_port=smtp_server.port, digest_schedule=EVERY_SECOND,
                               sources=[source], channels=[channel])
    _, store = open_config_store(path)
    addresses = seed_subscribers(store, 5)
    daemon = daemons(path)
    ledger = Ledger(store)
    wait_for(lambda: email_counts(store)["sent"] == 5, what="the digest sent to 5 subscribers")
    wait_for(lambda: len(ledger.list_deliveries(kind=str(DeliveryKind.POST), status=DeliveryStatus.SENT)) >= 2,
             what="two posts published")
    code, seconds = daemon.terminate()
    assert code == 0 and seconds < 5
    assert smtp_server.handler.copies() == {address: 1 for address in addresses}
    posts = ledger.list_deliveries(kind=str(DeliveryKind.POST), status=DeliveryStatus.SENT)
    parts = sum(len((row.provider_id or "").split(",")) for row in posts)
    assert len(fake_mastodon.calls("/api/v1/statuses")) == parts  # every thread part once
    ok_runs = [line for line in daemon.log_lines() if line.get("outcome") == "ok"]
    assert {"ingest:dossier", "digest:hebdo", "post:masto"} <= {line["job"] for line in ok_runs}
    assert sum(line["counts"]["new"] for line in ok_runs if line["job"] == "ingest:dossier") == 3
    assert store.leases.lease_holder(LEASE_NAME) is None, "the lease is released on stop"
    store.close()


def test_sigterm_mid_digest_exits_fast_and_a_restart_resumes_without_resending(tmp_path, smtp_server, daemons):
    path, store, addresses = digest_env(tmp_path, smtp_server, 200)
    smtp_server.handler.slow_mail, smtp_server.handler.slow_seconds = 10_000, 0.05
    first = daemons(path)
    wait_for(lambda: len(smtp_server.handler.received) >= 10, what="the digest under way")
    code, seconds = first.terminate()
    assert code == 0 and seconds < 3, f"exit {code} after {seconds:.1f}s"
    accepted = len(smtp_server.handler.received)
    counts = email_counts(store)
    assert accepted < 200
    assert counts["sent"] == accepted, "each message the server accepted is recorded as sent"
    assert counts["claimed"] == 0
    assert store.runs.last_runs("digest:hebdo", limit=1)[0].outcome is RunOutcome.INTERRUPTED

    smtp_server.handler.slow_mail = 0
    second = daemons(path)
    wait_for(lambda: email_counts(store)["sent"] == 200, what="the resumed digest finished")
    assert second.terminate()[0] == 0
    assert smtp_server.handler.copies() == {address: 1 for address in addresses}
    sending_runs = [r for r in store.runs.last_runs("digest:hebdo", limit=100) if r.outcome is not RunOutcome.SKIPPED]
    assert [r.outcome for r in sending_runs] == [RunOutcome.OK], "one issue, one run"
    assert sending_runs[0].counts["sent"] == 200
    store.close()


def test_sigkill_mid_digest_then_restart_reaches_everyone_once(tmp_path, smtp_server, daemons):
    path, store, addresses = digest_env(tmp_path, smtp_server, 60)
    smtp_server.handler.slow_mail, smtp_server.handler.slow_seconds = 10_000, 0.05
    first = daemons(path)
    wait_for(lambda: len(smtp_server.handler.received) >= 10, what="the digest under way")
    first.kill()
    smtp_server.handler.slow_mail = 0
    second = daemons(path)
    wait_for(lambda: email_counts(store)["sent"] == 60, what="the resumed digest finished")
    assert second.terminate()[0] == 0
    copies = smtp_server.handler.copies()
    assert set(copies) == set(addresses)
    duplicates = sum(n - 1 for n in copies.values())
    assert duplicates <= 2, f"{duplicates} duplicates for 2 open SMTP connections"
    store.close()


def test_two_daemons_on_one_sqlite_file_send_once_and_the_standby_takes_over(tmp_path, smtp_server, daemons):
    path, store, addresses = digest_env(tmp_path, smtp_server, 30)
    first, second = daemons(path), daemons(path)
    wait_for(lambda: email_counts(store)["sent"] == 30, what="the digest sent")
    leader = holder_pid(store)
    assert leader in (first.pid, second.pid)
    time.sleep(1.5)
    assert smtp_server.handler.copies() == {address: 1 for address in addresses}
    active, standby = (first, second) if leader == first.pid else (second, first)
    lines = standby.log_lines()
    assert not any(line.get("job") for line in lines), "the standby ran no job"
    assert active.terminate()[0] == 0
    wait_for(lambda: holder_pid(store) == standby.pid, timeout=10, what="the standby taking over")
    assert standby.terminate()[0] == 0
    assert smtp_server.handler.copies() == {address: 1 for address in addresses}
    store.close()


def test_run_once_runs_one_job_now_beside_no_daemon_and_an_invalid_config_refuses_to_start(tmp_path, smtp_server):
    path, store, addresses = digest_env(tmp_path, smtp_server, 3)
    env = {**os.environ, TEST_SECRET_ENV: TEST_SECRET}
    once = subprocess.run([sys.executable, "-m", "newsletter", "run", "-c", str(path), "--once", "digest:hebdo"],
                          capture_output=True, text=True, env=env, cwd=REPO_ROOT, timeout=60)
    assert once.returncode == 0, once.stderr
    assert "digest:hebdo: ok" in once.stdout
    assert smtp_server.handler.copies() == {address: 1 for address in addresses}
    assert store.leases.lease_holder(LEASE_NAME) is None, "the one-off run gives the lease back"

    assert store.leases.acquire_lease(LEASE_NAME, "autre-serveur:4242:cafe0001", 60)
    busy = subprocess.run([sys.executable, "-m", "newsletter", "run", "-c", str(path), "--once", "post:masto"],
                          capture_output=True, text=True, env=env, cwd=REPO_ROOT, timeout=60)
    assert busy.returncode == 1
    assert "a runner holds the lease (autre-serveur:4242:cafe0001)" in busy.stderr
    assert store.runs.last_runs("post:masto") == [], "nothing ran beside the daemon"
    store.leases.release_lease(LEASE_NAME, "autre-serveur:4242:cafe0001")
    store.close()

    broken = write_daemon_config(tmp_path, digest_schedule="0 9 * * MON", branding={"primary_color": "#fefefe"})
    refused = subprocess.run([sys.executable, "-m", "newsletter", "run", "-c", str(broken)],
                             capture_output=True, text=True, env=env, cwd=REPO_ROOT, timeout=60)
    assert refused.returncode == 2
    assert "branding.primary_color" in refused.stderr and "refusing to start" in refused.stderr
