"""SMTP transport: reusable connections (plain, STARTTLS or TLS), a rate limit, DKIM and VERP.

`SmtpTransport` is the `EmailTransport` registered as `smtp` (see `base.py`); its sessions wrap
an `SmtpConnection` and turn its exceptions into outcomes. TLS is always verified (the system's
CAs, or only `smtp.ca_file`), with the host name checked. `SmtpConnection.send` classifies every
reply: accepted (250 after DATA), refused for good (5xx: `PermanentRefusal`) or worth retrying
(4xx, dropped connection, timeout: `TransientFailure`). The DATA phase is written by hand so a
MIME message already in CRLF form is only dot-stuffed (a cheap byte replace) rather than re-scanned,
and when the server offers PIPELINING (RFC 2920) MAIL FROM, RCPT TO and DATA go in one write.
"""

from __future__ import annotations

import os
import smtplib
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from newsletter.config import Config, SmtpConfig
from newsletter.core.errors import ConfigError, PublishError
from newsletter.publish.email.base import Outcome, SendResult, TransportUnavailable

DKIM_HEADERS = (
    b"from", b"reply-to", b"to", b"subject", b"date", b"message-id", b"mime-version",
    b"content-type", b"list-id", b"list-unsubscribe", b"list-unsubscribe-post",
)
LOCAL_HOSTNAME = "localhost"


class TransientFailure(PublishError):
    """The server deferred the message or the connection failed: try again later."""

    def __init__(self, message: str, *, code: int | None = None, connection_lost: bool = False):
        super().__init__(message, retryable=True)
        self.code = code
        self.connection_lost = connection_lost


class PermanentRefusal(PublishError):
    """The server refused the message for good (5xx); `recipient` says the address was refused."""

    def __init__(self, message: str, *, code: int | None = None, recipient: bool = False):
        super().__init__(message, retryable=False)
        self.code = code
        self.recipient = recipient


def _reply_text(message: bytes | str) -> str:
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else message
    return " ".join(text.split())[:300]


def _classify(stage: str, code: int, message: bytes | str, *, recipient: bool = False) -> PublishError:
    """A 4xx reply is transient, anything else unexpected is permanent."""
    text = f"{stage}: {code} {_reply_text(message)}"
    if 400 <= code < 500:
        return TransientFailure(text, code=code, connection_lost=code == 421)
    return PermanentRefusal(text, code=code, recipient=recipient)


def envelope_address(address: str) -> str:
    """An address safe to put between < > in MAIL FROM / RCPT TO (validated ones always are)."""
    if not address or any(c in address for c in "<>\r\n \t"):
        raise PermanentRefusal(f"invalid envelope address {address!r}")
    return address


def crlf(message: bytes) -> bytes:
    """The message with every line break written CRLF, as SMTP requires."""
    return message.replace(b"\r\n", b"\n").replace(b"\r", b"\n").replace(b"\n", b"\r\n")


def as_data(message: bytes) -> bytes:
    """A CRLF message as DATA carries it: leading dots doubled, ending with CRLF and the lone-dot line.
    A message joined from pieces (`RenderedMessage`) is stuffed piece by piece, the large pieces
    every recipient shares only once (see `StuffedPieces`)."""
    pieces = getattr(message, "pieces", None)
    if pieces is not None:
        return SHARED_PIECES.as_data(pieces)
    if message.startswith(b"."):
        message = b"." + message
    message = message.replace(b"\r\n.", b"\r\n..")
    return message + (b".\r\n" if message.endswith(b"\r\n") else b"\r\n.\r\n")


