"""Sender processes: a send spread over spawned worker processes, on SQLite and PostgreSQL, sends
every message exactly once, sums their counts, pauses, and stops when asked."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from newsletter.config import Config, load_config
from newsletter.core.models import DeliveryStatus
from newsletter.pipeline import senders
from newsletter.pipeline.digest_sender import Backoff, SendReport
from newsletter.pipeline.senders import process_count, shares, worker_plans
from newsletter.pipeline.sending import pause_digest, send_digest
from newsletter.store import DigestIssueStatus, Store
from newsletter.store.ledger import Ledger
from tests.fakes.fast_sink import FastSink
from tests.fakes.smtp import TEST_SECRET, TEST_SECRET_ENV, create_issue, seed_subscribers, write_mail_config

NOW = datetime(2025, 3, 24, 8, 0, tzinfo=UTC)
FAST = Backoff(base=0.05, factor=2, cap=0.2)
DATABASE_ENV = "NEWSLETTER_TEST_DATABASE_URL"


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TEST_SECRET_ENV, TEST_SECRET)


def config_on(tmp_path: Path, sink: FastSink, url: str, monkeypatch: pytest.MonkeyPatch, **smtp: object) -> Config:
    """A sending config on database `url` (named by an env var the workers inherit)."""
    path = write_mail_config(tmp_path, sink, **{"connections": 4, "processes": 2, **smtp})
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    path.write_text(yaml.safe_dump({**data, "database": {"url_env": DATABASE_ENV}}), encoding="utf-8")
    monkeypatch.setenv(DATABASE_ENV, url)
    return load_config(path)


def test_two_sender_processes_send_each_message_once(
    tmp_path: Path, fast_smtp_server: FastSink, migrated_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = config_on(tmp_path, fast_smtp_server, migrated_url, monkeypatch)
    with Store.open(migrated_url) as store:
        addresses = seed_subscribers(store, 300)
        issue = create_issue(config, store, NOW)
        seen: list[int] = []
        children: set[str] = set()

        def watch(report: SendReport) -> None:
            seen.append(report.sent)
            children.update(c.name for c in multiprocessing.active_children() if c.name.startswith("sender"))

        report = send_digest(config, store, "hebdo", now=NOW, backoff=FAST, progress=watch)
        assert (report.sent, report.failed, report.finished) == (300, 0, True)
        assert Ledger(store).counts(issue.id)[DeliveryStatus.SENT] == 300
        assert store.issues.get_digest_issue(issue.id).status is DigestIssueStatus.SENT
        owners = {d.payload.get("subscriber_id") for d in Ledger(store).list_deliveries(issue_id=issue.id, limit=400)}
    assert fast_smtp_server.state.snapshot() == {a: 1 for a in addresses}
    assert len(owners) == 300 and seen and seen[-1] == 300
    assert fast_smtp_server.state.connections == 4 + 1, "four sending connections and the parent's check"
    assert children == {"sender-1"}, "the parent sends the first share itself: one process started, not two"


def test_a_limit_is_shared_between_the_processes(
    tmp_path: Path, fast_smtp_server: FastSink, migrated_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = config_on(tmp_path, fast_smtp_server, migrated_url, monkeypatch)
    with Store.open(migrated_url) as store:
        seed_subscribers(store, 400)
        issue = create_issue(config, store, NOW)
        report = send_digest(config, store, "hebdo", now=NOW, backoff=FAST, limit=250)
        assert report.sent == 250 and not report.finished
        assert Ledger(store).counts(issue.id)[DeliveryStatus.PENDING] == 150
        assert send_digest(config, store, "hebdo", now=NOW, backoff=FAST).finished
    assert sum(fast_smtp_server.state.snapshot().values()) == 400


def test_a_pause_stops_every_process_and_a_stop_event_too(
    tmp_path: Path, fast_smtp_server: FastSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    Store.upgrade(url)
    config = config_on(tmp_path, fast_smtp_server, url, monkeypatch, rate_per_second=100)
    with Store.open(url) as store:
        seed_subscribers(store, 400)
        issue = create_issue(config, store, NOW)

        def pause_when_started(report: SendReport) -> None:
            if report.sent >= 20 and store.issues.get_digest_issue(issue.id).status is DigestIssueStatus.SENDING:
                pause_digest(store, issue.id, NOW)

        paused = send_digest(config, store, "hebdo", now=NOW, backoff=FAST, progress=pause_when_started)
        assert paused.paused and not paused.finished and 20 <= paused.sent < 400
        counts = Ledger(store).counts(issue.id)
        assert counts[DeliveryStatus.CLAIMED] == 0 and counts[DeliveryStatus.SENT] == paused.sent
        store.issues.set_digest_issue_status(issue.id, DigestIssueStatus.SENDING, now=NOW)
        stop = threading.Event()
        threading.Timer(1.0, stop.set).start()
        started = time.monotonic()
        stopped = send_digest(config, store, "hebdo", now=NOW, backoff=FAST, stop=stop)
        assert time.monotonic() - started < 10 and not stopped.finished
        assert Ledger(store).counts(issue.id)[DeliveryStatus.CLAIMED] == 0
        assert Ledger(store).counts(issue.id)[DeliveryStatus.SENT] == paused.sent + stopped.sent
    assert sum(fast_smtp_server.state.snapshot().values()) == paused.sent + stopped.sent


def test_processes_connections_and_rates_are_split(tmp_path: Path, fast_smtp_server: FastSink,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    config = config_on(tmp_path, fast_smtp_server, "sqlite://", monkeypatch, connections=5, processes=3,
                       rate_per_second=30, rate_per_hour=1000)
    assert shares(10, 3) == [4, 3, 3]
    assert process_count(config, 10_000) == 3
    assert process_count(config, 150) == 2, "a small send does not start a process per connection"
    plans = worker_plans(config, "i", None, FAST, 1000, 2, 3)  # type: ignore[arg-type]
    assert [(p.config.smtp.connections, p.limit) for p in plans] == [(2, 1), (2, 1)]
    smtp = [p.config.smtp for p in worker_plans(config, "i", None, FAST, 1000, None, 3)]  # type: ignore[arg-type]
    assert [(s.connections, s.rate_per_second, s.rate_per_hour, s.processes) for s in smtp] == [
        (2, 10, 334, 1), (2, 10, 333, 1), (1, 10, 333, 1)
    ]


def test_a_killed_sender_process_costs_at_most_its_connections_and_the_other_finishes(
    tmp_path: Path, fast_smtp_server: FastSink, migrated_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = config_on(tmp_path, fast_smtp_server, migrated_url, monkeypatch, rate_per_second=200)
    killed: list[int] = []

    def kill_one(report: SendReport) -> None:
        children = [child for child in multiprocessing.active_children() if child.name == "sender-1"]
        if report.sent >= 40 and not killed and children and children[0].pid is not None:
            os.kill(children[0].pid, signal.SIGKILL)
            killed.append(children[0].pid)

    with Store.open(migrated_url) as store:
        addresses = seed_subscribers(store, 300)
        issue = create_issue(config, store, NOW)
        report = send_digest(config, store, "hebdo", now=NOW, backoff=FAST, progress=kill_one)
        assert killed and report.finished, report
        assert any("ended without reporting" in error for error in report.errors)
        assert Ledger(store).counts(issue.id)[DeliveryStatus.SENT] == 300
    copies = fast_smtp_server.state.snapshot()
    assert set(copies) == set(addresses)
    assert sum(n - 1 for n in copies.values()) <= 2, "at most one per connection of the killed process"


def test_a_failure_of_the_parents_own_share_is_reported_and_the_other_process_sends_everything(
    tmp_path: Path, fast_smtp_server: FastSink, migrated_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = config_on(tmp_path, fast_smtp_server, migrated_url, monkeypatch)

    def broken(plan: object, connection: object) -> None:
        raise RuntimeError("no share today")

    monkeypatch.setattr(senders, "worker_main", broken)  # the spawned process imports the real one
    with Store.open(migrated_url) as store:
        addresses = seed_subscribers(store, 300)
        issue = create_issue(config, store, NOW)
        report = send_digest(config, store, "hebdo", now=NOW, backoff=FAST)
        assert any("sender-0 failed: no share today" in error for error in report.errors), report.errors
        assert report.sent == 300 and report.finished
        assert Ledger(store).counts(issue.id)[DeliveryStatus.SENT] == 300
    assert fast_smtp_server.state.snapshot() == {a: 1 for a in addresses}
