"""A real SMTP server on loopback (aiosmtpd) whose handler the test controls.

It records each message it accepted (250 after DATA) and can misbehave on demand: 421 at
connect, 421 to MAIL FROM, 451 or 550 on chosen recipients, a dropped connection after DATA,
a slow MAIL FROM.
`secure_smtp_server` serves STARTTLS or implicit TLS with a certificate made for the test and
requires AUTH (LOGIN or PLAIN) checked against a password.
"""

from __future__ import annotations

import asyncio
import email
import ipaddress
import socket
import ssl
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from pathlib import Path

import pytest
import yaml
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from newsletter.compose.digest import render_digest
from newsletter.config import Config
from newsletter.core.models import Announcement, Quote
from newsletter.store import DigestIssue, DigestIssueStatus, Store


@dataclass
class Received:
    """One message the server accepted."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    tls: bool = False
    login: str | None = None

    def message(self) -> EmailMessage:
        """The parsed message."""
        return email.message_from_bytes(self.data, policy=policy.default)  # type: ignore[return-value]


@dataclass
class ControlledHandler:
    """Decides each reply; counters say how many more times a fault happens."""

    refuse_connections: int = 0
    defer_mail: int = 0
    mail_replies: list[str] = field(default_factory=list)
    defer_rcpt: dict[str, int] = field(default_factory=dict)
    reject_rcpt: set[str] = field(default_factory=set)
    drop_after_data: dict[str, int] = field(default_factory=dict)
    slow_mail: int = 0
    slow_seconds: float = 0.0
    received: list[Received] = field(default_factory=list)
    connections: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, counters: dict[str, int], address: str) -> bool:
        """Consume one fault for `address` if any is left."""
        with self.lock:
            left = counters.get(address.lower(), 0)
            if left > 0:
                counters[address.lower()] = left - 1
            return left > 0

    async def handle_MAIL(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          mail_options: list[str]) -> str:
        with self.lock:
            slow = self.slow_mail > 0
            self.slow_mail -= int(slow)
            defer = self.defer_mail > 0
            self.defer_mail -= int(defer)
            self.mail_replies.append("421" if defer else "250")
        if slow:
            await asyncio.sleep(self.slow_seconds)
        if defer:
            return "421 4.7.0 Service busy, try again later"
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        if address.lower() in self.reject_rcpt:
            return "550 5.1.1 No such user"
        if self.take(self.defer_rcpt, address):
            return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if any(self.take(self.drop_after_data, r) for r in envelope.rcpt_tos):
            assert server.transport is not None
            server.transport.abort()
            return "421 dropped"
        with self.lock:
            login = session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else None
            self.received.append(Received(envelope.mail_from or "", list(envelope.rcpt_tos),
                                          bytes(envelope.original_content or b""), encrypted(server, session), login))
        return "250 2.0.0 Queued"

    def copies(self) -> Counter[str]:
        """How many accepted copies each recipient got."""
        with self.lock:
            return Counter(r.lower() for message in self.received for r in message.rcpt_tos)


def encrypted(server: SMTP, session: Session) -> bool:
    """Whether the session runs over TLS (implicit, or after STARTTLS)."""
    transport = server.transport
    return session.ssl is not None or (transport is not None and transport.get_extra_info("ssl_object") is not None)


class ControlledSMTP(SMTP):
    """aiosmtpd's server, answering 421 at connect while the handler says so."""

    async def _handle_client(self) -> None:
        handler: ControlledHandler = self.event_handler
        with handler.lock:
            handler.connections += 1
            refuse = handler.refuse_connections > 0
            handler.refuse_connections -= int(refuse)
        if refuse:
            await self.push("421 4.3.2 Too busy, try later")
            assert self.transport is not None
            self.transport.close()
            return
        await super()._handle_client()


class ControlledController(Controller):
    """A controller building `ControlledSMTP` servers."""

    def factory(self) -> SMTP:
        return ControlledSMTP(self.handler, **self.SMTP_kwargs)