class StuffedPieces:
    """Dot-stuffing of CRLF messages joined from pieces, the large pieces remembered (by the
    piece itself: a message template's shared segments are the same objects in every copy), so
    a 40 KB digest is scanned once per issue rather than once per recipient."""

    def __init__(self, remember_from: int = 1024, capacity: int = 256):
        self.remember_from = remember_from
        self.capacity = capacity
        self.stuffed: dict[bytes, bytes] = {}

    def as_data(self, pieces: Iterable[bytes]) -> bytes:
        """`as_data` of the message the pieces make. Its line breaks are all CRLF, so a line
        starts after every LF: inside a piece, or at a piece's start after one ending with LF."""
        out = []
        line_start = True
        for piece in pieces:
            if not piece:
                continue
            if line_start and piece.startswith(b"."):
                out.append(b".")
            out.append(self._stuffed(piece))
            line_start = piece.endswith(b"\n")
        out.append(b".\r\n" if line_start else b"\r\n.\r\n")
        return b"".join(out)

    def _stuffed(self, piece: bytes) -> bytes:
        if len(piece) < self.remember_from:
            return piece.replace(b"\n.", b"\n..")
        stuffed = self.stuffed.get(piece)
        if stuffed is None:
            if len(self.stuffed) >= self.capacity:
                self.stuffed.clear()
            stuffed = self.stuffed[piece] = piece.replace(b"\n.", b"\n..")
        return stuffed


SHARED_PIECES = StuffedPieces()


def verp_sender(return_path: str, recipient: str) -> str:
    """A per-recipient envelope sender (VERP): `bounces+user=example.org@sender.domain`."""
    local, _, domain = return_path.rpartition("@")
    user, _, recipient_domain = recipient.rpartition("@")
    return f"{local}+{user}={recipient_domain}@{domain}"


def verp_recipient(envelope_sender: str, return_path: str) -> str | None:
    """The recipient a bounce to a VERP address was about, or None if it is not one of ours."""
    local, _, domain = return_path.rpartition("@")
    address, _, address_domain = envelope_sender.rpartition("@")
    prefix = f"{local}+"
    if address_domain.lower() != domain.lower() or not address.startswith(prefix):
        return None
    user, equals, recipient_domain = address[len(prefix):].rpartition("=")
    return f"{user}@{recipient_domain}" if equals and user else None


class DkimSigner:
    """Signs messages with DKIM, covering List-Unsubscribe and List-Unsubscribe-Post."""

    def __init__(self, selector: str, domain: str, private_key: bytes):
        self.selector = selector.encode("ascii")
        self.domain = domain.encode("ascii")
        self.private_key = private_key

    @classmethod
    def from_config(cls, smtp: SmtpConfig, resolve: Callable[[Path], Path]) -> DkimSigner | None:
        """The signer the config asks for (key from a file or an env var), or None."""
        if not smtp.dkim_selector:
            return None
        if not smtp.dkim_domain:
            raise ConfigError(["smtp.dkim_domain: required when smtp.dkim_selector is set"])
        if smtp.dkim_key_env:
            key = os.environ.get(smtp.dkim_key_env, "").encode("ascii")
            if not key:
                raise ConfigError([f"smtp.dkim_key_env: environment variable {smtp.dkim_key_env} is not set"])
        elif smtp.dkim_key_file:
            path = resolve(smtp.dkim_key_file)
            try:
                key = path.read_bytes()
            except OSError as error:
                raise ConfigError([f"smtp.dkim_key_file: cannot read {path} ({error.strerror})"]) from None
        else:
            raise ConfigError(["smtp.dkim_selector: set dkim_key_file or dkim_key_env too"])
        return cls(smtp.dkim_selector, smtp.dkim_domain, key)

    def sign(self, message: bytes) -> bytes:
        """The message with a DKIM-Signature header prepended."""
        import dkim  # loaded only when messages are signed: sender processes start faster without it

        try:
            signature = dkim.sign(
                message, self.selector, self.domain, self.private_key, include_headers=list(DKIM_HEADERS)
            )
        except dkim.DKIMException as error:
            raise ConfigError([f"smtp.dkim: cannot sign ({error})"]) from None
        return signature + message


