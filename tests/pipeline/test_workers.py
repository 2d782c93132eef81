"""Scale-out on PostgreSQL: three `newsletter worker` processes send one issue the scheduler
started; every recipient gets one copy, and a worker SIGKILLed mid-send costs at most one
duplicate per open connection while the others finish its rows."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from newsletter.config import load_config
from newsletter.core.models import DeliveryStatus
from newsletter.store import DigestIssue, DigestIssueStatus, Store
from newsletter.store.ledger import Ledger
from tests.fakes.daemon_env import write_daemon_config
from tests.fakes.smtp import TEST_SECRET, TEST_SECRET_ENV, SmtpServer, create_issue, seed_subscribers

REPO = Path(__file__).resolve().parents[2]
DATABASE_ENV = "NEWSLETTER_TEST_DATABASE_URL"
RECIPIENTS = 300
CONNECTIONS = 2

pytestmark = pytest.mark.postgres


def started_issue(tmp_path: Path, server: SmtpServer, url: str) -> tuple[Path, DigestIssue, list[str]]:
    """A config (each worker: one process, two connections, 60 messages/s) and an issue the
    scheduler left in `sending` state."""
    smtp = {"host": "127.0.0.1", "port": server.port, "timeout": 5, "connections": CONNECTIONS, "processes": 1,
            "max_attempts": 3, "rate_per_second": 60}
    config_path = write_daemon_config(tmp_path, smtp=smtp, database={"url_env": DATABASE_ENV})
    config = load_config(config_path)
    with Store.open(url) as store:
        addresses = seed_subscribers(store, RECIPIENTS)
        issue = create_issue(config, store, datetime.now(UTC))
        store.issues.set_digest_issue_status(issue.id, DigestIssueStatus.SENDING, now=datetime.now(UTC))
    return config_path, issue, addresses


def start_worker(config_path: Path, url: str) -> subprocess.Popen[str]:
    """`python -m newsletter worker --until-idle` in its own process."""
    env = {**os.environ, TEST_SECRET_ENV: TEST_SECRET, DATABASE_ENV: url}
    return subprocess.Popen(
        [sys.executable, "-m", "newsletter", "worker", "--until-idle", "--poll", "0.2", "-c", str(config_path)],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


def finished(url: str, issue: DigestIssue) -> None:
    with Store.open(url) as store:
        assert Ledger(store).counts(issue.id)[DeliveryStatus.SENT] == RECIPIENTS
        assert store.issues.get_digest_issue(issue.id).status is DigestIssueStatus.SENT


def test_three_workers_send_each_recipient_once(tmp_path: Path, smtp_server: SmtpServer,
                                                migrated_postgres_url: str) -> None:
    config_path, issue, addresses = started_issue(tmp_path, smtp_server, migrated_postgres_url)
    workers = [start_worker(config_path, migrated_postgres_url) for _ in range(3)]
    outputs = [worker.communicate(timeout=120)[0] for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0, 0], outputs
    assert smtp_server.handler.copies() == {address: 1 for address in addresses}
    sent = [int(output.rsplit("worker stopped: ", 1)[1].split()[0]) for output in outputs]
    assert sum(sent) == RECIPIENTS and sum(1 for n in sent if n) >= 2, f"the workers did not share: {sent}"
    finished(migrated_postgres_url, issue)


def test_a_killed_worker_costs_at_most_one_duplicate_per_connection(
    tmp_path: Path, smtp_server: SmtpServer, migrated_postgres_url: str
) -> None:
    config_path, issue, addresses = started_issue(tmp_path, smtp_server, migrated_postgres_url)
    workers = [start_worker(config_path, migrated_postgres_url) for _ in range(3)]
    deadline = time.monotonic() + 60
    while len(smtp_server.handler.received) < RECIPIENTS // 3 and time.monotonic() < deadline:
        time.sleep(0.005)
    workers[0].send_signal(signal.SIGKILL)
    workers[0].wait()
    outputs = [worker.communicate(timeout=120)[0] for worker in workers[1:]]
    assert [worker.returncode for worker in workers[1:]] == [0, 0], outputs
    copies = smtp_server.handler.copies()
    assert set(copies) == set(addresses), "someone was skipped"
    assert sum(n - 1 for n in copies.values()) <= CONNECTIONS
    finished(migrated_postgres_url, issue)
