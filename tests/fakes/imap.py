"""A real IMAP server for the test session: Debian's Dovecot on loopback, started once.

`dovecot_server` writes a minimal dovecot.conf in a temporary folder (IMAP with STARTTLS and
implicit TLS on free 127.0.0.1 ports, plain IMAP on 127.0.0.2 and 127.0.0.3 announcing no MOVE,
a certificate made for the test, one user with a plain password in a passwd-file, Maildir under
the folder) and runs `dovecot -F -c conf`; as root the
mail belongs to the `dovecot` user. Without /usr/sbin/dovecot the tests are skipped (failed
under NEWSLETTER_REQUIRE_ALL=1). `bounce_mailbox` empties the user's folders for each test.
"""

from __future__ import annotations

import grp
import imaplib
import os
import pwd
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fakes.smtp import free_port, self_signed_certificate

DOVECOT = Path(os.environ.get("NEWSLETTER_TEST_DOVECOT", "/usr/sbin/dovecot"))
USER = "bounces@example.org"
PASSWORD = "imap-test-password-42"
START_TIMEOUT = 15.0


# Plain IMAP listeners on other loopback addresses whose sessions announce fewer extensions
# (a Dovecot `local` filter), like servers without MOVE (RFC 6851), or without UIDPLUS either.
REDUCED_CAPABILITIES = {
    "no-move": ("127.0.0.2", "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE UIDPLUS LITERAL+"),
    "no-move-no-uidplus": ("127.0.0.3", "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+"),
}


@dataclass
class ImapServer:
    """A running Dovecot: its ports, the test user's credentials and its CA (its own certificate),
    and the (address, port) of each reduced-capability listener."""

    starttls_port: int
    tls_port: int
    ca_file: Path
    reduced: dict[str, tuple[str, int]]
    user: str = USER
    password: str = PASSWORD

    def connect(self) -> imaplib.IMAP4_SSL:
        """A logged-in client session over implicit TLS, for setting up and inspecting folders."""
        context = ssl.create_default_context(cafile=str(self.ca_file))
        client = imaplib.IMAP4_SSL("127.0.0.1", self.tls_port, ssl_context=context, timeout=10)
        client.login(self.user, self.password)
        return client

    def append(self, raw: bytes, folder: str = "INBOX") -> None:
        """Deliver one message into `folder`."""
        client = self.connect()
        try:
            status, _ = client.append(folder, None, None, raw)
            assert status == "OK"
        finally:
            client.logout()

    def folder_messages(self, folder: str) -> list[tuple[bytes, bytes]]:
        """(flags, raw message) of every message in `folder` ([] when it does not exist)."""
        client = self.connect()
        try:
            status, _ = client.select(folder, readonly=True)
            if status != "OK":
                return []
            _, found = client.uid("SEARCH", "ALL")
            messages = []
            for uid in (found[0] or b"").split():
                _, data = client.uid("FETCH", uid.decode(), "(FLAGS BODY.PEEK[])")
                head, raw = next(item for item in data if isinstance(item, tuple))
                messages.append((head, raw))
            return messages
        finally:
            client.logout()

    def empty(self) -> None:
        """Delete every folder but INBOX and every message in INBOX."""
        client = self.connect()
        try:
            _, listed = client.list()
            for line in listed:
                name = line.decode().rsplit(" ", 1)[-1].strip('"') if isinstance(line, bytes) else ""
                if name and name != "INBOX":
                    client.delete(f'"{name}"')
            _, count = client.select("INBOX")
            if count[0] not in (b"0", None):
                client.store("1:*", "+FLAGS", r"(\Deleted)")
                client.expunge()
        finally:
            client.logout()


def _require_or_skip(reason: str) -> None:
    from tests.conftest import require_or_skip

    require_or_skip(reason)


def _config(folder: Path, starttls_port: int, tls_port: int, cert: Path, key: Path,
            reduced: dict[str, tuple[str, int]]) -> str:
    """A dovecot.conf serving IMAP on loopback only, from files under `folder`."""
    listeners = "".join(f"""
  inet_listener {name.replace("-", "_")} {{
    address = {address}
    port = {port}
  }}""" for name, (address, port) in reduced.items())
    filters = "".join(f"""
local {address} {{
  protocol imap {{
    imap_capability = {REDUCED_CAPABILITIES[name][1]}
  }}
}}""" for name, (address, _port) in reduced.items())
    me = pwd.getpwuid(os.getuid()).pw_name
    as_root = os.getuid() == 0
    login_user, internal_user = ("dovenull", "dovecot") if as_root else (me, me)
    return f"""
protocols = imap
listen = 127.0.0.1
base_dir = {folder}/run
state_dir = {folder}/state
log_path = {folder}/dovecot.log
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
login_trusted_networks = 127.0.0.0/8
default_login_user = {login_user}
default_internal_user = {internal_user}
default_internal_group = {grp.getgrgid(pwd.getpwnam(internal_user).pw_gid).gr_name}
first_valid_uid = 1
mail_location = maildir:{folder}/mail/%u
namespace inbox {{
  inbox = yes
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {starttls_port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
    ssl = yes
  }}{listeners}
}}{filters}
service anvil {{
  chroot =
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {folder}/passwd
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {folder}/passwd
}}
"""


def _mail_owner() -> tuple[int, int]:
    """Who owns the mail: the `dovecot` user when the tests run as root, else the current user."""
    if os.getuid() == 0:
        entry = pwd.getpwnam("dovecot")
        return entry.pw_uid, entry.pw_gid
    return os.getuid(), os.getgid()


def _wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"dovecot exited: {log.read_text() if log.exists() else process.returncode}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"dovecot did not listen on 127.0.0.1:{port} within {START_TIMEOUT}s")


@pytest.fixture(scope="session")
def dovecot_server() -> Iterator[ImapServer]:
    """Dovecot on loopback for the whole session, stopped at its end."""
    if not DOVECOT.is_file():
        _require_or_skip(f"{DOVECOT} is absent (apt-get install dovecot-imapd)")
    folder = Path(tempfile.mkdtemp(prefix="newsletter-imap-"))
    uid, gid = _mail_owner()
    (folder / "mail").mkdir()
    os.chown(folder / "mail", uid, gid)
    os.chmod(folder, 0o755)
    cert, key = self_signed_certificate(folder)
    (folder / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}:{uid}:{gid}::{folder}/mail/{USER}::\n")
    starttls_port, tls_port = free_port(), free_port()
    conf = folder / "dovecot.conf"
    reduced = {name: (address, free_port()) for name, (address, _capabilities) in REDUCED_CAPABILITIES.items()}
    conf.write_text(_config(folder, starttls_port, tls_port, cert, key, reduced))
    process = subprocess.Popen([str(DOVECOT), "-F", "-c", str(conf)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, start_new_session=True)
    try:
        _wait_for_port(tls_port, process, folder / "dovecot.log")
        yield ImapServer(starttls_port, tls_port, cert, reduced)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def bounce_mailbox(dovecot_server: ImapServer) -> ImapServer:
    """The session's Dovecot with the test user's mailbox emptied."""
    dovecot_server.empty()
    return dovecot_server