class RateLimiter:
    """Shared by every connection: at most `per_second` messages a second and `per_hour` an hour."""

    def __init__(
        self,
        per_second: float | None,
        per_hour: int | None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.interval = 1.0 / per_second if per_second else 0.0
        self.per_hour = per_hour
        self.clock = clock
        self.sleep = sleep
        self.lock = threading.Lock()
        self.next_slot = 0.0
        self.hour_started = 0.0
        self.hour_count = 0

    def acquire(self) -> None:
        """Wait until one more message may start."""
        if not self.interval and not self.per_hour:
            return
        with self.lock:
            now = self.clock()
            slot = max(now, self.next_slot)
            if self.per_hour:
                if slot - self.hour_started >= 3600:
                    self.hour_started, self.hour_count = slot, 0
                if self.hour_count >= self.per_hour:
                    slot = self.hour_started + 3600
                    self.hour_started, self.hour_count = slot, 0
                self.hour_count += 1
            self.next_slot = slot + self.interval
        if slot > now:
            self.sleep(slot - now)


@dataclass(frozen=True)
class SmtpSettings:
    """Everything needed to open a connection; the password is read from the env var."""

    host: str
    port: int
    security: str
    timeout: float
    username: str | None = None
    password_env: str | None = None
    local_hostname: str = LOCAL_HOSTNAME

    @classmethod
    def from_config(cls, smtp: SmtpConfig, local_hostname: str = LOCAL_HOSTNAME) -> SmtpSettings:
        """Settings from the `smtp:` section."""
        return cls(smtp.host, smtp.port, smtp.security, smtp.timeout, smtp.username, smtp.password_env,
                   local_hostname)

    def password(self) -> str | None:
        """The password from its environment variable (None without authentication)."""
        if not self.username:
            return None
        if not self.password_env:
            raise ConfigError([f"smtp.password_env: name the environment variable holding the password of "
                               f"{self.username}"])
        password = os.environ.get(self.password_env)
        if not password:
            raise ConfigError([f"smtp.password_env: environment variable {self.password_env} is not set "
                               f"(it holds the password of {self.username} on {self.host}:{self.port})"])
        return password

    def describe(self) -> str:
        """One line for logs, without the password."""
        auth = f" as {self.username}" if self.username else ""
        return f"smtp://{self.host}:{self.port} ({self.security}){auth}"


class _IdleConnectionClosed(Exception):
    """The server closed a reused connection (or said 421) at MAIL FROM: nothing was sent yet,
    so the transaction is retried once on a fresh connection without counting an attempt."""

    def __init__(self, code: int = 421, reply: str = "connection closed by the server"):
        super().__init__(reply)
        self.code = code
        self.reply = reply


class Wire:
    """The per-message commands and replies of a session: smtplib's, except on a plain socket
    (see `PlainWire`)."""

    def __init__(self, client: smtplib.SMTP):
        self.client = client

    def send(self, data: bytes) -> None:
        """Write commands or DATA content."""
        self.client.send(data)

    def reply(self) -> tuple[int, bytes]:
        """The next reply: its code and its text (lines joined by LF)."""
        return self.client.getreply()


class PlainWire(Wire):
    """A plain (not TLS) socket put in blocking mode with the kernel's send and receive timeouts
    (SO_SNDTIMEO, SO_RCVTIMEO): Python then no longer polls before every write and read, half the
    system calls of a transaction; replies are parsed from one buffer of what the server sent.
    Nagle's delay is off (TCP_NODELAY): every write is a whole command group or the whole content."""

    def __init__(self, client: smtplib.SMTP, timeout: float):
        super().__init__(client)
        self.sock: socket.socket = client.sock
        interval = struct.pack("ll", int(timeout), int(timeout % 1 * 1_000_000))
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, interval)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, interval)
        self.sock.settimeout(None)
        if self.sock.family in (socket.AF_INET, socket.AF_INET6):  # each write is a whole command group
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""

    def send(self, data: bytes) -> None:
        try:
            self.sock.sendall(data)
        except BlockingIOError:
            raise TimeoutError("timed out") from None

    def reply(self) -> tuple[int, bytes]:
        lines = []
        while True:
            end = self.buffer.find(b"\n")
            while end < 0:
                self._receive()
                end = self.buffer.find(b"\n")
            line, self.buffer = self.buffer[:end + 1], self.buffer[end + 1:]
            lines.append(line[4:].strip(b" \t\r\n"))
            if line[3:4] != b"-":
                break
        try:
            return int(line[:3]), b"\n".join(lines)
        except ValueError:
            raise smtplib.SMTPServerDisconnected(f"not an SMTP reply: {line[:40]!r}") from None

    def _receive(self) -> None:
        try:
            chunk = self.sock.recv(65536)
        except BlockingIOError:
            raise TimeoutError("timed out") from None
        if not chunk:
            raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
        self.buffer += chunk
        if len(self.buffer) > 65536:
            raise smtplib.SMTPServerDisconnected("reply line too long")


