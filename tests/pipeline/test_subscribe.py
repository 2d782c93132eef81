"""Double opt-in confirmations leave through the configured email transport, like every message."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from pathlib import Path

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from newsletter.config import load_config
from newsletter.pipeline.subscribe import SubscribeRequest, request_subscription
from newsletter.publish.email.base import DeliveryFailed
from newsletter.store import Store
from tests.fakes.smtp import TEST_SECRET, SmtpServer, write_mail_config

NOW = datetime(2025, 3, 24, 8, 0, tzinfo=UTC)


def dkim_key(folder: Path) -> bytes:
    """Write a private key to `folder/dkim.pem`; return the DNS record publishing its public half."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (folder / "dkim.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    ))
    public = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)


def test_a_confirmation_is_signed_and_verp_addressed_by_the_transport(tmp_path: Path, smtp_server: SmtpServer) -> None:
    record = dkim_key(tmp_path)
    config = load_config(write_mail_config(tmp_path, smtp_server, verp=True, dkim_selector="news",
                                           dkim_domain="example.org", dkim_key_file="dkim.pem"))
    store = Store.open(config.database_url(), create=True)
    request = SubscribeRequest("nina@example.net", "main", "Nina", "fr", NOW)
    assert request_subscription(config, store, TEST_SECRET, request, NOW)

    (received,) = smtp_server.handler.received
    assert received.rcpt_tos == ["nina@example.net"]
    assert received.mail_from == "lettre+nina=example.net@example.org"
    assert dkim.verify(received.data, dnsfunc=lambda name, timeout=5: record)
    assert "/subscribe/confirm/" in received.message().get_content()


def test_a_refused_confirmation_is_an_error_the_page_can_show(tmp_path: Path, smtp_server: SmtpServer) -> None:
    smtp_server.handler.reject_rcpt = {"refus@example.net"}
    config = load_config(write_mail_config(tmp_path, smtp_server))
    store = Store.open(config.database_url(), create=True)
    request = SubscribeRequest("refus@example.net", "main", "", "fr", NOW)
    with pytest.raises(DeliveryFailed, match=r"550 5\.1\.1") as refused:
        request_subscription(config, store, TEST_SECRET, request, NOW)
    assert not refused.value.retryable and not smtp_server.handler.received
