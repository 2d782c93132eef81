"""The SMTP publisher against a real aiosmtpd server: outcomes, dot-stuffing, DKIM, VERP, rate."""

from __future__ import annotations

import logging
import re
import smtplib
import socket
import ssl
import time
from datetime import UTC, datetime
from pathlib import Path

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from newsletter.compose.digest import render_digest
from newsletter.compose.mime import RenderedMessage, build_message_template
from newsletter.config import SmtpConfig, load_config
from newsletter.core.errors import ConfigError
from newsletter.publish.email.base import Outcome, email_transport, transport_class
from newsletter.publish.email.smtp import (
    DkimSigner,
    PermanentRefusal,
    PlainWire,
    RateLimiter,
    SmtpConnection,
    SmtpSettings,
    SmtpTransport,
    TransientFailure,
    as_data,
    crlf,
    verp_recipient,
    verp_sender,
)
from tests.fakes.smtp import (
    IMPLICIT_TLS_WARNING,
    ControlledController,
    ControlledHandler,
    SecureServerFactory,
    SmtpServer,
    free_port,
    sample_announcements,
    write_mail_config,
)

NOW = datetime(2025, 3, 24, 8, 0, tzinfo=UTC)


def connection(server: SmtpServer, timeout: float = 2.0) -> SmtpConnection:
    return SmtpConnection(SmtpSettings(server.host, server.port, "none", timeout))


def test_message_with_leading_dots_arrives_intact_over_one_reused_connection(smtp_server: SmtpServer) -> None:
    message = crlf(b"Subject: dots\n\n.starts with a dot\n..two\n.\nend\n")
    conn = connection(smtp_server)
    for n in range(3):
        conn.send("lettre@example.org", f"r{n}@example.org", message)
    conn.close()
    assert [r.data.replace(b"\r\n", b"\n") for r in smtp_server.handler.received] == [
        b"Subject: dots\n\n.starts with a dot\n..two\n.\nend\n"
    ] * 3
    assert smtp_server.handler.connections == 1


def test_a_message_joined_from_pieces_is_framed_as_the_same_bytes_would_be(smtp_server: SmtpServer) -> None:
    shared = (b"x" * 70 + b"\r\n") * 30 + b".shared line\r\n"  # large: stuffed once, then remembered
    pieces = [b"Subject: dots\r\n\r\n", b".starts", b" here\r", b"\n.", b".two\r\n", shared, b".", b"\r\n",
              shared, b"end"]
    message = RenderedMessage.of_pieces(pieces)
    assert as_data(message) == as_data(b"".join(pieces))
    conn = connection(smtp_server)
    for n in range(2):
        conn.send("lettre@example.org", f"r{n}@example.org", message)
    conn.close()
    assert [r.data for r in smtp_server.handler.received] == [b"".join(pieces) + b"\r\n"] * 2


def test_replies_are_classified(smtp_server: SmtpServer) -> None:
    handler = smtp_server.handler
    handler.reject_rcpt = {"nobody@example.org"}
    handler.defer_rcpt = {"later@example.org": 1}
    handler.drop_after_data = {"drop@example.org": 1}
    conn = connection(smtp_server)
    message = crlf(b"Subject: x\n\nbody\n")
    with pytest.raises(PermanentRefusal) as refused:
        conn.send("lettre@example.org", "nobody@example.org", message)
    assert refused.value.recipient and refused.value.code == 550
    with pytest.raises(TransientFailure) as deferred:
        conn.send("lettre@example.org", "later@example.org", message)
    assert deferred.value.code == 451 and not deferred.value.connection_lost
    assert handler.connections == 1, "a refused transaction is reset (RSET) and the session carries on"
    with pytest.raises(TransientFailure) as dropped:
        conn.send("lettre@example.org", "drop@example.org", message)
    assert dropped.value.connection_lost
    conn.send("lettre@example.org", "later@example.org", message)
    assert handler.copies() == {"later@example.org": 1}


def test_421_at_connect_is_transient(smtp_server: SmtpServer) -> None:
    smtp_server.handler.refuse_connections = 1
    conn = connection(smtp_server)
    with pytest.raises(TransientFailure, match="421"):
        conn.open()
    conn.send("lettre@example.org", "a@example.org", crlf(b"Subject: x\n\nbody\n"))
    assert smtp_server.handler.copies() == {"a@example.org": 1}


