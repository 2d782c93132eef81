"""The bounce mailbox over IMAP (`bounces.imap`): each message of the folder read without
marking it, and moved to the processed folder once its reports are applied.

TLS (implicit or STARTTLS) is always verified, host name checked, against the system's CAs or
only `ca_file`. The password comes from the env var `password_env` names and is never shown.
"""

from __future__ import annotations

import contextlib
import imaplib
import os
import ssl
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

from newsletter.config import ImapMailboxConfig
from newsletter.core.errors import ConfigError, NewsletterError

WHERE = "bounces.imap"


class MailboxUnavailable(NewsletterError):
    """The IMAP server cannot be reached or answered with an error; nothing was moved."""


def mailbox_password(settings: ImapMailboxConfig) -> str:
    """The mailbox password from its env var; ConfigError naming the variable when unset."""
    password = os.environ.get(settings.password_env)
    if not password:
        raise ConfigError([f"{WHERE}.password_env: environment variable {settings.password_env} is not set"])
    return password


def imap_tls_context(settings: ImapMailboxConfig, resolve: Callable[[Path], Path]) -> ssl.SSLContext:
    """A verifying TLS context: the system's CAs, or only `ca_file`."""
    if settings.ca_file is None:
        return ssl.create_default_context()
    path = resolve(settings.ca_file)
    try:
        return ssl.create_default_context(cafile=str(path))
    except (OSError, ssl.SSLError) as error:
        reason = getattr(error, "strerror", None) or getattr(error, "reason", None) or error
        raise ConfigError([f"{WHERE}.ca_file: cannot read a CA bundle from {path} ({reason})"]) from None


class BounceMailbox:
    """One session on the bounce mailbox: `messages()` lists (uid, raw bytes), `archive(uid)`
    moves a processed one away (MOVE, else COPY then EXPUNGE, of that message alone with
    UIDPLUS). Use it as a context manager."""

    def __init__(self, settings: ImapMailboxConfig, password: str, tls: ssl.SSLContext):
        self.settings = settings
        self.password = password
        self.tls = tls
        self.connection: imaplib.IMAP4 | None = None
        self.capabilities: frozenset[str] = frozenset()

    def __enter__(self) -> BounceMailbox:
        self.connection = self._connect()
        try:
            self._login()
            self.capabilities = self._capabilities()
            self._ensure_folder(self.settings.processed_folder)
            self._run("select", lambda imap: imap.select(_quoted(self.settings.folder)))
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def messages(self) -> Iterator[tuple[str, bytes]]:
        """(uid, raw message) of every message in the folder, oldest first, left unread."""
        uids = self._run("search", lambda imap: imap.uid("SEARCH", "UNDELETED"))
        for uid in (uids[0] or b"").decode().split():
            data = self._run("fetch", _fetch_command(uid))
            raw = next((item[1] for item in data if isinstance(item, tuple)), None)
            if raw is not None:
                yield uid, raw

    def archive(self, uid: str) -> None:
        """Move a processed message to the processed folder, marked read."""
        self._run("store", lambda imap: imap.uid("STORE", uid, "+FLAGS", r"(\Seen)"))
        target = _quoted(self.settings.processed_folder)
        if "MOVE" in self.capabilities:
            self._run("move", lambda imap: imap.uid("MOVE", uid, target))
            return
        self._run("copy", lambda imap: imap.uid("COPY", uid, target))
        self._run("store", lambda imap: imap.uid("STORE", uid, "+FLAGS", r"(\Deleted)"))
        if "UIDPLUS" in self.capabilities:  # only this message, not others a person marked deleted
            self._run("expunge", lambda imap: imap.uid("EXPUNGE", uid))
        else:
            self._run("expunge", lambda imap: imap.expunge())

    def close(self) -> None:
        """Log out (quietly when the connection is already gone)."""
        if self.connection is None:
            return
        with contextlib.suppress(imaplib.IMAP4.error, OSError):
            self.connection.logout()
        self.connection = None

    @property
    def _imap(self) -> imaplib.IMAP4:
        if self.connection is None:
            raise MailboxUnavailable(f"{self._where()}: not connected")
        return self.connection

    def _where(self) -> str:
        return f"bounce mailbox {self.settings.user}@{self.settings.host}:{self.settings.effective_port}"

    def _connect(self) -> imaplib.IMAP4:
        host, port, timeout = self.settings.host, self.settings.effective_port, self.settings.timeout
        try:
            if self.settings.security == "tls":
                return imaplib.IMAP4_SSL(host, port, ssl_context=self.tls, timeout=timeout)
            connection = imaplib.IMAP4(host, port, timeout=timeout)
            if self.settings.security == "starttls":
                connection.starttls(ssl_context=self.tls)
            return connection
        except ssl.SSLCertVerificationError as error:
            problem = f"{WHERE}: the certificate of {host}:{port} is not trusted ({error.verify_message})"
            raise ConfigError([problem]) from None
        except (OSError, imaplib.IMAP4.error) as error:
            raise MailboxUnavailable(f"{self._where()}: cannot connect ({error})") from None

    def _login(self) -> None:
        try:
            self._imap.login(self.settings.user, self.password)
        except imaplib.IMAP4.error:
            raise ConfigError([f"{WHERE}: the server refused the login of {self.settings.user} "
                               f"(password from {self.settings.password_env})"]) from None

    def _capabilities(self) -> frozenset[str]:
        """What the server offers once logged in (MOVE, UIDPLUS… are often not announced before)."""
        data = self._run("capability", lambda imap: imap.capability())
        words = b" ".join(item for item in data if isinstance(item, bytes)).decode("ascii", "replace")
        return frozenset(words.upper().split())

    def _ensure_folder(self, name: str) -> None:
        listed = self._run("list", lambda imap: imap.list('""', _quoted(name)))
        if not any(item for item in listed if item):
            self._run("create", lambda imap: imap.create(_quoted(name)))

    def _run(self, command: str, call: Callable[[imaplib.IMAP4], tuple[str, list[Any]]]) -> list[Any]:
        """The data of the command's OK answer; MailboxUnavailable naming the command when the
        server refuses it or the connection fails."""
        try:
            status, data = call(self._imap)
        except (imaplib.IMAP4.error, OSError) as error:
            raise MailboxUnavailable(f"{self._where()}: {command} failed ({error})") from None
        if status != "OK":
            detail = b" ".join(item for item in data if isinstance(item, bytes)).decode("utf-8", "replace")
            raise MailboxUnavailable(f"{self._where()}: {command} failed ({detail or status})")
        return data


def _fetch_command(uid: str) -> Callable[[imaplib.IMAP4], tuple[str, list[Any]]]:
    """Fetch one message by uid without marking it read."""
    return lambda imap: imap.uid("FETCH", uid, "(BODY.PEEK[])")


def _quoted(folder: str) -> str:
    """A folder name as an IMAP quoted string."""
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'
