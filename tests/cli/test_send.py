"""`newsletter send digest` run by an operator: recorded in the run history that `status` shows."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from newsletter.cli import app
from newsletter.config import load_config
from newsletter.core.models import DeliveryStatus
from newsletter.store import Store
from newsletter.store.ledger import Ledger
from tests.fakes.smtp import (
    TEST_SECRET,
    TEST_SECRET_ENV,
    SmtpServer,
    create_issue,
    free_port,
    seed_subscribers,
    write_mail_config,
)

NOW = datetime(2025, 3, 24, 8, 0, tzinfo=UTC)


def digest_runs(config_path: Path) -> list[dict[str, object]]:
    """The recent runs of `digest:hebdo`, as `status --json` gives them."""
    result = CliRunner().invoke(app, ["status", "--json", "-c", str(config_path), "--now", NOW.isoformat()])
    assert result.exit_code == 0, result.output
    (job,) = [job for job in json.loads(result.output)["jobs"] if job["id"] == "digest:hebdo"]
    return list(job["recent_runs"])


def test_status_shows_a_manual_send_and_its_failed_recipient(
    tmp_path: Path, smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TEST_SECRET_ENV, TEST_SECRET)
    config_path = write_mail_config(tmp_path, smtp_server)
    config = load_config(config_path)
    with Store.open(config.database_url(), create=True) as store:
        addresses = seed_subscribers(store, 3)
        issue = create_issue(config, store, NOW)
    smtp_server.handler.reject_rcpt.add(addresses[1])
    sent = CliRunner().invoke(app, ["send", "digest", "hebdo", "-c", str(config_path), "--now", NOW.isoformat()])
    assert sent.exit_code == 0, sent.output
    (run,) = digest_runs(config_path)
    assert run["outcome"] == "ok"
    assert run["counts"] == {"issue": issue.id, "sent": 2, "failed": 1, "sent_this_run": 2, "trigger": "send digest"}
    assert addresses[1] in str(run["message"])
    shown = CliRunner().invoke(app, ["status", "-c", str(config_path), "--now", NOW.isoformat()])
    assert "trigger=send digest" in shown.output and "failed=1" in shown.output


def test_status_shows_a_manual_send_that_could_not_start(tmp_path: Path, smtp_server: SmtpServer) -> None:
    config_path = write_mail_config(tmp_path, smtp_server)
    config = load_config(config_path)
    with Store.open(config.database_url(), create=True) as store:
        seed_subscribers(store, 2)
        create_issue(config, store, NOW)
    refused = CliRunner().invoke(app, ["send", "digest", "hebdo", "-c", str(config_path), "--now", NOW.isoformat()],
                                 env={TEST_SECRET_ENV: ""})
    assert refused.exit_code != 0
    (run,) = digest_runs(config_path)
    assert run["outcome"] == "failed" and TEST_SECRET_ENV in str(run["message"])
    assert smtp_server.handler.received == []


def pending_only(config_path: Path, count: int) -> bool:
    """The ledger holds `count` rows, every one pending: none claimed, sent or failed."""
    with Store.open(load_config(config_path).database_url()) as store:
        counts = Ledger(store).counts()
    return counts[DeliveryStatus.PENDING] == count and sum(counts.values()) == count


def test_a_missing_smtp_password_stops_the_send_before_anything_is_claimed(
    tmp_path: Path, smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TEST_SECRET_ENV, TEST_SECRET)
    monkeypatch.delenv("NEWSLETTER_TEST_SMTP_PASSWORD", raising=False)
    config_path = write_mail_config(tmp_path, smtp_server, username="lettre",
                                    password_env="NEWSLETTER_TEST_SMTP_PASSWORD")
    config = load_config(config_path)
    with Store.open(config.database_url(), create=True) as store:
        seed_subscribers(store, 3)
        create_issue(config, store, NOW)
    refused = CliRunner().invoke(app, ["send", "digest", "hebdo", "-c", str(config_path), "--now", NOW.isoformat()])
    assert refused.exit_code != 0
    assert "environment variable NEWSLETTER_TEST_SMTP_PASSWORD is not set" in refused.stderr
    assert pending_only(config_path, 3) and smtp_server.handler.connections == 0


def test_an_unreachable_relay_stops_the_send_before_anything_is_claimed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TEST_SECRET_ENV, TEST_SECRET)
    port = free_port()
    config_path = write_mail_config(tmp_path, None, port=port, max_attempts=1)
    config = load_config(config_path)
    with Store.open(config.database_url(), create=True) as store:
        seed_subscribers(store, 3)
        create_issue(config, store, NOW)
    refused = CliRunner().invoke(app, ["send", "digest", "hebdo", "-c", str(config_path), "--now", NOW.isoformat()])
    assert refused.exit_code == 1
    assert f"smtp://127.0.0.1:{port}" in refused.stderr and "every message is still pending" in refused.stderr
    assert pending_only(config_path, 3)
    (run,) = digest_runs(config_path)
    assert run["outcome"] == "failed" and f"127.0.0.1:{port}" in str(run["message"])
