"""SMTP PIPELINING (RFC 2920) against the fast sink, which offers it: MAIL FROM, RCPT TO and DATA
go in one write, every reply is still classified, and the session stays usable after a refusal."""

from __future__ import annotations

import socket
import threading

import pytest

from newsletter.publish.email.smtp import PermanentRefusal, SmtpConnection, SmtpSettings, TransientFailure, crlf
from tests.fakes.fast_sink import FastSink

MESSAGE = crlf(b"Subject: pipelined\n\n.a leading dot\nbody\n")


def connection(sink: FastSink) -> SmtpConnection:
    return SmtpConnection(SmtpSettings(sink.host, sink.port, "none", 2.0))


def test_pipelined_messages_arrive_once_each_on_one_connection(fast_smtp_server: FastSink) -> None:
    conn = connection(fast_smtp_server)
    replies = [conn.send("lettre@example.org", f"r{n}@example.org", MESSAGE) for n in range(50)]
    assert conn.client is not None and conn.client.has_extn("pipelining")
    conn.close()
    assert set(replies) == {"2.0.0 Queued"}
    assert fast_smtp_server.state.snapshot() == {f"r{n}@example.org": 1 for n in range(50)}
    assert fast_smtp_server.state.connections == 1


def test_a_refused_recipient_is_permanent_and_the_session_carries_on(fast_smtp_server: FastSink) -> None:
    fast_smtp_server.state.reject = {"nobody@example.org"}
    conn = connection(fast_smtp_server)
    with pytest.raises(PermanentRefusal) as refused:
        conn.send("lettre@example.org", "nobody@example.org", MESSAGE)
    assert refused.value.recipient and refused.value.code == 550
    conn.send("lettre@example.org", "someone@example.org", MESSAGE)
    assert fast_smtp_server.state.snapshot() == {"someone@example.org": 1}
    assert fast_smtp_server.state.connections == 1


def test_421_at_mail_from_is_retried_once_on_a_fresh_connection_then_transient(fast_smtp_server: FastSink) -> None:
    fast_smtp_server.state.close_on_mail = 1
    conn = connection(fast_smtp_server)
    conn.send("lettre@example.org", "a@example.org", MESSAGE)
    fast_smtp_server.state.close_on_mail = 2
    with pytest.raises(TransientFailure, match="421") as failed:
        conn.send("lettre@example.org", "b@example.org", MESSAGE)
    assert failed.value.connection_lost
    conn.send("lettre@example.org", "b@example.org", MESSAGE)
    assert fast_smtp_server.state.snapshot() == {"a@example.org": 1, "b@example.org": 1}


def test_the_commands_of_one_message_go_in_one_write() -> None:
    """A server that answers nothing until it has read MAIL, RCPT and DATA together: a client
    waiting for each reply in turn would time out."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        client, _ = listener.accept()
        with client:
            client.sendall(b"220 strict\r\n")
            client.recv(1000)
            client.sendall(b"250-strict\r\n250 PIPELINING\r\n")
            first = client.recv(1000)
            assert first.count(b"\r\n") == 3, first
            client.sendall(b"250 ok\r\n250 ok\r\n354 go\r\n")
            content = b""
            while not content.endswith(b"\r\n.\r\n"):
                content += client.recv(65536)
            client.sendall(b"250 2.0.0 taken\r\n")
            client.recv(1000)
            client.sendall(b"221 bye\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    conn = SmtpConnection(SmtpSettings("127.0.0.1", port, "none", 1.0))
    assert conn.send("lettre@example.org", "a@example.org", MESSAGE) == "2.0.0 taken"
    conn.close()
    thread.join(5)
    listener.close()