@dataclass
class SmtpServer:
    """A running server: where it listens and its handler."""

    host: str
    port: int
    handler: ControlledHandler


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A controllable SMTP server on 127.0.0.1, stopped after the test."""
    handler = ControlledHandler()
    controller = ControlledController(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    handler.connections = 0
    try:
        yield SmtpServer("127.0.0.1", controller.port, handler)
    finally:
        controller.stop()


@dataclass
class SecureSmtpServer(SmtpServer):
    """A TLS server: the CA file that trusts it, and the mechanisms AUTH was tried with."""

    cafile: Path = Path()
    mechanisms: list[str] = field(default_factory=list)


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost, and its key, written as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(
            [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        ), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "smtp-cert.pem", folder / "smtp-key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ))
    return cert_path, key_path


def password_checker(login: str, password: str, mechanisms: list[str]) -> Callable[..., AuthResult]:
    """An aiosmtpd authenticator accepting one login and password, noting each mechanism tried."""

    def authenticate(server: SMTP, session: Session, envelope: Envelope, mechanism: str,
                     auth_data: object) -> AuthResult:
        mechanisms.append(mechanism)
        accepted = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
            login.encode(), password.encode()
        )
        return AuthResult(success=accepted, handled=False, auth_data=auth_data)

    return authenticate


SecureServerFactory = Callable[..., SecureSmtpServer]
IMPLICIT_TLS_WARNING = "ignore:Requiring AUTH while not requiring TLS:UserWarning"


@pytest.fixture(scope="session")
def smtp_certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """One self-signed certificate (and key) for 127.0.0.1 and localhost, made once per session."""
    return self_signed_certificate(tmp_path_factory.mktemp("smtp-tls"))


@pytest.fixture
def secure_smtp_server(smtp_certificate: tuple[Path, Path]) -> Iterator[SecureServerFactory]:
    """Start servers requiring TLS (`starttls` or implicit `tls`) and AUTH for `login`/`password`;
    `mechanisms` limits what AUTH offers (e.g. ["LOGIN"])."""
    cert_path, key_path = smtp_certificate
    controllers: list[Controller] = []

    def start(security: str, login: str, password: str, mechanisms: tuple[str, ...] = ("LOGIN", "PLAIN")):
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert_path, key_path)
        handler = ControlledHandler()
        tried: list[str] = []
        options: dict[str, object] = {
            "authenticator": password_checker(login, password, tried),
            "auth_required": True,
            "auth_exclude_mechanism": [m for m in ("LOGIN", "PLAIN") if m not in mechanisms],
        }
        if security == "starttls":
            options.update(tls_context=context, require_starttls=True)
            controller = ControlledController(handler, hostname="127.0.0.1", port=free_port(), **options)
        else:  # implicit TLS: aiosmtpd only counts STARTTLS as TLS (it warns; see IMPLICIT_TLS_WARNING)
            options.update(auth_require_tls=False)
            controller = ControlledController(handler, hostname="127.0.0.1", port=free_port(),
                                              ssl_context=context, **options)
        controller.start()
        controllers.append(controller)
        return SecureSmtpServer("127.0.0.1", controller.port, handler, cert_path, tried)

    try:
        yield start
    finally:
        for controller in controllers:
            controller.stop()


TEST_SECRET_ENV = "NEWSLETTER_TEST_SECRET"
TEST_SECRET = "test-secret-0123456789abcdef"


def write_mail_config(folder: Path, server: SmtpServer | None, **smtp: object) -> Path:
    """A config file for sending tests: one digest `hebdo` to list `main`, via `server`."""
    settings = {"host": "127.0.0.1", "port": server.port if server else 2525, "timeout": 2,
                "connections": 2, "max_attempts": 4, **smtp}
    data = {
        "public_base_url": "https://news.example.org",
        "smtp": settings,
        "unsubscribe": {"secret_env": TEST_SECRET_ENV, "mailto": "desabonnement@example.org"},
        "digests": [{
            "name": "hebdo", "schedule": "0 9 * * MON", "list": "main",
            "from_address": "lettre@example.org", "from_name": "Ministère des Essais",
            "reply_to": "contact@example.org",
        }],
    }
    path = folder / "newsletter.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def sample_announcements(count: int = 3) -> list[Announcement]:
    """Announcements with French quotes and figures, as extraction would give them."""
    return [
        Announcement(
            identity=f"a{n}", source="test", id=f"annonce-{n}",
            title=f"Plan numéro {n} : près de 900 000 bénéficiaires",
            lede="Le ministre a présenté « un plan ambitieux » pour la rentrée. " * 8,
            url=f"https://www.example.gouv.fr/annonces/{n}",
            quotes=[Quote("Nous tiendrons nos engagements", speaker="Mme Dupont", role="ministre")],
            key_quote=0,
        )
        for n in range(count)
    ]


def create_issue(config: Config, store: Store, now: datetime, count: int = 3) -> DigestIssue:
    """Render and freeze an approved issue of the `hebdo` digest."""
    digest = render_digest(config, config.digest("hebdo"), sample_announcements(count), now)
    return store.issues.create_digest_issue(
        digest, status=DigestIssueStatus.APPROVED, follows=store.issues.digest_chain_tip(digest.name), now=now
    )


def seed_subscribers(store: Store, count: int, lists: tuple[str, ...] = ("main",)) -> list[str]:
    """`count` active subscribers `personN@example.org` on `lists`; returns their addresses."""
    addresses = [f"person{n}@example.org" for n in range(count)]
    for n, address in enumerate(addresses):
        store.subscribers.add_subscriber(address, name=f"Personne {n}", lists=lists, consent_source="test")
    return addresses
