"""A minimal, fast SMTP sink on loopback: one asyncio protocol that answers PIPELINING and scans
DATA in bulk for the terminating CRLF.CRLF, so it costs a small fraction of a millisecond a
message (aiosmtpd costs about one). Used by tests (`fast_smtp_server`) and `bench/send.py`.

It accepts every message, except that recipients in `reject` get 550 at RCPT TO (and DATA then
554, as RFC 2920 asks when no recipient was accepted), and the first `close_on_mail` MAIL FROM
commands get 421 and a closed connection. It counts the copies each recipient was accepted.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

END_OF_DATA = b"\r\n.\r\n"
EHLO_REPLY = b"250-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 52428800\r\n"


@dataclass
class SinkState:
    """What the sink was told to refuse, and what it accepted (shared by its connections)."""

    reject: set[str] = field(default_factory=set)
    close_on_mail: int = 0
    record: bool = True
    accepted: int = 0
    connections: int = 0
    copies: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def snapshot(self) -> Counter[str]:
        """How many accepted copies each recipient got so far."""
        with self.lock:
            return Counter(self.copies)


class SinkProtocol(asyncio.Protocol):
    """One client connection: commands line by line, DATA scanned in bulk."""

    def __init__(self, state: SinkState):
        self.state = state
        self.buffer = bytearray()
        self.in_data = False
        self.scanned = 0
        self.recipients: list[str] = []
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.state.connections += 1
        transport.write(b"220 sink ESMTP\r\n")

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        replies: list[bytes] = []
        closing = False
        while not closing:
            reply = self._data_step() if self.in_data else self._command_step()
            if reply is None:
                break
            closing = reply.startswith(b"421") or reply.startswith(b"221")
            replies.append(reply)
        assert self.transport is not None
        if replies:
            self.transport.write(b"".join(replies))
        if closing:
            self.transport.close()

    def _data_step(self) -> bytes | None:
        if self.buffer.startswith(b".\r\n") and self.scanned == 0:
            end, skip = 0, 3
        else:
            end = self.buffer.find(END_OF_DATA, max(0, self.scanned - len(END_OF_DATA)))
            skip = len(END_OF_DATA)
        if end < 0:
            self.scanned = len(self.buffer)
            return None
        del self.buffer[:end + skip]
        self.in_data, self.scanned = False, 0
        state = self.state
        with state.lock:
            state.accepted += 1
            if state.record:
                state.copies.update(self.recipients)
        self.recipients = []
        return b"250 2.0.0 Queued\r\n"

    def _command_step(self) -> bytes | None:
        end = self.buffer.find(b"\r\n")
        if end < 0:
            return None
        line = bytes(self.buffer[:end]).decode("utf-8", "replace")
        del self.buffer[:end + 2]
        verb = line[:4].upper()
        if verb in ("EHLO", "HELO"):
            return EHLO_REPLY if verb == "EHLO" else b"250 sink\r\n"
        if verb == "MAIL":
            return self._mail()
        if verb == "RCPT":
            address = line.partition(":")[2].strip().strip("<>").lower()
            if address in self.state.reject:
                return b"550 5.1.1 No such user\r\n"
            self.recipients.append(address)
            return b"250 2.1.5 OK\r\n"
        if verb == "DATA":
            if not self.recipients:
                return b"554 5.5.1 No valid recipients\r\n"
            self.in_data = True
            return b"354 End data with <CR><LF>.<CR><LF>\r\n"
        if verb == "RSET":
            self.recipients = []
            return b"250 2.0.0 OK\r\n"
        if verb == "QUIT":
            return b"221 2.0.0 Bye\r\n"
        return b"250 OK\r\n" if verb == "NOOP" else b"502 5.5.2 Command not recognised\r\n"

    def _mail(self) -> bytes:
        state = self.state
        with state.lock:
            close = state.close_on_mail > 0
            state.close_on_mail -= int(close)
        if close:
            return b"421 4.3.2 Closing, try again\r\n"
        self.recipients = []
        return b"250 2.1.0 OK\r\n"


async def serve(state: SinkState, host: str, port: int, started: threading.Event, stop: asyncio.Event) -> None:
    """Serve on host:port until `stop` is set."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SinkProtocol(state), host, port, backlog=128)
    started.set()
    async with server:
        await stop.wait()


@dataclass
class FastSink:
    """A running sink (on a thread of this process): where it listens and what it saw."""

    host: str
    port: int
    state: SinkState
    loop: asyncio.AbstractEventLoop
    stop_event: asyncio.Event
    thread: threading.Thread

    def stop(self) -> None:
        """Stop serving and wait for the thread."""
        self.loop.call_soon_threadsafe(self.stop_event.set)
        self.thread.join(10)


def start_fast_sink(host: str = "127.0.0.1", port: int = 0, state: SinkState | None = None) -> FastSink:
    """Start a sink on a thread; port 0 picks a free one."""
    from tests.fakes.smtp import free_port

    state = state or SinkState()
    port = port or free_port()
    loop = asyncio.new_event_loop()
    stop_event = asyncio.Event()
    started = threading.Event()
    thread = threading.Thread(target=loop.run_until_complete, args=(serve(state, host, port, started, stop_event),),
                              name="fast-sink", daemon=True)
    thread.start()
    if not started.wait(10):
        raise RuntimeError("the fast sink did not start")
    return FastSink(host, port, state, loop, stop_event, thread)


def run_fast_sink_forever(host: str, port: int) -> None:
    """Serve in this process until it is killed (for benchmarks: a sink process of its own)."""
    state = SinkState(record=False)
    asyncio.run(serve(state, host, port, threading.Event(), asyncio.Event()))


@pytest.fixture
def fast_smtp_server() -> Iterator[FastSink]:
    """A fast sink on 127.0.0.1 for one test."""
    sink = start_fast_sink()
    try:
        yield sink
    finally:
        sink.stop()
