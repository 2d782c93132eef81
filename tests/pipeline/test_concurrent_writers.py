"""Writers that cannot collide: several real sender processes (and a runner) on one database,
SQLite and PostgreSQL, with nobody killed: every recipient gets exactly one copy."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from newsletter.config import load_config
from newsletter.core.models import DeliveryStatus
from newsletter.pipeline.plan import freeze_issue
from newsletter.store import RunOutcome, Store
from newsletter.store.ledger import Ledger
from tests.fakes.daemon_env import seed_announcements, write_daemon_config
from tests.fakes.smtp import TEST_SECRET, TEST_SECRET_ENV, SmtpServer, create_issue, seed_subscribers

REPO = Path(__file__).resolve().parents[2]
DATABASE_ENV = "NEWSLETTER_TEST_DATABASE_URL"
RECIPIENTS = 240


def shared_config(tmp_path: Path, server: SmtpServer) -> Path:
    """A config whose database comes from the environment, sending at 100 messages/s per process
    so that the processes started below overlap."""
    smtp = {"host": "127.0.0.1", "port": server.port, "timeout": 5, "connections": 2, "max_attempts": 3,
            "rate_per_second": 100}
    return write_daemon_config(tmp_path, smtp=smtp, database={"url_env": DATABASE_ENV})


def start(config_path: Path, url: str, *arguments: str) -> subprocess.Popen[str]:
    """`python -m newsletter <arguments> -c config` in its own process, on database `url`."""
    env = {**os.environ, TEST_SECRET_ENV: TEST_SECRET, DATABASE_ENV: url}
    return subprocess.Popen([sys.executable, "-m", "newsletter", *arguments, "-c", str(config_path)],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finish(processes: list[subprocess.Popen[str]]) -> list[str]:
    """Wait for every process; asserts each succeeded and returns their outputs."""
    outputs = [process.communicate(timeout=120)[0] for process in processes]
    for process, output in zip(processes, outputs, strict=True):
        assert process.returncode == 0, output
    return outputs


def test_four_senders_started_seconds_apart_send_each_message_once(
    tmp_path: Path, smtp_server: SmtpServer, migrated_url: str
) -> None:
    config_path = shared_config(tmp_path, smtp_server)
    config = load_config(config_path)
    with Store.open(migrated_url) as store:
        addresses = seed_subscribers(store, RECIPIENTS)
        issue = create_issue(config, store, datetime.now(UTC))
    senders = []
    for _ in range(4):
        senders.append(start(config_path, migrated_url, "send", "digest", "hebdo"))
        time.sleep(0.4)
    finish(senders)
    assert smtp_server.handler.copies() == {address: 1 for address in addresses}
    with Store.open(migrated_url) as store:
        assert Ledger(store).counts(issue.id)[DeliveryStatus.SENT] == RECIPIENTS


def test_runner_and_an_operator_send_race_without_duplicates_or_failed_job(
    tmp_path: Path, smtp_server: SmtpServer, migrated_url: str
) -> None:
    config_path = shared_config(tmp_path, smtp_server)
    with Store.open(migrated_url) as store:
        addresses = seed_subscribers(store, RECIPIENTS)
        seed_announcements(store, datetime.now(UTC) - timedelta(minutes=5))
    runner = start(config_path, migrated_url, "run", "--once", "digest:hebdo")
    time.sleep(0.3)
    operator = start(config_path, migrated_url, "send", "digest", "hebdo")
    runner_output, _ = finish([runner, operator])
    assert "digest:hebdo: ok" in runner_output
    assert smtp_server.handler.copies() == {address: 1 for address in addresses}
    with Store.open(migrated_url) as store:
        assert len(store.issues.list_digest_issues(digest="hebdo")) == 1, "both froze the same issue"
        outcomes = [run.outcome for run in store.runs.last_runs("digest:hebdo")]
        assert RunOutcome.FAILED not in outcomes and RunOutcome.INTERRUPTED not in outcomes


def test_two_racing_freezes_record_one_issue(tmp_path: Path, smtp_server: SmtpServer, migrated_url: str) -> None:
    """Both plans are made before either is recorded; the freezes are a minute apart, so the two
    plans have different issue ids: only the database's (digest, follows) constraint stops the second."""
    config = load_config(shared_config(tmp_path, smtp_server))
    now = datetime.now(UTC)
    with Store.open(migrated_url) as store:
        seed_subscribers(store, 3)
        seed_announcements(store, now - timedelta(minutes=5))
    both_planned = threading.Barrier(2)
    frozen: list[str | None] = []

    def freeze(at: datetime) -> None:
        with Store.open(migrated_url) as store:
            record = store.issues.create_digest_issue

            def record_after_both_planned(*args, **kwargs):  # type: ignore[no-untyped-def]
                with contextlib.suppress(threading.BrokenBarrierError):  # a re-planned attempt records alone
                    both_planned.wait(timeout=10)
                return record(*args, **kwargs)

            store.issues.create_digest_issue = record_after_both_planned  # type: ignore[method-assign]
            digest = freeze_issue(store, config, config.digest("hebdo"), at)
            frozen.append(digest.issue_id if digest else None)

    threads = [threading.Thread(target=freeze, args=(now + timedelta(minutes=n),)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    with Store.open(migrated_url) as store:
        issues = store.issues.list_digest_issues(digest="hebdo")
    assert len(issues) == 1
    assert frozen == [issues[0].id, issues[0].id], "the loser returns the winner's issue"
