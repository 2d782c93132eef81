"""The send-digest stage against a real SMTP server on loopback, with faults injected."""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from newsletter.config import Config, load_config
from newsletter.core.errors import ConfigError
from newsletter.core.models import DeliveryStatus
from newsletter.pipeline.digest_sender import Backoff, SendError
from newsletter.pipeline.digests import archive_path, archive_url
from newsletter.pipeline.sending import pause_digest, resume_digest, send_digest, send_test_copy
from newsletter.pipeline.unsubscribe import verify_token
from newsletter.store import DigestIssue, DigestIssueStatus, Store, SubscriberStatus
from newsletter.store.ledger import Ledger
from newsletter.store.tables import deliveries, utcnow
from tests.fakes.review_env import app_client
from tests.fakes.smtp import (
    IMPLICIT_TLS_WARNING,
    TEST_SECRET,
    TEST_SECRET_ENV,
    SecureServerFactory,
    SmtpServer,
    create_issue,
    free_port,
    seed_subscribers,
    write_mail_config,
)

NOW = datetime(2025, 3, 24, 8, 0, tzinfo=UTC)
FAST = Backoff(base=0.05, factor=2, cap=0.2)


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TEST_SECRET_ENV, TEST_SECRET)


def setup(
    tmp_path: Path, server: SmtpServer, count: int, **smtp: object
) -> tuple[Config, Store, DigestIssue, list[str]]:
    config = load_config(write_mail_config(tmp_path, server, **smtp))
    store = Store.open(config.database_url(), create=True)
    addresses = seed_subscribers(store, count)
    return config, store, create_issue(config, store, NOW), addresses


def test_everyone_gets_one_complete_personal_copy(tmp_path: Path, smtp_server: SmtpServer) -> None:
    config, store, issue, addresses = setup(tmp_path, smtp_server, 12)
    store.subscribers.add_subscriber(addresses[0], lists=["other"])
    report = send_digest(config, store, "hebdo", now=NOW, backoff=FAST)

    assert report.sent == 12 and report.failed == 0 and report.finished
    assert smtp_server.handler.copies() == {a: 1 for a in addresses}
    by_recipient = {m.rcpt_tos[0]: m.message() for m in smtp_server.handler.received}
    message = by_recipient["person3@example.org"]
    assert message["To"] == "Personne 3 <person3@example.org>"
    assert str(message["From"]) == "Ministère des Essais <lettre@example.org>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = message["List-Unsubscribe"].split(",")[0].strip("<> ")
    assert link.startswith("https://news.example.org/unsubscribe/")
    claims = verify_token(TEST_SECRET, link.rsplit("/", 1)[1])
    assert store.subscribers.get_subscriber("person3@example.org").id == claims.subscriber_id
    html = message.get_body(("html",)).get_content()
    text = message.get_body(("plain",)).get_content()
    assert link in html.replace("&amp;", "&") and link in text
    assert "près de 900 000" in text and "%%NL_" not in html + text
    assert "Bonjour Personne 3," in text and "Bonjour Personne 3," in html
    assert len({m["Message-ID"] for m in by_recipient.values()}) == 12
    assert store.issues.get_digest_issue(issue.id).status is DigestIssueStatus.SENT
    again = send_digest(config, store, issue.id, now=NOW, backoff=FAST)
    assert again.sent == 0 and len(smtp_server.handler.received) == 12


def test_a_recipient_whose_copy_cannot_be_built_fails_alone(tmp_path: Path, smtp_server: SmtpServer) -> None:
    config, store, _issue, addresses = setup(tmp_path, smtp_server, 5)
    store.subscribers.add_subscriber("josé@exemple.org", lists=["main"])  # stored by an older version, never validated
    report = send_digest(config, store, "hebdo", now=NOW, backoff=FAST)

    assert report.sent == 5 and report.failed == 1 and report.finished
    assert smtp_server.handler.copies() == {a: 1 for a in addresses}
    [failed] = Ledger(store).list_deliveries(status=DeliveryStatus.FAILED)
    assert failed.target == "josé@exemple.org" and "cannot build this copy" in (failed.error or "")


