"""Crash safety: SIGKILL a real `newsletter send digest` process at random points, restart it,
and count the copies each recipient received on a real SMTP server."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from newsletter.config import load_config
from newsletter.core.models import DeliveryStatus
from newsletter.store import Store
from newsletter.store.ledger import Ledger
from tests.fakes.smtp import (
    TEST_SECRET,
    TEST_SECRET_ENV,
    SmtpServer,
    create_issue,
    seed_subscribers,
    write_mail_config,
)

NOW = datetime(2025, 3, 24, 8, 0, tzinfo=UTC)
REPO = Path(__file__).resolve().parents[2]


def start_sender(config_path: Path, log: Path) -> subprocess.Popen[bytes]:
    """`python -m newsletter send digest hebdo` in its own process."""
    env = {**os.environ, TEST_SECRET_ENV: TEST_SECRET}
    with log.open("ab") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "newsletter", "send", "digest", "hebdo", "-c", str(config_path)],
            cwd=REPO, env=env, stdout=output, stderr=output,
        )


def kill_after(process: subprocess.Popen[bytes], server: SmtpServer, copies: int, deadline: float) -> bool:
    """SIGKILL the process once the server has accepted `copies` messages; False if it ended first."""
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        if len(server.handler.received) >= copies:
            process.send_signal(signal.SIGKILL)
            process.wait()
            return True
        time.sleep(0.002)
    process.kill()
    raise AssertionError("the sender made no progress before the deadline")


def run_with_kills(
    tmp_path: Path, server: SmtpServer, recipients: int, kills: int, seed: int, **smtp: object
) -> tuple[Counter[str], int]:
    """Kill the sender `kills` times at random points, then let it finish; asserts that nobody
    was skipped and duplicates stay within one per connection per kill. Returns (copies, kills)."""
    rng = random.Random(seed)
    settings: dict[str, object] = {"connections": 2, "rate_per_second": 120, "timeout": 5, **smtp}
    config_path = write_mail_config(tmp_path, server, **settings)
    config = load_config(config_path)
    with Store.open(config.database_url(), create=True) as store:
        addresses = seed_subscribers(store, recipients)
        issue = create_issue(config, store, NOW)
    log = tmp_path / "sender.log"
    done_kills = 0
    while done_kills < kills:
        target = len(server.handler.received) + rng.randint(1, recipients // (kills + 1))
        process = start_sender(config_path, log)
        if not kill_after(process, server, target, time.monotonic() + 30):
            break
        done_kills += 1
    final = start_sender(config_path, log)
    assert final.wait(60) == 0, log.read_text(errors="replace")
    copies = server.handler.copies()
    with Store.open(config.database_url()) as store:
        counts = Ledger(store).counts(issue.id)
    assert counts[DeliveryStatus.SENT] == recipients, (seed, counts)
    assert set(copies) == set(addresses), f"seed {seed}: someone was skipped"
    duplicates = sum(n - 1 for n in copies.values())
    assert duplicates <= done_kills * config.smtp.connections, (seed, done_kills, duplicates)
    return copies, done_kills


def test_killed_sender_restarts_without_skipping_anyone(tmp_path: Path, smtp_server: SmtpServer) -> None:
    seed = random.randrange(1_000_000)
    copies, kills = run_with_kills(tmp_path, smtp_server, recipients=80, kills=3, seed=seed)
    assert kills >= 1, f"seed {seed}: the sender finished before any kill"
    assert len(copies) == 80


def test_killed_sender_with_worker_processes_restarts_without_skipping_anyone(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    """The parent of two sender processes is killed: its workers see their pipe close, finish the
    message in flight and stop; the restart finishes the issue."""
    seed = random.randrange(1_000_000)
    copies, kills = run_with_kills(tmp_path, smtp_server, recipients=400, kills=2, seed=seed,
                                   connections=4, processes=2, rate_per_second=300)
    assert kills >= 1, f"seed {seed}: the sender finished before any kill"
    assert len(copies) == 400
