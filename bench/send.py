"""Benchmark: a whole `newsletter send digest` process against bare-smtplib baselines, per sink.

Seeds subscribers into SQLite and starts sink SMTP servers on loopback: the fast sink of
tests/fakes/fast_sink.py (answers PIPELINING, ~0.1 ms a message), aiosmtpd, and, where Debian's
Postfix is installed and this runs as root, a real Postfix of its own (bench/postfix_sink.py:
temporary config and queue, 127.0.0.1 and a free port only, every message to the `discard:`
transport; skipped with the reason otherwise). For each sink and subscriber count it prints, in
one run: bare smtplib sending the same prebuilt `digest.eml` over one reused connection and from
four processes, then the whole `python -m newsletter send digest` process (start-up, ledger rows,
personalisation, MIME, SMTP, marks) with its CPU time per message (its sender processes
included), its peak RSS (largest process) and the sink's CPU per message (a Postfix's daemons
included). Then (`--workers 1 2 3`, the default) it starts a throwaway PostgreSQL server (Debian's
binaries, tests/fakes/postgres.py) and times 1, 2 and 3 `newsletter worker --until-idle`
processes sending one started issue to the fast sink, with their CPU, the sink's and PostgreSQL's.

The machine's load moves the wall-clock figures a lot: `--repeat N` interleaves N rounds and
prints medians; CPU per message is the steadier figure.

Targets: the whole process reaches 0.8x the four-process baseline on the fast sink and 0.9x on
aiosmtpd; sender CPU <= 0.5 ms a message; peak RSS <= 200 MB and flat in the subscriber count.

    .venv/bin/python bench/send.py [--subscribers 10000 100000] [--sinks fast aiosmtpd postfix]
                                   [--baseline 4000] [--repeat 1] [--workers 1 2 3] [--worker-count 10000]
"""

from __future__ import annotations

import argparse
import compileall
import contextlib
import multiprocessing as mp
import os
import resource
import shutil
import smtplib
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import postfix_sink  # noqa: E402  (bench/ is the script's folder)
from postfix_sink import wait_listening  # noqa: E402

NOW = datetime(2025, 3, 24, 8, 0, tzinfo=UTC)
SECRET_ENV = "NEWSLETTER_BENCH_SECRET"
DATABASE_ENV = "NEWSLETTER_BENCH_DATABASE_URL"
TARGETS = {"fast": 0.8, "aiosmtpd": 0.9}
CPU_TARGET_MS = 0.5
RSS_TARGET_MB = 200