def test_names_are_escaped_and_the_web_copy_link_works_on_arrival(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    config, store, issue, _addresses = setup(tmp_path, smtp_server, 0)
    store.subscribers.add_subscriber("ana@example.org", name="Ana <b>Lopez</b> & co", lists=["main"])
    send_digest(config, store, "hebdo", now=NOW, backoff=FAST)

    message = smtp_server.handler.received[0].message()
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "Bonjour Ana <b>Lopez</b> & co," in text
    assert "Bonjour Ana &lt;b&gt;Lopez&lt;/b&gt; &amp; co," in html and "<b>Lopez" not in html
    link = archive_url(config, issue.id)
    assert link in text and link in html and "/issues/" not in text + html
    assert archive_path(config, issue.id).is_file()
    page = app_client(config, base_url=config.public_base_url).get(link.removeprefix(config.public_base_url))
    assert page.status_code == 200 and "Plan numéro 1" in page.text and "Ana" not in page.text


def test_sent_marks_are_read_back_right_on_sqlite_and_postgresql(
    tmp_path: Path, smtp_server: SmtpServer, store: Store
) -> None:
    config = load_config(write_mail_config(tmp_path, smtp_server, connections=3))
    addresses = seed_subscribers(store, 7)
    issue = create_issue(config, store, NOW)
    before = utcnow()
    report = send_digest(config, store, issue.id, now=NOW, backoff=FAST)

    assert report.sent == 7 and smtp_server.handler.copies() == {a: 1 for a in addresses}
    with store.engine.connect() as conn:
        rows = conn.execute(select(deliveries.c.status, deliveries.c.sent_at, deliveries.c.provider_id)).all()
    assert {row.status for row in rows} == {"sent"} and len(rows) == 7
    assert all(before <= row.sent_at <= utcnow() and "Queued" in row.provider_id for row in rows)


def test_more_connections_than_the_database_pool_holds_still_send(tmp_path: Path, smtp_server: SmtpServer) -> None:
    config, store, _issue, addresses = setup(tmp_path, smtp_server, 40, connections=20)
    report = send_digest(config, store, "hebdo", now=NOW, backoff=FAST)
    assert report.sent == 40 and report.finished and not report.errors
    assert smtp_server.handler.copies() == {a: 1 for a in addresses}


def test_faults_end_with_one_copy_each_and_refused_addresses_marked(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    config, store, issue, addresses = setup(tmp_path, smtp_server, 20)
    handler = smtp_server.handler
    handler.refuse_connections = 2
    handler.defer_rcpt = {addresses[1]: 1, addresses[2]: 2}
    handler.reject_rcpt = {addresses[3], addresses[4]}
    handler.drop_after_data = {addresses[5]: 1, addresses[6]: 1}
    report = send_digest(config, store, "hebdo", now=NOW, backoff=FAST)

    deliverable = [a for a in addresses if a not in handler.reject_rcpt]
    assert handler.copies() == {a: 1 for a in deliverable}
    assert report.sent == 18 and report.failed == 2 and report.retried == 5
    ledger = Ledger(store)
    assert ledger.counts(issue.id)[DeliveryStatus.SENT] == 18
    assert ledger.counts(issue.id)[DeliveryStatus.FAILED] == 2
    assert store.subscribers.get_subscriber(addresses[3]).status is SubscriberStatus.BOUNCED
    assert store.subscribers.get_subscriber(addresses[7]).status is SubscriberStatus.ACTIVE


def test_a_server_slower_than_the_timeout_is_retried(tmp_path: Path, smtp_server: SmtpServer) -> None:
    config, store, _issue, addresses = setup(tmp_path, smtp_server, 4, timeout=0.3, connections=1)
    smtp_server.handler.slow_mail, smtp_server.handler.slow_seconds = 1, 1.0
    report = send_digest(config, store, "hebdo", now=NOW, backoff=FAST)
    assert smtp_server.handler.copies() == {a: 1 for a in addresses}
    assert report.retried == 1 and any("timed out" in e for e in report.errors)


def test_retries_are_bounded(tmp_path: Path, smtp_server: SmtpServer) -> None:
    config, store, _issue, addresses = setup(tmp_path, smtp_server, 3, max_attempts=3)
    smtp_server.handler.defer_rcpt = {addresses[0]: 100}
    report = send_digest(config, store, "hebdo", now=NOW, backoff=FAST)
    delivery = Ledger(store).list_deliveries(status=DeliveryStatus.FAILED)
    assert [d.target for d in delivery] == [addresses[0]] and delivery[0].attempts == 3
    assert report.failed == 1 and report.retried == 2
    assert smtp_server.handler.defer_rcpt[addresses[0]] == 97
    assert store.subscribers.get_subscriber(addresses[0]).status is SubscriberStatus.ACTIVE


def test_unsubscribed_after_rows_were_created_is_skipped(tmp_path: Path, smtp_server: SmtpServer) -> None:
    config, store, _issue, addresses = setup(tmp_path, smtp_server, 5)
    first = send_digest(config, store, "hebdo", now=NOW, limit=2, backoff=FAST)
    assert first.sent == 2 and not first.finished
    store.subscribers.set_subscriber_status(addresses[4], SubscriberStatus.UNSUBSCRIBED)
    second = send_digest(config, store, "hebdo", now=NOW, backoff=FAST)
    assert second.sent == 2 and second.skipped == 1 and second.finished
    assert addresses[4] not in smtp_server.handler.copies()


def test_rate_limit_spaces_messages(tmp_path: Path, smtp_server: SmtpServer) -> None:
    config, store, _issue, _addresses = setup(tmp_path, smtp_server, 6, rate_per_second=20)
    started = time.monotonic()
    send_digest(config, store, "hebdo", now=NOW, backoff=FAST)
    assert time.monotonic() - started >= 5 / 20


def test_pause_stops_cleanly_and_resume_finishes(tmp_path: Path, smtp_server: SmtpServer) -> None:
    config, store, issue, addresses = setup(tmp_path, smtp_server, 40, rate_per_second=40)
    def pause_after_five() -> None:
        while len(smtp_server.handler.received) < 5:
            time.sleep(0.005)
        pause_digest(store, "hebdo", NOW)

    pauser = threading.Thread(target=pause_after_five)
    pauser.start()
    report = send_digest(config, store, "hebdo", now=NOW, backoff=FAST)
    pauser.join()
    assert report.paused and 0 < report.sent < 40
    assert Ledger(store).counts(issue.id)[DeliveryStatus.CLAIMED] == 0
    with pytest.raises(SendError, match="paused"):
        send_digest(config, store, "hebdo", now=NOW, backoff=FAST)
    resume_digest(store, "hebdo", NOW)
    rest = send_digest(config, store, "hebdo", now=NOW, backoff=FAST)
    assert rest.finished and report.sent + rest.sent == 40
    assert smtp_server.handler.copies() == {a: 1 for a in addresses}


def test_dry_run_writes_eml_files_and_never_touches_the_ledger(tmp_path: Path, smtp_server: SmtpServer) -> None:
    config, store, _issue, _addresses = setup(tmp_path, smtp_server, 3)
    report = send_digest(config, store, "hebdo", now=NOW, dry_run=True)
    files = sorted(report.outbox.glob("*.eml"))
    assert len(files) == 3 and b"List-Unsubscribe-Post" in files[0].read_bytes()
    assert sum(Ledger(store).counts().values()) == 0 and not smtp_server.handler.received


def test_test_copy_goes_to_one_address_outside_the_ledger(tmp_path: Path, smtp_server: SmtpServer) -> None:
    config, store, issue, _addresses = setup(tmp_path, smtp_server, 3)
    send_test_copy(config, issue, "relecture@example.org", now=NOW)
    assert smtp_server.handler.copies() == {"relecture@example.org": 1}
    assert sum(Ledger(store).counts().values()) == 0


def test_verp_envelope_sender_names_the_recipient(tmp_path: Path, smtp_server: SmtpServer) -> None:
    config, store, _issue, _addresses = setup(tmp_path, smtp_server, 2, verp=True)
    send_digest(config, store, "hebdo", now=NOW, backoff=FAST)
    senders = sorted(m.mail_from for m in smtp_server.handler.received)
    assert senders == ["lettre+person0=example.org@example.org", "lettre+person1=example.org@example.org"]


def test_sending_without_the_secret_is_a_config_error(
    tmp_path: Path, smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    config, store, _issue, _addresses = setup(tmp_path, smtp_server, 2)
    monkeypatch.delenv(TEST_SECRET_ENV)
    with pytest.raises(Exception, match=TEST_SECRET_ENV):
        send_digest(config, store, "hebdo", now=NOW)
    assert not smtp_server.handler.received


def test_a_run_over_starttls_with_auth_never_shows_the_password(
    tmp_path: Path,
    secure_smtp_server: SecureServerFactory,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    password = "Tr0ub4dor-&-3-for-tests"
    server = secure_smtp_server("starttls", "lettre", password)
    monkeypatch.setenv("SSL_CERT_FILE", str(server.cafile))
    monkeypatch.setenv("NEWSLETTER_TEST_SMTP_PASSWORD", password + "-wrong")
    caplog.set_level(logging.DEBUG, logger="newsletter")
    smtp = {"security": "starttls", "username": "lettre", "password_env": "NEWSLETTER_TEST_SMTP_PASSWORD"}
    config, store, issue, _addresses = setup(tmp_path, server, 3, **smtp)

    with pytest.raises(ConfigError, match="refused the credentials") as refused:
        send_digest(config, store, "hebdo", now=NOW, backoff=FAST)
    assert Ledger(store).counts(issue.id)[DeliveryStatus.PENDING] == 3 and not server.handler.received
    monkeypatch.setenv("NEWSLETTER_TEST_SMTP_PASSWORD", password)
    report = send_digest(config, store, issue.id, now=NOW, backoff=FAST)

    assert report.sent == 3 and report.finished
    assert all(r.tls and r.login == "lettre" for r in server.handler.received)
    assert password not in caplog.text + str(refused.value) + " ".join(report.errors)


def untouched(store: Store, issue: DigestIssue, count: int) -> bool:
    """Every one of the issue's `count` rows is pending: none claimed, sent or failed."""
    counts = Ledger(store).counts(issue.id)
    return counts[DeliveryStatus.PENDING] == count and sum(counts.values()) == count


def test_a_421_to_mail_from_is_retried_with_backoff_and_the_message_arrives_once(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    config, store, issue, addresses = setup(tmp_path, smtp_server, 3, connections=1)
    smtp_server.handler.defer_mail = 2  # the transparent reconnect meets a second 421
    report = send_digest(config, store, "hebdo", now=NOW, backoff=FAST)

    assert report.finished and report.sent == 3 and report.retried == 1 and report.failed == 0
    assert any("MAIL FROM: 421" in e for e in report.errors)
    assert not any("worker stopped" in e for e in report.errors)
    assert smtp_server.handler.copies() == {a: 1 for a in addresses}
    assert Ledger(store).counts(issue.id)[DeliveryStatus.SENT] == 3


def test_a_server_answering_421_to_every_mail_from_fails_each_message_after_the_retry_budget(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    config, store, issue, addresses = setup(tmp_path, smtp_server, 4, max_attempts=3)
    smtp_server.handler.defer_mail = 10_000
    report = send_digest(config, store, "hebdo", now=NOW, backoff=FAST)

    assert not any("worker stopped" in e for e in report.errors)
    failed = Ledger(store).list_deliveries(status=DeliveryStatus.FAILED)
    assert sorted(d.target for d in failed) == sorted(addresses)
    assert all(d.attempts == 3 and "421" in (d.error or "") for d in failed)
    assert report.failed == 4 and report.retried == 8 and report.finished
    assert Ledger(store).counts(issue.id)[DeliveryStatus.FAILED] == 4 and not smtp_server.handler.received
    assert all(store.subscribers.get_subscriber(a).status is SubscriberStatus.ACTIVE for a in addresses)


def test_an_unreachable_relay_is_reported_before_anything_is_claimed(tmp_path: Path) -> None:
    config = load_config(write_mail_config(tmp_path, None, port=free_port(), max_attempts=2))
    store = Store.open(config.database_url(), create=True)
    seed_subscribers(store, 3)
    issue = create_issue(config, store, NOW)
    with pytest.raises(SendError, match=rf"127\.0\.0\.1:{config.smtp.port}") as unreachable:
        send_digest(config, store, "hebdo", now=NOW, backoff=FAST)
    assert "still pending" in str(unreachable.value) and untouched(store, issue, 3)


@pytest.mark.filterwarnings(IMPLICIT_TLS_WARNING)
def test_implicit_tls_trusts_a_private_ca_only_through_ca_file(
    tmp_path: Path, secure_smtp_server: SecureServerFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = secure_smtp_server("tls", "lettre", "Tr0ub4dor-&-3-for-tests")
    monkeypatch.setenv("NEWSLETTER_TEST_SMTP_PASSWORD", "Tr0ub4dor-&-3-for-tests")
    smtp = {"security": "tls", "username": "lettre", "password_env": "NEWSLETTER_TEST_SMTP_PASSWORD"}
    config, store, issue, addresses = setup(tmp_path, server, 3, **smtp)
    with pytest.raises(ConfigError, match=rf"certificate of smtp://127\.0\.0\.1:{server.port} \(tls\).*not trusted"):
        send_digest(config, store, "hebdo", now=NOW, backoff=FAST)
    assert untouched(store, issue, 3) and not server.handler.received and server.mechanisms == []

    trusting = load_config(write_mail_config(tmp_path, server, **smtp, ca_file=str(server.cafile)))
    report = send_digest(trusting, store, issue.id, now=NOW, backoff=FAST)
    assert report.finished and report.sent == 3
    assert server.handler.copies() == {a: 1 for a in addresses} and all(r.tls for r in server.handler.received)


def test_a_dkim_key_that_cannot_sign_stops_the_run_with_every_row_still_pending(
    tmp_path: Path, smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSLETTER_TEST_DKIM_KEY", "not a private key")
    dkim_settings = {"dkim_selector": "news", "dkim_domain": "example.org", "dkim_key_env": "NEWSLETTER_TEST_DKIM_KEY"}
    config, store, issue, _addresses = setup(tmp_path, smtp_server, 6, connections=1, **dkim_settings)
    report = send_digest(config, store, "hebdo", now=NOW, backoff=FAST)

    assert report.sent == 0 and report.pending == 6 and not report.finished
    assert any("smtp.dkim: cannot sign" in e for e in report.errors)
    assert untouched(store, issue, 6) and not smtp_server.handler.received