class SmtpConnection:
    """One SMTP session reused across messages; reopened transparently after a failure."""

    def __init__(self, settings: SmtpSettings, ssl_context: ssl.SSLContext | None = None):
        self.settings = settings
        self.ssl_context = ssl_context or (None if settings.security == "none" else ssl.create_default_context())
        self.client: smtplib.SMTP | None = None
        self.wire: Wire | None = None

    def open(self) -> None:
        """Connect, greet, secure and authenticate; TransientFailure if the server is unavailable."""
        if self.client is not None:
            return
        s = self.settings
        password = s.password()
        try:
            if s.security == "tls":
                client: smtplib.SMTP = smtplib.SMTP_SSL(
                    s.host, s.port, local_hostname=s.local_hostname, timeout=s.timeout,
                    context=self.ssl_context,
                )
            else:
                client = smtplib.SMTP(s.host, s.port, local_hostname=s.local_hostname, timeout=s.timeout)
            client.ehlo()
            if s.security == "starttls":
                client.starttls(context=self.ssl_context)
                client.ehlo()
            if s.username and password is not None:
                client.login(s.username, password)
        except smtplib.SMTPAuthenticationError as error:
            raise ConfigError([f"smtp: {s.describe()} refused the credentials ({error.smtp_code})"]) from None
        except ssl.SSLCertVerificationError as error:
            raise ConfigError([f"smtp: the certificate of {s.describe()} is not trusted ({error.verify_message})"]) \
                from None
        except smtplib.SMTPConnectError as error:
            raise _classify("connect", error.smtp_code, error.smtp_error) from None
        except smtplib.SMTPResponseException as error:
            raise _classify("greeting", error.smtp_code, error.smtp_error) from None
        except (OSError, smtplib.SMTPException) as error:
            raise TransientFailure(f"connect to {s.describe()}: {error or type(error).__name__}",
                                   connection_lost=True) from None
        self.client = client
        self.wire = Wire(client) if isinstance(client.sock, ssl.SSLSocket) else PlainWire(client, s.timeout)

    def close(self) -> None:
        """Say QUIT if possible and forget the session."""
        client, self.client, self.wire = self.client, None, None
        if client is None:
            return
        try:
            client.quit()
        except (OSError, smtplib.SMTPException):
            client.close()

    def drop(self) -> None:
        """Forget a broken session without talking to the server."""
        client, self.client, self.wire = self.client, None, None
        if client is not None:
            client.close()

    def send(self, envelope_from: str, recipient: str, message: bytes) -> str:
        """Send one message whose line breaks are all CRLF (see `crlf`); returns the server's
        reply to DATA (250), else raises PermanentRefusal or TransientFailure."""
        return self.send_data(envelope_from, recipient, as_data(message))

    def send_data(self, envelope_from: str, recipient: str, data: bytes) -> str:
        """`send` for a message already as DATA carries it (see `as_data`): dot-stuffed, ending
        with the lone-dot line."""
        self.open()
        client, wire = self.client, self.wire
        assert client is not None and wire is not None
        try:
            try:
                return self._transaction(client, wire, envelope_from, recipient, data)
            except _IdleConnectionClosed:
                self.drop()
                self.open()
                client, wire = self.client, self.wire
                assert client is not None and wire is not None
                try:
                    return self._transaction(client, wire, envelope_from, recipient, data)
                except _IdleConnectionClosed as again:
                    raise TransientFailure(f"MAIL FROM: {again.reply}", code=again.code, connection_lost=True) from None
        except (OSError, smtplib.SMTPServerDisconnected) as error:
            self.drop()
            reason = "timed out" if isinstance(error, socket.timeout) else f"connection lost ({error})"
            raise TransientFailure(f"{recipient}: {reason}", connection_lost=True) from None
        except PublishError as error:
            if isinstance(error, TransientFailure) and error.connection_lost:
                self.drop()
            else:
                self._reset(wire)
            raise

    def _transaction(self, client: smtplib.SMTP, wire: Wire, envelope_from: str, recipient: str, data: bytes) -> str:
        if client.has_extn("pipelining"):
            return self._pipelined(wire, envelope_from, recipient, data)
        code, reply = _first_reply(wire, f"MAIL FROM:<{envelope_address(envelope_from)}>\r\n".encode("ascii"))
        if code != 250:
            raise _classify("MAIL FROM", code, reply)
        wire.send(f"RCPT TO:<{envelope_address(recipient)}>\r\n".encode("ascii"))
        code, reply = wire.reply()
        if code not in (250, 251):
            raise _classify(f"RCPT TO <{recipient}>", code, reply, recipient=True)
        wire.send(b"DATA\r\n")
        code, reply = wire.reply()
        if code != 354:
            raise _classify("DATA", code, reply)
        return _send_content(wire, data)

    def _pipelined(self, wire: Wire, envelope_from: str, recipient: str, data: bytes) -> str:
        """RFC 2920: MAIL FROM, RCPT TO and DATA in one write, their three replies read after;
        the content goes only after 354, so a refusal never leaves part of a message sent."""
        sender, to = envelope_address(envelope_from), envelope_address(recipient)
        commands = f"MAIL FROM:<{sender}>\r\nRCPT TO:<{to}>\r\nDATA\r\n".encode("ascii")
        mail_code, mail_reply = _first_reply(wire, commands)
        rcpt_code, rcpt_reply = wire.reply()
        data_code, data_reply = wire.reply()
        refused = mail_code != 250 or rcpt_code not in (250, 251)
        if data_code == 354 and refused:  # a lax server opened DATA anyway: never send it anything
            self.drop()
        if mail_code != 250:
            raise _classify("MAIL FROM", mail_code, mail_reply)
        if rcpt_code not in (250, 251):
            raise _classify(f"RCPT TO <{recipient}>", rcpt_code, rcpt_reply, recipient=True)
        if data_code != 354:
            raise _classify("DATA", data_code, data_reply)
        return _send_content(wire, data)

    def _reset(self, wire: Wire) -> None:
        """RSET after a refused transaction so the session can carry on (through the wire that
        read the transaction's replies, so no reply is left in another buffer)."""
        try:
            wire.send(b"RSET\r\n")
            code, _reply = wire.reply()
        except (OSError, smtplib.SMTPException):
            code = 0
        if code != 250:
            self.drop()


