"""A throwaway Postfix on loopback that accepts every message and discards it, for `bench/send.py`.

It runs Debian's Postfix binaries from a temporary configuration and queue directory of its own
(`postfix -c DIR start-fg`): smtpd on 127.0.0.1 and a free port only, no outside relay, every
destination delivered to the `discard:` transport, no chroot. Messages still go through
Postfix's queue (cleanup, qmgr, queue files written and synced), so it costs what a real relay
costs. The system's own Postfix service is left alone.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

POSTFIX = "/usr/sbin/postfix"
DAEMONS = "/usr/lib/postfix/sbin"
SERVICES = """\
{port} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


def unavailable() -> str | None:
    """Why a throwaway Postfix cannot run here, or None when it can."""
    if not Path(POSTFIX).exists() or not Path(DAEMONS, "master").exists():
        return "postfix is not installed (apt-get install postfix)"
    if os.geteuid() != 0:
        return "postfix's master must start as root"
    return None


def settings(folder: Path, port: int) -> str:
    """main.cf of the throwaway instance: loopback only, everything discarded."""
    return f"""\
compatibility_level = 3.6
config_directory = {folder}/etc
queue_directory = {folder}/spool
data_directory = {folder}/lib
meta_directory = /etc/postfix
command_directory = /usr/sbin
daemon_directory = {DAEMONS}
mail_owner = postfix
setgid_group = postdrop
myhostname = postfix-sink.localdomain
mydestination =
relayhost =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
default_transport = discard:bench
local_transport = discard:bench
relay_transport = discard:bench
virtual_transport = discard:bench
local_recipient_maps =
message_size_limit = 52428800
default_process_limit = 50
maillog_file = {folder}/maillog
maillog_file_prefixes = {folder}
smtputf8_enable = no
"""


def wait_listening(port: int, seconds: float = 30) -> None:
    """Until something answers on 127.0.0.1:port (RuntimeError after `seconds`)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on 127.0.0.1:{port}")


@contextmanager
def postfix_sink(port: int) -> Iterator[int]:
    """A discarding Postfix on 127.0.0.1:port while the block runs; yields its master's pid."""
    folder = Path(tempfile.mkdtemp(prefix="postfix-bench-"))
    try:
        folder.chmod(0o755)  # the postfix user writes under it
        config = folder / "etc"
        for name in ("etc", "spool"):
            (folder / name).mkdir()
        (folder / "lib").mkdir()
        shutil.chown(folder / "lib", "postfix")
        (config / "main.cf").write_text(settings(folder, port))
        (config / "master.cf").write_text(SERVICES.format(port=f"127.0.0.1:{port}"))
        subprocess.run([POSTFIX, "-c", str(config), "check"], check=True, capture_output=True)
        master = subprocess.Popen([POSTFIX, "-c", str(config), "start-fg"], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        try:
            try:
                wait_listening(port)
            except RuntimeError:
                log = folder / "maillog"
                raise RuntimeError(f"postfix did not start on {port}: "
                                   f"{log.read_text()[-1000:] if log.exists() else 'no log'}") from None
            yield master.pid
        finally:
            subprocess.run([POSTFIX, "-c", str(config), "stop"], capture_output=True)
            try:
                master.wait(20)
            except subprocess.TimeoutExpired:
                master.kill()
                master.wait()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
