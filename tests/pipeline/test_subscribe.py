"""Double opt-in confirmations are queued by the request and leave through the configured email
transport when the queue is drained, like every message: once each, whatever interrupts a drain."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from pathlib import Path

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from newsletter.config import Config, load_config
from newsletter.core.errors import ConfigError
from newsletter.core.models import DeliveryKind
from newsletter.pipeline.digest_sender import Backoff
from newsletter.pipeline.subscribe import SubscribeOutcome, SubscribeRequest, request_subscription, send_confirmations
from newsletter.store import Store
from newsletter.store.ledger import Ledger
from tests.fakes.crash import process_died
from tests.fakes.smtp import TEST_SECRET, TEST_SECRET_ENV, SmtpServer, free_port, write_mail_config

NOW = datetime(2025, 3, 24, 8, 0, tzinfo=UTC)


def dkim_key(folder: Path) -> bytes:
    """Write a private key to `folder/dkim.pem`; return the DNS record publishing its public half."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (folder / "dkim.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    ))
    public = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)


@pytest.fixture(autouse=True)
def _secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TEST_SECRET_ENV, TEST_SECRET)


def ask(store: Store, config: Config, email: str, client: str = "198.51.100.7") -> SubscribeOutcome:
    """One subscribe request, as the web form makes it."""
    return request_subscription(config, store, SubscribeRequest(email, "main", "", "fr", NOW), client).outcome


def test_a_confirmation_is_signed_and_verp_addressed_by_the_transport(tmp_path: Path, smtp_server: SmtpServer) -> None:
    record = dkim_key(tmp_path)
    config = load_config(write_mail_config(tmp_path, smtp_server, verp=True, dkim_selector="news",
                                           dkim_domain="example.org", dkim_key_file="dkim.pem"))
    store = Store.open(config.database_url(), create=True)
    request = SubscribeRequest("nina@example.net", "main", "Nina", "fr", NOW)
    assert request_subscription(config, store, request, "198.51.100.7").outcome is SubscribeOutcome.QUEUED
    assert smtp_server.handler.connections == 0, "the request never talks to the mail server"
    assert send_confirmations(config, store).sent == 1

    (received,) = smtp_server.handler.received
    assert received.rcpt_tos == ["nina@example.net"]
    assert received.mail_from == "lettre+nina=example.net@example.org"
    assert dkim.verify(received.data, dnsfunc=lambda name, timeout=5: record)
    assert "/subscribe/confirm/" in received.message().get_content()


def test_a_refused_confirmation_fails_once_and_is_not_retried(tmp_path: Path, smtp_server: SmtpServer) -> None:
    smtp_server.handler.reject_rcpt = {"refus@example.net"}
    config = load_config(write_mail_config(tmp_path, smtp_server))
    store = Store.open(config.database_url(), create=True)
    assert ask(store, config, "refus@example.net") is SubscribeOutcome.QUEUED
    report = send_confirmations(config, store)
    assert (report.sent, report.failed) == (0, 1) and not smtp_server.handler.received
    assert send_confirmations(config, store).failed == 0


def test_a_drain_without_its_mail_server_keeps_every_mail_for_the_next(tmp_path: Path,
                                                                      smtp_server: SmtpServer) -> None:
    down = load_config(write_mail_config(tmp_path, None, port=free_port(), timeout=1))
    store = Store.open(down.database_url(), create=True)
    for email in ("a@example.net", "b@example.net"):
        assert ask(store, down, email) is SubscribeOutcome.QUEUED
    failed = send_confirmations(down, store)
    assert (failed.sent, failed.waiting) == (0, 2) and "127.0.0.1" in failed.errors[0]
    up = load_config(write_mail_config(tmp_path, smtp_server))
    assert send_confirmations(up, store).sent == 2
    assert send_confirmations(up, store).sent == 0
    assert smtp_server.handler.copies() == {"a@example.net": 1, "b@example.net": 1}


def test_a_killed_drain_is_resumed_without_sending_twice(tmp_path: Path, smtp_server: SmtpServer) -> None:
    config = load_config(write_mail_config(tmp_path, smtp_server))
    store = Store.open(config.database_url(), create=True)
    ask(store, config, "first@example.net")
    assert send_confirmations(config, store).sent == 1
    ask(store, config, "second@example.net")
    ask(store, config, "third@example.net")
    dying = Store.open(config.database_url())
    claimed = Ledger(dying).claim_batch(str(DeliveryKind.CONFIRMATION), 10)
    assert {d.target for d in claimed} == {"second@example.net", "third@example.net"}
    process_died(dying)  # killed after claiming, before sending
    assert send_confirmations(config, store).sent == 2
    assert smtp_server.handler.copies() == {"first@example.net": 1, "second@example.net": 1, "third@example.net": 1}
    dying.close()


def test_a_deferred_confirmation_is_retried_and_arrives_once(tmp_path: Path, smtp_server: SmtpServer) -> None:
    smtp_server.handler.defer_rcpt = {"lent@example.net": 1}
    config = load_config(write_mail_config(tmp_path, smtp_server))
    store = Store.open(config.database_url(), create=True)
    ask(store, config, "lent@example.net")
    report = send_confirmations(config, store, backoff=Backoff(base=0.0))
    assert (report.retried, report.sent) == (1, 1)
    assert smtp_server.handler.copies() == {"lent@example.net": 1}


def test_an_address_gets_at_most_its_share_of_confirmations(tmp_path: Path, smtp_server: SmtpServer) -> None:
    config = load_config(write_mail_config(tmp_path, smtp_server))
    store = Store.open(config.database_url(), create=True)
    outcomes = [ask(store, config, "cible@example.net", client=f"203.0.113.{n}") for n in range(5)]
    assert outcomes == [SubscribeOutcome.QUEUED] * 3 + [SubscribeOutcome.ADDRESS_LIMITED] * 2
    restarted = Store.open(config.database_url())  # another process, or after a restart: same counts
    assert ask(restarted, config, "cible@example.net") is SubscribeOutcome.ADDRESS_LIMITED
    assert send_confirmations(config, store).sent == 3
    restarted.close()


def test_a_queued_confirmation_needs_the_link_secret(tmp_path: Path, smtp_server: SmtpServer,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    config = load_config(write_mail_config(tmp_path, smtp_server))
    store = Store.open(config.database_url(), create=True)
    assert send_confirmations(config, store).sent == 0  # an empty queue needs no secret
    ask(store, config, "nina@example.net")
    monkeypatch.delenv(TEST_SECRET_ENV)
    with pytest.raises(ConfigError, match=r"unsubscribe\.secret_env: environment variable NEWSLETTER_TEST_SECRET"):
        send_confirmations(config, store)
    monkeypatch.setenv(TEST_SECRET_ENV, TEST_SECRET)
    assert send_confirmations(config, store).sent == 1