def _first_reply(wire: Wire, commands: bytes) -> tuple[int, bytes]:
    """Send the transaction's first command(s) and read MAIL FROM's reply; a connection the
    server closed while idle (or a 421) is `_IdleConnectionClosed`: nothing was sent yet."""
    try:
        wire.send(commands)
        code, reply = wire.reply()
    except (smtplib.SMTPServerDisconnected, ConnectionResetError, BrokenPipeError) as error:
        if "timed out" in str(error):  # smtplib reports a read timeout as a disconnection
            raise
        raise _IdleConnectionClosed() from None
    if code == 421:
        raise _IdleConnectionClosed(code, f"{code} {_reply_text(reply)}")
    return code, reply


def _send_content(wire: Wire, data: bytes) -> str:
    """Send the DATA content (after 354) and return the server's 250 reply."""
    wire.send(data)
    code, reply = wire.reply()
    if code != 250:
        raise _classify("end of DATA", code, reply)
    return _reply_text(reply)


def tls_context(smtp: SmtpConfig, resolve: Callable[[Path], Path]) -> ssl.SSLContext:
    """A verifying TLS context (host name checked): the system's CAs, or only `smtp.ca_file`."""
    if smtp.ca_file is None:
        return ssl.create_default_context()
    path = resolve(smtp.ca_file)
    try:
        return ssl.create_default_context(cafile=str(path))
    except (OSError, ssl.SSLError) as error:
        reason = getattr(error, "strerror", None) or getattr(error, "reason", None) or error
        raise ConfigError([f"smtp.ca_file: cannot read a CA bundle from {path} ({reason})"]) from None


