"""Sender processes: one send spread over N processes, so that rendering, framing and the
ledger's marks are not bound by one interpreter's GIL.

The parent (`send digest`, the daemon's digest job, `newsletter worker`) has created the rows and
checked the transport; it then sends the first share itself, on a thread (an interpreter's
start-up costs as much CPU as a few hundred messages), and starts N-1 workers: forked ahead by
`send digest` and `send resume` before they open the store (`forked_ahead`: the process has no
thread and no database connection yet, so none is ever forked), else spawned (a fresh
interpreter). Each share opens
its own store, so it has its own claim owner with its heartbeat, its own transport sessions and
driver connections, and runs a `DigestSender` with its share of `smtp.connections`, of the rate
limit and of `--limit`: it claims ledger batches like any other sender, so the ledger's
guarantees hold unchanged. Shares send their counts to the parent over a pipe (the parent's own
share too); the parent sums them into its `SendReport`. The parent tells them to stop (its stop
event, Ctrl-C); a worker whose parent died sees the pipe close and stops the same way: it
finishes the message in flight, marks it and releases the rest.
"""

from __future__ import annotations

import contextlib
import logging
import math
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import TYPE_CHECKING

from newsletter.compose.mime import MessageTemplate
from newsletter.config import Config

if TYPE_CHECKING:
    from newsletter.pipeline.digest_sender import Backoff, SendReport

log = logging.getLogger(__name__)

MIN_PER_PROCESS = 100
PROGRESS_SECONDS = 0.2
STOP_GRACE_SECONDS = 5.0
COUNTS = ("sent", "failed", "retried", "skipped")


@dataclass(frozen=True)
class WorkerPlan:
    """What one worker process sends: the issue, with its share of connections, rate and limit."""

    config: Config
    issue_id: str
    template: MessageTemplate
    backoff: Backoff
    to_send: int
    limit: int | None


@dataclass
class WorkerCounts:
    """The latest counts a worker reported, and whether it said it finished."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTS, 0))
    paused: bool = False
    done: bool = False


def process_count(config: Config, to_send: int) -> int:
    """Sender processes for a send, this one included: `smtp.processes` (default the number of
    cores), never more than the connections, nor one per `MIN_PER_PROCESS` messages (a small
    send stays in-process)."""
    return max(1, min(_wanted(config), math.ceil(to_send / MIN_PER_PROCESS)))


def _wanted(config: Config) -> int:
    """`smtp.processes` (default the number of cores), never more than the connections."""
    return min(config.smtp.processes or os.cpu_count() or 1, config.smtp.connections)


def shares(total: int, parts: int) -> list[int]:
    """`total` split in `parts` integers that differ by at most one."""
    return [total // parts + (1 if n < total % parts else 0) for n in range(parts)]


def worker_plans(config: Config, issue_id: str, template: MessageTemplate, backoff: Backoff, to_send: int,
                 limit: int | None, processes: int) -> list[WorkerPlan]:
    """One plan per worker: connections, rate limits, messages and limit split between them."""
    smtp = config.smtp
    hourly = shares(smtp.rate_per_hour, processes) if smtp.rate_per_hour else [None] * processes
    limits = shares(limit, processes) if limit is not None else [None] * processes
    plans = []
    for connections, messages, per_hour, share in zip(shares(smtp.connections, processes),
                                                      shares(to_send, processes), hourly, limits, strict=True):
        if share == 0 or per_hour == 0:
            continue
        per_second = smtp.rate_per_second / processes if smtp.rate_per_second else None
        own = smtp.model_copy(update={"connections": connections, "processes": 1, "rate_per_second": per_second,
                                      "rate_per_hour": per_hour})
        plans.append(WorkerPlan(config.model_copy(update={"smtp": own}), issue_id, template, backoff, messages, share))
    return plans


def run_workers(plans: list[WorkerPlan], report: SendReport, progress: Callable[[SendReport], None] | None,
                stop: threading.Event | None) -> None:
    """Send the first plan's share on a thread of this process and start one process per other
    plan, until all have ended, summing their counts into `report`; `stop` (or an exception
    here, such as Ctrl-C) asks them to stop."""
    context = multiprocessing.get_context("spawn")
    workers: Workers = {}
    try:
        for number, plan in enumerate(plans):
            if number == 0:
                ours, theirs = context.Pipe()
                sender: Sender = InProcessSender(plan, theirs)
                sender.start()
            else:
                sender, ours = _worker_for(context, plan, number)
            workers[ours] = (sender, WorkerCounts())
        _collect(workers, report, progress, stop)
    finally:
        _stop_all(workers)
    report.paused = any(counts.paused for _process, counts in workers.values())


def _worker_for(context: multiprocessing.context.SpawnContext, plan: WorkerPlan, number: int
                ) -> tuple[multiprocessing.process.BaseProcess, Connection]:
    """A worker process sending `plan`'s share, and the parent's end of its pipe: one forked
    ahead if any waits (`forked_ahead`), else one spawned now."""
    if READY:
        process, ours = READY.pop(0)
        ours.send(plan)
        return process, ours
    ours, theirs = context.Pipe()
    process = context.Process(target=process_main, args=(plan, theirs), name=f"sender-{number}", daemon=True)
    process.start()
    theirs.close()
    return process, ours


READY: list[tuple[multiprocessing.process.BaseProcess, Connection]] = []
"""This process's worker processes forked ahead (`forked_ahead`), each waiting for a share."""