def run_aiosmtpd(port: int) -> None:
    """An aiosmtpd server that accepts and discards every message, until killed."""
    from aiosmtpd.controller import Controller

    class Sink:
        async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
            return "250 OK"

    controller = Controller(Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    while True:
        time.sleep(3600)


def run_fast(port: int) -> None:
    from tests.fakes.fast_sink import run_fast_sink_forever

    run_fast_sink_forever("127.0.0.1", port)


SINKS = {"fast": run_fast, "aiosmtpd": run_aiosmtpd}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def write_config(folder: Path, port: int, database: str, **smtp: object) -> Path:
    import yaml

    data = {
        "public_base_url": "https://news.example.org",
        "database": {"url_env": DATABASE_ENV} if database.startswith("postgresql") else {"url": database},
        "outbox_dir": str(folder / "outbox"),
        "data_dir": str(folder / "data"),
        "smtp": {"host": "127.0.0.1", "port": port, "connections": 4, "timeout": 30, **smtp},
        "unsubscribe": {"secret_env": SECRET_ENV, "mailto": "desabonnement@example.org"},
        "digests": [{"name": "hebdo", "schedule": "0 9 * * MON", "list": "main",
                     "from_address": "lettre@example.org", "from_name": "Ministère des Essais"}],
    }
    path = folder / f"newsletter-{port}.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def seed(url: str, folder: Path, count: int) -> str:
    """`count` active subscribers on `main` and one frozen issue in the database at `url`; its id."""
    from sqlalchemy import insert

    from newsletter.config import load_config
    from newsletter.store import Store
    from newsletter.store.tables import list_members, lists, subscribers
    from tests.fakes.smtp import create_issue

    config = load_config(write_config(folder, 1, url))
    store = Store.open(url, create=url.startswith("sqlite"))
    with store.engine.begin() as conn:
        conn.execute(insert(lists).values(name="main"))
        for start in range(0, count, 10_000):
            rows = [{"id": n + 1, "email": f"person{n}@example.org", "name": f"Personne {n}",
                     "status": "active", "consent_source": "bench", "consent_at": NOW,
                     "created_at": NOW, "updated_at": NOW} for n in range(start, min(count, start + 10_000))]
            conn.execute(insert(subscribers), rows)
            conn.execute(insert(list_members), [{"subscriber_id": r["id"], "list_name": "main"} for r in rows])
    issue = create_issue(config, store, NOW, count=5)
    store.close()
    return issue.id


def sample_message(url: str, folder: Path) -> bytes:
    """The `digest.eml` of the seeded issue, as one recipient gets it."""
    from newsletter.compose.mime import build_message_template
    from newsletter.config import load_config
    from newsletter.store import Store

    config = load_config(write_config(folder, 1, url))
    with Store.open(url) as store:
        issue = store.issues.list_digest_issues(digest="hebdo", limit=1)[0]
    template = build_message_template(issue.digest, config.digest("hebdo"), config, now=NOW)
    return template.render("person0@example.org", "Personne 0", "https://news.example.org/unsubscribe/x")


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process and all its descendants, those it reaped included
    (a Postfix master and its daemons); Linux /proc, None elsewhere."""
    stats = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stats[int(entry.name)] = (entry / "stat").read_text().rpartition(")")[2].split()
            except OSError:
                continue
    if pid not in stats:
        return None
    children: dict[int, list[int]] = {}
    for child, fields in stats.items():
        children.setdefault(int(fields[1]), []).append(child)
    total, todo = 0, [pid]
    while todo:
        process = todo.pop()
        total += sum(int(value) for value in stats[process][11:15])  # utime, stime, cutime, cstime
        todo.extend(children.get(process, []))
    return total / os.sysconf("SC_CLK_TCK")


class SinkMeter:
    """A server's CPU time over a measurement, as ms per message and % busy."""

    def __init__(self, pid: int, label: str = "sink"):
        self.pid = pid
        self.label = label
        self.cpu = cpu_seconds(pid)
        self.started = time.perf_counter()
        self.used: float | None = None
        self.elapsed = 0.0

    def ms_per_message(self, messages: int) -> float | None:
        """CPU ms per message since the start (the measurement ends at the first call)."""
        if self.used is None:
            end = cpu_seconds(self.pid)
            self.used = None if self.cpu is None or end is None else end - self.cpu
            self.elapsed = time.perf_counter() - self.started
        return None if self.used is None or not messages else 1000 * self.used / messages

    def describe(self, messages: int) -> str:
        """`<label> N ms/msg, P% busy`."""
        per_message = self.ms_per_message(messages)
        if per_message is None or self.used is None:
            return f"{self.label} n/a"
        return f"{self.label} {per_message:.2f} ms/msg, {100 * self.used / self.elapsed:.0f}% busy"


def smtplib_share(port: int, message: bytes, share: int) -> None:
    """One baseline connection: `share` sends of the same message with bare smtplib."""
    client = smtplib.SMTP("127.0.0.1", port, local_hostname="localhost")
    for n in range(share):
        client.sendmail("lettre@example.org", [f"person{n}@example.org"], message)
    client.quit()


def baseline(context: mp.context.SpawnContext, port: int, message: bytes, total: int, processes: int
             ) -> tuple[float, float]:
    """Messages/s of bare smtplib (one connection in this process, or one per process), and the
    CPU ms per message its processes used (start-up included)."""
    who = resource.RUSAGE_SELF if processes == 1 else resource.RUSAGE_CHILDREN
    before = resource.getrusage(who)
    rate = _baseline_rate(context, port, message, total, processes)
    after = resource.getrusage(who)
    used = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return rate, 1000 * used / (total // processes * processes)


def _baseline_rate(context: mp.context.SpawnContext, port: int, message: bytes, total: int, processes: int) -> float:
    share = total // processes
    started = time.perf_counter()
    if processes == 1:
        smtplib_share(port, message, share)
    else:
        children = [context.Process(target=smtplib_share, args=(port, message, share)) for _ in range(processes)]
        for child in children:
            child.start()
        for child in children:
            child.join()
    return share * processes / (time.perf_counter() - started)


def timed_command(command: list[str], env: dict[str, str], queue: mp.Queue) -> None:
    """Child: run a command; report wall time, CPU of it and its descendants, and their peak RSS."""
    started = time.perf_counter()
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    queue.put((result.returncode, result.stdout + result.stderr, elapsed, usage.ru_utime + usage.ru_stime,
               usage.ru_maxrss / 1024))


def run_timed(context: mp.context.SpawnContext, commands: list[list[str]], env: dict[str, str]) -> list[tuple]:
    """Run the commands at once, each measured by a child of its own."""
    queue = context.Queue()
    children = [context.Process(target=timed_command, args=(command, env, queue)) for command in commands]
    for child in children:
        child.start()
    results = [queue.get() for _ in children]
    for child in children:
        child.join()
    for code, output, *_ in results:
        if code != 0:
            raise RuntimeError(f"command failed ({code}): {output[-2000:]}")
    return results


def whole_send(context: mp.context.SpawnContext, config: Path, url: str, sink_pid: int, count: int) -> tuple:
    """(messages/s, CPU ms/msg, peak MB, sink figures) of one `newsletter send digest` process."""
    env = {**os.environ, DATABASE_ENV: url}
    meter = SinkMeter(sink_pid)
    command = [sys.executable, "-m", "newsletter", "send", "digest", "hebdo", "-c", str(config)]
    ((_code, _output, elapsed, cpu, peak),) = run_timed(context, [command], env)
    return count / elapsed, 1000 * cpu / count, peak, meter.describe(count)


def copy_database(template: Path, target: Path) -> str:
    for suffix in ("", "-wal", "-shm"):
        if Path(f"{template}{suffix}").exists():
            shutil.copyfile(f"{template}{suffix}", f"{target}{suffix}")
    return f"sqlite:///{target}"


def load() -> str:
    return f"load {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs"


def run_count(context: mp.context.SpawnContext, folder: Path, sinks: dict[str, tuple[int, int]], count: int,
              args: argparse.Namespace) -> None:
    """Seed once, then for each sink `args.repeat` rounds of (baselines, whole process); medians."""
    base = folder / str(count)
    base.mkdir()
    template = base / "seeded.db"
    seed(f"sqlite:///{template}", base, count)
    message = sample_message(f"sqlite:///{template}", base)
    for name, (port, pid) in sinks.items():
        rounds = []
        for round_number in range(1, args.repeat + 1):
            url = copy_database(template, base / f"{name}-{round_number}.db")
            before = load()
            one, _cpu = baseline(context, port, message, args.baseline, 1)
            four, four_cpu = baseline(context, port, message, args.baseline, 4)
            rate, cpu, peak, sink = whole_send(context, write_config(base, port, url), url, pid, count)
            rounds.append((one, four, rate, cpu, peak, cpu / four_cpu))
            print(f"{name} sink, {count} subscribers, message {len(message) / 1024:.1f} KB, round {round_number} "
                  f"({before}): smtplib 1 conn {one:.0f}/s, 4 processes {four:.0f}/s ({four_cpu:.2f} ms CPU/msg); "
                  f"whole send digest "
                  f"{rate:.0f}/s = {rate / four:.2f}x four; sender CPU {cpu:.2f} ms/msg; peak RSS {peak:.0f} MB; "
                  f"{sink}", flush=True)
        one, four, rate, cpu, peak, relative_cpu = (statistics.median(column) for column in zip(*rounds, strict=True))
        ratio = statistics.median(r[2] / r[1] for r in rounds)
        target = TARGETS.get(name)
        met = (target is None or ratio >= target) and cpu <= CPU_TARGET_MS and peak <= RSS_TARGET_MB
        print(f"{name} sink, {count} subscribers, median of {len(rounds)} ({load()} at the end): 1 conn {one:.0f}/s, "
              f"4 processes {four:.0f}/s, whole {rate:.0f}/s, ratio {ratio:.2f}x four (target "
              f"{target or 'none'}), CPU {cpu:.2f} ms/msg ({relative_cpu:.2f}x the four processes' per message), "
              f"peak {peak:.0f} MB: targets "
              f"{'met' if met else 'NOT met'}", flush=True)


def run_workers(context: mp.context.SpawnContext, folder: Path, port: int, pid: int, args: argparse.Namespace) -> None:
    """1, 2, 3… `newsletter worker` processes sending one started issue on PostgreSQL."""
    from tests.fakes.postgres import _database, _find_bindir, _start_server, _stop_server

    bindir = _find_bindir()
    if bindir is None:
        print("postgresql: server binaries not found, worker run skipped")
        return
    from newsletter.store import DigestIssueStatus, Store

    server = _start_server(bindir)
    try:
        for workers in args.workers:
            with _database(server) as url:
                Store.upgrade(url)
                issue_id = seed(url, folder, args.worker_count)
                with Store.open(url) as store:
                    store.issues.set_digest_issue_status(issue_id, DigestIssueStatus.SENDING, now=NOW)
                config = write_config(folder, port, url, connections=2, processes=1)
                env = {**os.environ, DATABASE_ENV: url}
                command = [sys.executable, "-m", "newsletter", "worker", "--until-idle", "--poll", "0.2",
                           "-c", str(config)]
                meter = SinkMeter(pid)
                assert server.data_dir is not None
                database = SinkMeter(int((server.data_dir / "postmaster.pid").read_text().split()[0]), "PostgreSQL")
                started = time.perf_counter()
                results = run_timed(context, [command] * workers, env)
                elapsed = time.perf_counter() - started
                count = args.worker_count
                workers_ms = 1000 * sum(result[3] for result in results) / count
                total = workers_ms + (meter.ms_per_message(count) or 0) + (database.ms_per_message(count) or 0)
                print(f"postgresql, {workers} worker(s) x 2 connections, {count} messages ({load()}): "
                      f"{count / elapsed:.0f}/s ({elapsed:.1f} s); workers' CPU {workers_ms:.2f} ms/msg; "
                      f"{meter.describe(count)}; {database.describe(count)}; all three {total:.2f} ms/msg, so "
                      f"{os.cpu_count()} idle CPUs could do about {1000 * (os.cpu_count() or 1) / total:.0f}/s",
                      flush=True)
    finally:
        _stop_server(server, bindir)


def start_sinks(names: list[str], context: mp.context.SpawnContext, stack: contextlib.ExitStack
                ) -> dict[str, tuple[int, int]]:
    """Each sink asked for on a free loopback port: {name: (port, pid)}; Postfix only where it can run."""
    sinks: dict[str, tuple[int, int]] = {}
    for name in names:
        port = free_port()
        if name == "postfix":
            reason = postfix_sink.unavailable()
            if reason:
                print(f"postfix sink skipped: {reason}", flush=True)
                continue
            sinks[name] = (port, stack.enter_context(postfix_sink.postfix_sink(port)))
            continue
        process = context.Process(target=SINKS[name], args=(port,), daemon=True)
        process.start()
        stack.callback(process.join, 10)
        stack.callback(process.kill)
        wait_listening(port)
        assert process.pid is not None
        sinks[name] = (port, process.pid)
    return sinks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", "--counts", dest="counts", type=int, nargs="*", default=[10_000, 100_000],
                        help="subscriber counts to send to (each seeded once)")
    parser.add_argument("--sinks", nargs="+", choices=[*sorted(SINKS), "postfix"],
                        default=["fast", "aiosmtpd", "postfix"])
    parser.add_argument("--baseline", type=int, default=4000, help="messages per baseline run")
    parser.add_argument("--repeat", type=int, default=1, help="interleaved rounds per count (medians printed)")
    parser.add_argument("--workers", type=int, nargs="*", default=[1, 2, 3],
                        help="PostgreSQL runs with this many workers each (none: `--workers` alone)")
    parser.add_argument("--worker-count", type=int, default=10_000, help="messages of each worker run")
    args = parser.parse_args()
    os.environ[SECRET_ENV] = "bench-secret-0123456789abcdef"
    # An installed package has its bytecode compiled (pip does it); a checkout run with
    # PYTHONDONTWRITEBYTECODE would compile every module again in each process it starts.
    compileall.compile_dir(REPO / "newsletter", quiet=1)
    context = mp.get_context("spawn")
    with contextlib.ExitStack() as stack, tempfile.TemporaryDirectory() as folder:
        sinks = start_sinks(args.sinks, context, stack)
        for count in args.counts:
            run_count(context, Path(folder), sinks, count, args)
        if args.workers:
            port, pid = sinks.get("fast", next(iter(sinks.values())))
            run_workers(context, Path(folder), port, pid, args)


if __name__ == "__main__":
    main()