class SmtpTransport:
    """The `smtp` transport: one verified TLS context, DKIM signer and rate limit shared by its sessions."""

    type_name: ClassVar[str] = "smtp"

    def __init__(
        self,
        settings: SmtpSettings,
        ssl_context: ssl.SSLContext | None,
        *,
        rate: RateLimiter | None = None,
        signer: DkimSigner | None = None,
        verp: bool = False,
    ):
        self.settings = settings
        self.ssl_context = ssl_context
        self.rate = rate or RateLimiter(None, None)
        self.signer = signer
        self.verp = verp

    @classmethod
    def from_config(cls, config: Config, local_hostname: str) -> SmtpTransport:
        """The transport the `smtp:` section describes, EHLO naming `local_hostname`."""
        smtp = config.smtp
        return cls(
            SmtpSettings.from_config(smtp, local_hostname),
            tls_context(smtp, config.resolve) if smtp.security != "none" else None,
            rate=RateLimiter(smtp.rate_per_second, smtp.rate_per_hour),
            signer=DkimSigner.from_config(smtp, config.resolve),
            verp=smtp.verp,
        )

    def check(self) -> None:
        """Connect, secure and authenticate once, then say QUIT."""
        session = self.session()
        try:
            session.open()
        finally:
            session.close()

    def session(self) -> SmtpSession:
        """A session on a connection of its own, opened lazily."""
        return SmtpSession(self)

    def describe(self) -> str:
        """The server, security and login, without the password."""
        return self.settings.describe()


class SmtpSession:
    """One reusable SMTP connection of a transport: signs, frames and classifies each message."""

    def __init__(self, transport: SmtpTransport):
        self.transport = transport
        self.connection = SmtpConnection(transport.settings, transport.ssl_context)

    def open(self) -> None:
        """Connect if not yet connected: TransportUnavailable when the server cannot be reached now."""
        try:
            self.connection.open()
        except TransientFailure as error:
            raise TransportUnavailable(str(error)) from None

    def send(self, envelope_from: str, recipient: str, message: bytes) -> SendResult:
        """Sign (DKIM), pick the envelope sender (VERP), wait for the rate limit and send."""
        transport = self.transport
        sender = verp_sender(envelope_from, recipient) if transport.verp else envelope_from
        data = as_data(message if transport.signer is None else transport.signer.sign(message))
        transport.rate.acquire()
        try:
            reply = self.connection.send_data(sender, recipient, data)
        except PermanentRefusal as error:
            return SendResult(Outcome.PERMANENT, str(error), recipient_refused=error.recipient)
        except TransientFailure as error:
            return SendResult(Outcome.TRANSIENT, str(error))
        return SendResult(Outcome.SENT, reply)

    def close(self) -> None:
        """Say QUIT and forget the connection."""
        self.connection.close()