@contextlib.contextmanager
def forked_ahead(config: Config) -> Iterator[None]:
    """Fork now the worker processes a send from this process may use, while it has neither a
    thread nor a database connection (call it before opening the store): a forked worker starts
    with this process's modules loaded, where a spawned one spends about 0.3 s of CPU importing
    them (bench/send.py). `run_workers` takes them before spawning any; those left unused are
    told to end when the block ends. Elsewhere than on Linux, or with a thread running, nothing
    is forked and workers are spawned as usual."""
    if sys.platform.startswith("linux") and threading.active_count() == 1:
        _fork_ready(config)
    try:
        yield
    finally:
        _release_ready()


def _fork_ready(config: Config) -> None:
    context = multiprocessing.get_context("fork")
    sys.stdout.flush()  # a forked process flushes its copy of the buffers when it ends
    sys.stderr.flush()
    for number in range(len(READY) + 1, _wanted(config)):
        ours, theirs = context.Pipe()
        parent_ends = [end for _process, end in READY] + [ours]
        process = context.Process(target=_ready_main, args=(theirs, parent_ends), name=f"sender-{number}",
                                  daemon=True)
        process.start()
        theirs.close()
        READY.append((process, ours))


def _ready_main(connection: Connection, parent_ends: list[Connection]) -> None:
    """A worker forked ahead: wait for its share (None when it is not needed), then send it.
    It closes its copies of the parent's pipe ends, so that each worker sees its own pipe close
    when the parent dies."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for end in parent_ends:
        end.close()
    try:
        plan = connection.recv()
    except (EOFError, OSError):
        return
    if plan is not None:
        process_main(plan, connection)


def _release_ready() -> None:
    """Tell the workers forked ahead that no share came to them, and wait for them to end."""
    while READY:
        process, connection = READY.pop()
        with contextlib.suppress(OSError):
            connection.send(None)
        connection.close()
        process.join(STOP_GRACE_SECONDS)
        if process.is_alive():
            process.terminate()
            process.join()


class InProcessSender:
    """The parent's own share of a send: `worker_main` on a thread, reporting over a pipe like
    a worker process, so the parent sums and stops every share the same way."""

    exitcode = None

    def __init__(self, plan: WorkerPlan, connection: Connection):
        self.name = "sender-0"
        self.connection = connection
        self.thread = threading.Thread(target=self._run, args=(plan, connection), name=self.name, daemon=True)

    def _run(self, plan: WorkerPlan, connection: Connection) -> None:
        """`worker_main`, and if it fails outright a last message, since this share's pipe does
        not close when its thread ends (the parent would wait for it forever)."""
        try:
            worker_main(plan, connection)
        except BaseException as error:
            log.exception("the parent's own share failed")
            with contextlib.suppress(OSError):
                connection.send(("done", None, [f"sender {self.name} failed: {error}"]))

    def start(self) -> None:
        """Start sending the share."""
        self.thread.start()

    def is_alive(self) -> bool:
        """Whether the share is still being sent."""
        return self.thread.is_alive()

    def join(self, timeout: float | None = None) -> None:
        """Wait for the share to end (at most `timeout` seconds)."""
        self.thread.join(timeout)

    def terminate(self) -> None:
        """A thread cannot be ended from outside: it stops at its next message, or with the process."""
        log.warning("the parent's own share did not stop in time; it ends with this process")

    def close(self) -> None:
        """Close the share's end of the pipe, once the parent's end is closed (which ends the
        share's listening thread)."""
        self.connection.close()


Sender = InProcessSender | multiprocessing.process.BaseProcess
Workers = dict[Connection, tuple[Sender, WorkerCounts]]


def _collect(workers: Workers, report: SendReport, progress: Callable[[SendReport], None] | None,
             stop: threading.Event | None) -> None:
    """Read the shares' messages until each has said it is done or its pipe has closed."""
    live = list(workers)
    stopping = False
    while live:
        if stop is not None and stop.is_set() and not stopping:
            stopping = True
            _send_stop(live)
        for connection in wait(live, timeout=0.5):
            assert isinstance(connection, Connection)
            sender, counts = workers[connection]
            try:
                kind, values, errors = connection.recv()
            except (EOFError, OSError):
                live.remove(connection)
                sender.join()
                if not counts.done:
                    report.note(f"sender process {sender.name} ended without reporting (exit code "
                                f"{sender.exitcode})")
                continue
            if kind == "done":
                counts.done = True
                live.remove(connection)
                sender.join()
            if values is not None:
                counts.counts, counts.paused = values, bool(values.get("paused"))
            for error in errors:
                report.note(error)
            for name in COUNTS:
                setattr(report, name, sum(c.counts.get(name, 0) for _p, c in workers.values()))
            if progress is not None:
                progress(report)


def _send_stop(connections: list[Connection]) -> None:
    for connection in connections:
        try:
            connection.send("stop")
        except OSError:
            continue


def _stop_all(workers: Workers) -> None:
    """Ask the shares still running to stop, give them time to finish their message, then end
    the worker processes."""
    running = [connection for connection, (sender, _c) in workers.items() if sender.is_alive()]
    _send_stop(running)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for connection, (sender, _counts) in workers.items():
        sender.join(max(0.0, deadline - time.monotonic()))
        if sender.is_alive():
            log.warning("sender %s did not stop in time: terminating it", sender.name)
            sender.terminate()
            sender.join(STOP_GRACE_SECONDS)
        connection.close()
        if isinstance(sender, InProcessSender):
            sender.close()


def process_main(plan: WorkerPlan, connection: Connection) -> None:
    """A worker process: its share of the issue (`worker_main`); Ctrl-C is the parent's to handle."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the parent, which tells us to stop
    worker_main(plan, connection)


def worker_main(plan: WorkerPlan, connection: Connection) -> None:
    """Send one share of the issue (in a worker process or on the parent's thread), reporting
    counts to the parent over `connection`."""
    from newsletter.pipeline.digest_sender import worker_send

    shutdown = threading.Event()
    pipe = WorkerPipe(connection, shutdown)
    threading.Thread(target=pipe.listen, name="sender-parent-watch", daemon=True).start()
    try:
        report = worker_send(plan, shutdown, pipe.progress)
    except Exception as error:
        log.exception("sender process failed")
        pipe.send("done", None, [f"sender process failed: {error}"])
        return
    pipe.send("done", _values(report), report.errors[pipe.errors_sent:])


class WorkerPipe:
    """A worker's end of the pipe: counts up (at most every `PROGRESS_SECONDS`), stop down."""

    def __init__(self, connection: Connection, shutdown: threading.Event):
        self.connection = connection
        self.shutdown = shutdown
        self.lock = threading.Lock()
        self.last = 0.0
        self.errors_sent = 0

    def listen(self) -> None:
        """Wait for "stop" or for the parent's end to close (the parent died): then stop."""
        with contextlib.suppress(EOFError, OSError):
            self.connection.recv()
        self.shutdown.set()

    def progress(self, report: SendReport) -> None:
        """The sender's progress callback: the counts so far, new errors only."""
        if time.monotonic() - self.last >= PROGRESS_SECONDS:
            self.last = time.monotonic()
            errors = report.errors[self.errors_sent:]
            self.errors_sent += len(errors)
            self.send("progress", _values(report), errors)

    def send(self, kind: str, values: dict[str, int] | None, errors: list[str]) -> None:
        """One message to the parent; a parent gone means stop."""
        with self.lock:
            try:
                self.connection.send((kind, values, errors))
            except OSError:
                self.shutdown.set()


def _values(report: SendReport) -> dict[str, int]:
    return {**{name: getattr(report, name) for name in COUNTS}, "paused": int(report.paused)}