def test_slow_server_times_out_as_transient(smtp_server: SmtpServer) -> None:
    smtp_server.handler.slow_mail, smtp_server.handler.slow_seconds = 1, 1.0
    with pytest.raises(TransientFailure, match="timed out"):
        connection(smtp_server, timeout=0.2).send("l@example.org", "a@example.org", crlf(b"S: x\n\nb\n"))


def test_dkim_signature_covers_list_unsubscribe_and_verifies(tmp_path: Path, smtp_server: SmtpServer) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    public_der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    (tmp_path / "dkim.pem").write_bytes(private_pem)
    config = load_config(write_mail_config(tmp_path, smtp_server, dkim_selector="news",
                                           dkim_domain="example.org", dkim_key_file="dkim.pem"))
    signer = DkimSigner.from_config(config.smtp, config.resolve)
    assert signer is not None
    digest = render_digest(config, config.digest("hebdo"), sample_announcements(2), NOW)
    template = build_message_template(digest, config.digest("hebdo"), config, now=NOW)
    signed = signer.sign(template.render("zoe@example.org", "Zoé", "https://n.example.org/unsubscribe/t"))
    connection(smtp_server).send("lettre@example.org", "zoe@example.org", signed)
    received = smtp_server.handler.received[0].data

    import base64

    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public_der)

    def dns(name: bytes, timeout: int = 5) -> bytes | None:
        return record if name == b"news._domainkey.example.org." else None

    assert dkim.verify(received, dnsfunc=dns)
    signed_headers = re.search(rb"h=([^;]+);", received.replace(b"\r\n ", b"").replace(b"\r\n\t", b""))
    assert signed_headers is not None
    names = {n.strip().lower() for n in signed_headers.group(1).split(b":")}
    assert {b"list-unsubscribe", b"list-unsubscribe-post", b"from", b"subject", b"to"} <= names
    tampered = received.replace(b"https://n.example.org/unsubscribe/t", b"https://evil.example/unsubscribe/t", 1)
    assert not dkim.verify(tampered, dnsfunc=dns)


def test_dkim_key_from_a_missing_env_var_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DKIM_KEY", raising=False)
    smtp = SmtpConfig(dkim_selector="news", dkim_domain="example.org", dkim_key_env="DKIM_KEY")
    with pytest.raises(Exception, match="DKIM_KEY"):
        DkimSigner.from_config(smtp, Path)


def test_verp_round_trip() -> None:
    sender = verp_sender("bounces@news.example.org", "Jean.Dupont@example.fr")
    assert sender == "bounces+Jean.Dupont=example.fr@news.example.org"
    assert verp_recipient(sender, "bounces@news.example.org") == "Jean.Dupont@example.fr"
    assert verp_recipient("someone@news.example.org", "bounces@news.example.org") is None


