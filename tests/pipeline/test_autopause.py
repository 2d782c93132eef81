"""A send pauses itself, with an alert, when too many of its messages fail (listmonk's
`max_send_errors`), against the loopback SMTP server refusing recipients; it resumes by hand."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from newsletter.config import Config, load_config
from newsletter.core.models import DeliveryStatus
from newsletter.pipeline.sending import resume_digest, send_digest, send_recorded
from newsletter.store import DigestIssue, DigestIssueStatus, RunOutcome, Store
from newsletter.store.ledger import Ledger
from tests.fakes.daemon_env import WebhookReceiver
from tests.fakes.smtp import TEST_SECRET, TEST_SECRET_ENV, SmtpServer, create_issue, seed_subscribers, write_mail_config
from tests.pipeline.test_sending import FAST, NOW


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TEST_SECRET_ENV, TEST_SECRET)


def setup(tmp_path: Path, server: SmtpServer, webhook: WebhookReceiver, count: int,
          **smtp: Any) -> tuple[Config, Store, DigestIssue, list[str]]:
    """One connection in one process (so the order of failures is the list's), alerts to `webhook`."""
    path = write_mail_config(tmp_path, server, connections=1, processes=1, **smtp)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    path.write_text(yaml.safe_dump({**data, "alerts": {"webhook_url": webhook.url}}), encoding="utf-8")
    config = load_config(path)
    store = Store.open(config.database_url(), create=True)
    addresses = seed_subscribers(store, count)
    return config, store, create_issue(config, store, NOW), addresses


def test_a_send_past_max_send_errors_pauses_alerts_and_resumes(
    tmp_path: Path, smtp_server: SmtpServer, webhook: WebhookReceiver
) -> None:
    config, store, issue, addresses = setup(tmp_path, smtp_server, webhook, 30, max_send_errors=3)
    smtp_server.handler.reject_rcpt = set(addresses[2:10])  # e.g. a relay refusing a whole domain

    report = send_recorded(config, store, issue, now=NOW, trigger="send digest")

    assert report.paused and report.auto_paused and not report.finished
    assert (report.sent, report.failed) == (2, 3)
    assert store.issues.get_digest_issue(issue.id).status is DigestIssueStatus.PAUSED
    assert set(smtp_server.handler.copies()) == set(addresses[:2])
    assert Ledger(store).counts(issue.id)[DeliveryStatus.PENDING] == 25
    (alert,) = webhook.received
    assert alert["kind"] == "send_paused" and alert["target"] == issue.id
    assert "smtp.max_send_errors: 3" in alert["body"] and "550 5.1.1 No such user" in alert["body"]
    assert "newsletter send resume hebdo" in alert["body"]
    (action,) = [a for a in store.audit.list_actions() if a.action == "send.auto_pause"]
    assert action.target == issue.id
    (run,) = store.runs.last_runs("digest:hebdo")
    assert run.outcome is RunOutcome.FAILED and "paused automatically" in (run.message or "")

    smtp_server.handler.reject_rcpt = set()  # the cause is fixed
    resume_digest(store, "hebdo", NOW)
    rest = send_digest(config, store, "hebdo", now=NOW, backoff=FAST)

    assert rest.finished and not rest.auto_paused and rest.sent == 25
    assert smtp_server.handler.copies() == {a: 1 for a in addresses if a not in addresses[2:5]}
    assert len(webhook.received) == 1
    store.close()


def test_a_send_past_max_error_rate_pauses_once_enough_were_tried(
    tmp_path: Path, smtp_server: SmtpServer, webhook: WebhookReceiver
) -> None:
    config, store, issue, addresses = setup(tmp_path, smtp_server, webhook, 20, max_error_rate=0.5,
                                            error_rate_after=10)
    smtp_server.handler.reject_rcpt = set(addresses[:6])

    report = send_digest(config, store, issue, now=NOW, backoff=FAST)

    assert report.auto_paused and (report.sent, report.failed) == (4, 6)
    assert "6 of 10 messages failed or were deferred" in report.auto_paused
    assert store.issues.get_digest_issue(issue.id).status is DigestIssueStatus.PAUSED
    assert webhook.kinds() == ["send_paused"]
    store.close()


def test_no_budget_never_pauses(tmp_path: Path, smtp_server: SmtpServer, webhook: WebhookReceiver) -> None:
    config, store, issue, addresses = setup(tmp_path, smtp_server, webhook, 6)
    smtp_server.handler.reject_rcpt = set(addresses[:5])
    report = send_digest(config, store, issue, now=NOW, backoff=FAST)
    assert report.finished and report.failed == 5 and not report.auto_paused and webhook.received == []
    store.close()
