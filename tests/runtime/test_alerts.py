"""Alerts reach a webhook receiver and an SMTP server on loopback, once per incident."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest

from newsletter.core.models import Announcement, Figure, Quote
from newsletter.runtime.jobs import run_job
from newsletter.runtime.status import collect_status
from tests.fakes.daemon_env import open_config_store, write_daemon_config
from tests.fakes.smtp import IMPLICIT_TLS_WARNING, SecureServerFactory, free_port

NOW = datetime(2026, 3, 9, 8, 0, tzinfo=UTC)
MISSING_FOLDER = [{"name": "dossier", "type": "folder", "path": "absent"}]


def test_a_failing_source_alerts_once_then_again_after_a_day(tmp_path, webhook):
    path = write_daemon_config(tmp_path, sources=MISSING_FOLDER, alerts={"webhook_url": webhook.url})
    config, store = open_config_store(path)
    assert run_job(config, store, "ingest:dossier", NOW).outcome == "failed"
    assert webhook.kinds() == ["job_failed"]
    assert webhook.received[0]["target"] == "ingest:dossier" and "absent" in webhook.received[0]["body"]
    run_job(config, store, "ingest:dossier", NOW + timedelta(hours=1))
    run_job(config, store, "ingest:dossier", NOW + timedelta(hours=23))
    assert webhook.kinds() == ["job_failed"], "a failure streak alerts once"
    run_job(config, store, "ingest:dossier", NOW + timedelta(hours=24, minutes=10))
    run_job(config, store, "ingest:dossier", NOW + timedelta(hours=30))
    assert webhook.kinds() == ["job_failed", "source_failing"]
    assert "failing since 2026-03-09 08:00 UTC" in webhook.received[1]["subject"]
    (source,) = collect_status(config, store, NOW + timedelta(hours=30))["sources_in_error"]
    assert source["name"] == "dossier" and source["since"].startswith("2026-03-09T09:00")
    store.close()


def test_a_job_failure_is_emailed_to_the_comms_team(tmp_path, smtp_server):
    path = write_daemon_config(tmp_path, smtp_port=smtp_server.port, sources=MISSING_FOLDER,
                               alerts={"email": ["comms@example.org"], "from_address": "robot@example.org"})
    config, store = open_config_store(path)
    run_job(config, store, "ingest:dossier", NOW)
    (received,) = smtp_server.handler.received
    message = received.message()
    assert received.rcpt_tos == ["comms@example.org"]
    assert message["Subject"] == "[newsletter] job ingest:dossier failed"
    assert "absent" in message.get_content()
    store.close()


def test_an_unreachable_webhook_does_not_break_the_job(tmp_path, caplog):
    path = write_daemon_config(tmp_path, sources=MISSING_FOLDER,
                               alerts={"webhook_url": f"http://127.0.0.1:{free_port()}/alerts"})
    config, store = open_config_store(path)
    assert run_job(config, store, "ingest:dossier", NOW).outcome == "failed"
    assert "alert webhook failed" in caplog.text
    store.close()


def announcement() -> Announcement:
    quote = Quote("Nous accompagnerons près de 900 000 jeunes.", "Marie Martin", "ministre")
    figure = Figure("près de 900 000", 900000, qualifier="près de", about="jeunes accompagnés")
    return Announcement("doc1", "src", "Plan jeunes", lede="Un plan.", url="https://www.travail.gouv.fr/plan",
                        quotes=[quote], key_quote=0, figures=[figure], key_figures=[0], id="ann0000000000001")


def test_a_channel_paused_by_refused_credentials_alerts_once(tmp_path, webhook, fake_mastodon, monkeypatch):
    monkeypatch.setenv("MASTODON_ACCESS_TOKEN", "revoked-token")
    channel = {"name": "masto", "type": "mastodon", "base_url": fake_mastodon.url, "variants": ["quote"],
               "timeout": 2, "slots": ["weekdays 09:30"]}
    path = write_daemon_config(tmp_path, channels=[channel], alerts={"webhook_url": webhook.url})
    config, store = open_config_store(path)
    store.announcements.upsert_announcement(announcement(), announce=True, now=NOW - timedelta(hours=1))
    result = run_job(config, store, "post:masto", NOW)
    assert result.outcome == "failed"
    assert webhook.kinds() == ["channel_paused"], "the pause alert, not a second generic one"
    assert "MASTODON_ACCESS_TOKEN" in webhook.received[0]["body"]
    assert run_job(config, store, "post:masto", NOW + timedelta(hours=3)).outcome == "skipped"
    assert webhook.kinds() == ["channel_paused"]
    (paused,) = collect_status(config, store, NOW)["paused_channels"]
    assert paused["name"] == "masto" and "MASTODON_ACCESS_TOKEN" in paused["reason"]
    store.close()


PASSWORD_ENV = "NEWSLETTER_TEST_SMTP_PASSWORD"


@pytest.mark.filterwarnings(IMPLICIT_TLS_WARNING)
@pytest.mark.parametrize("security", ["tls", "starttls"])
def test_alert_mail_verifies_the_relay_certificate(
    tmp_path, secure_smtp_server: SecureServerFactory, monkeypatch, caplog, security: str
):
    server = secure_smtp_server(security, "robot", "alert-password-for-tests")
    monkeypatch.setenv(PASSWORD_ENV, "alert-password-for-tests")
    caplog.set_level(logging.ERROR, logger="newsletter")
    smtp = {"host": server.host, "port": server.port, "security": security, "timeout": 5,
            "username": "robot", "password_env": PASSWORD_ENV}
    alerts = {"email": ["comms@example.org"], "from_address": "robot@example.org"}

    untrusted, store = open_config_store(write_daemon_config(tmp_path, sources=MISSING_FOLDER, smtp=smtp,
                                                             alerts=alerts))
    assert run_job(untrusted, store, "ingest:dossier", NOW).outcome == "failed"
    store.close()
    assert server.handler.received == [] and server.mechanisms == []
    assert f"the certificate of smtp://{server.host}:{server.port} ({security})" in caplog.text
    assert "is not trusted" in caplog.text

    (tmp_path / "trusted").mkdir()
    trusted, store = open_config_store(write_daemon_config(tmp_path / "trusted", sources=MISSING_FOLDER,
                                                           alerts=alerts, smtp={**smtp, "ca_file": str(server.cafile)}))
    run_job(trusted, store, "ingest:dossier", NOW)
    store.close()
    (received,) = server.handler.received
    assert received.tls and received.login == "robot" and received.rcpt_tos == ["comms@example.org"]
    assert received.message()["Subject"] == "[newsletter] job ingest:dossier failed"