def test_rate_limiter_spaces_messages_and_caps_the_hour() -> None:
    clock = [0.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        clock[0] += seconds

    limiter = RateLimiter(per_second=10, per_hour=25, clock=lambda: clock[0], sleep=sleep)
    for _ in range(30):
        limiter.acquire()
    assert clock[0] == pytest.approx(3600 + 4 * 0.1)
    assert sum(1 for w in waits if w == pytest.approx(0.1)) >= 20


def test_a_connection_the_server_closed_while_idle_is_reopened_transparently() -> None:
    handler = ControlledHandler()
    controller = ControlledController(handler, hostname="127.0.0.1", port=free_port(), timeout=0.3)
    controller.start()
    handler.connections = 0
    try:
        conn = SmtpConnection(SmtpSettings("127.0.0.1", controller.port, "none", 2.0))
        conn.send("lettre@example.org", "a@example.org", crlf(b"Subject: x\n\nbody\n"))
        time.sleep(0.8)
        conn.send("lettre@example.org", "b@example.org", crlf(b"Subject: x\n\nbody\n"))
        conn.close()
    finally:
        controller.stop()
    assert handler.copies() == {"a@example.org": 1, "b@example.org": 1}
    assert handler.connections == 2


PASSWORD = "Tr0ub4dor-&-3-for-tests"
PASSWORD_ENV = "NEWSLETTER_TEST_SMTP_PASSWORD"


@pytest.mark.filterwarnings(IMPLICIT_TLS_WARNING)
@pytest.mark.parametrize(("security", "mechanism"), [("starttls", "LOGIN"), ("tls", "PLAIN")])
def test_tls_and_auth_work_and_the_password_is_never_shown(
    security: str,
    mechanism: str,
    secure_smtp_server: SecureServerFactory,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    server = secure_smtp_server(security, "lettre", PASSWORD, mechanisms=(mechanism,))
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    caplog.set_level(logging.DEBUG, logger="newsletter")
    settings = SmtpSettings(server.host, server.port, security, 5.0, "lettre", PASSWORD_ENV)
    conn = SmtpConnection(settings, ssl.create_default_context(cafile=server.cafile))
    conn.send("lettre@example.org", "a@example.org", crlf(b"Subject: x\n\nbody\n"))
    conn.close()

    [received] = server.handler.received
    assert received.tls and received.login == "lettre" and server.mechanisms == [mechanism]
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD + "-wrong")
    with pytest.raises(ConfigError, match="refused the credentials") as refused:
        SmtpConnection(settings, ssl.create_default_context(cafile=server.cafile)).open()
    output = capsys.readouterr()
    shown = caplog.text + output.out + output.err + str(refused.value) + settings.describe()
    assert PASSWORD not in shown and "lettre" in str(refused.value)


def test_an_untrusted_certificate_is_a_config_error(
    secure_smtp_server: SecureServerFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = secure_smtp_server("starttls", "lettre", PASSWORD)
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    settings = SmtpSettings(server.host, server.port, "starttls", 5.0, "lettre", PASSWORD_ENV)
    with pytest.raises(ConfigError, match="not trusted"):
        SmtpConnection(settings, ssl.create_default_context()).open()
    assert not server.handler.received and server.mechanisms == []


def test_smtp_is_the_default_transport_and_an_unknown_type_is_a_config_error(tmp_path: Path) -> None:
    config = load_config(write_mail_config(tmp_path, None))
    assert config.smtp.type == "smtp" and transport_class("smtp") is SmtpTransport
    assert email_transport(config, "example.org").describe() == "smtp://127.0.0.1:2525 (none)"
    unknown = r"smtp\.type.*unknown email transport type 'pigeon' \(valid: brevo, ses, smtp\)"
    with pytest.raises(ConfigError, match=unknown):
        load_config(write_mail_config(tmp_path, None, type="pigeon"))


def test_a_session_reports_each_outcome_with_the_server_reply(tmp_path: Path, smtp_server: SmtpServer) -> None:
    handler = smtp_server.handler
    handler.reject_rcpt = {"nobody@example.org"}
    handler.defer_rcpt = {"later@example.org": 1}
    handler.defer_mail = 1
    session = email_transport(load_config(write_mail_config(tmp_path, smtp_server)), "example.org").session()
    message = crlf(b"Subject: x\n\n.body\n")
    sent = session.send("lettre@example.org", "a@example.org", message)
    refused = session.send("lettre@example.org", "nobody@example.org", message)
    deferred = session.send("lettre@example.org", "later@example.org", message)
    session.close()
    assert sent.outcome is Outcome.SENT and "Queued" in sent.reply and handler.mail_replies[:2] == ["421", "250"]
    assert refused.outcome is Outcome.PERMANENT and refused.recipient_refused and "550 5.1.1" in refused.reply
    assert deferred.outcome is Outcome.TRANSIENT and "451" in deferred.reply and not deferred.recipient_refused
    [received] = handler.received
    assert received.data.replace(b"\r\n", b"\n") == b"Subject: x\n\n.body\n"


def test_an_unreadable_ca_file_is_a_config_error_naming_it(tmp_path: Path) -> None:
    (tmp_path / "not-a-bundle.pem").write_text("not a certificate\n")
    for name in ("absent.pem", "not-a-bundle.pem"):
        config = load_config(write_mail_config(tmp_path, None, security="starttls", ca_file=name))
        with pytest.raises(ConfigError, match=rf"smtp\.ca_file: cannot read a CA bundle from .*{name}"):
            email_transport(config, "example.org")


def test_plain_wire_reads_replies_split_across_reads_and_times_out_without_a_reply():
    ours, theirs = socket.socketpair()
    client = smtplib.SMTP()
    client.sock = ours
    wire = PlainWire(client, 0.2)
    with ours, theirs:
        theirs.sendall(b"250-first line\r\n250 sec")
        theirs.sendall(b"ond line\r\n354 go ahead\r\n")
        assert wire.reply() == (250, b"first line\nsecond line")
        assert wire.reply() == (354, b"go ahead")
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            wire.reply()
        assert time.monotonic() - started < 1.5
        theirs.close()
        with pytest.raises(smtplib.SMTPServerDisconnected):
            wire.reply()
