"""Benchmark: the full digest send path against an aiosmtpd sink, beside bare-smtplib baselines.

Seeds subscribers into SQLite, starts a sink SMTP server in another process, measures two
baselines sending one prebuilt message with bare smtplib (one reused connection, then four
in parallel), then sends a real digest through `send_digest` (ledger, personalisation, MIME,
SMTP) in a child process for each subscriber count and prints messages/s and peak RSS.

The machine's load moves the figures a lot, so `--repeat N` interleaves N rounds of (baselines,
full path) on fresh copies of the database and prints the median of each, with the load
average and the sink's CPU time per message (Linux): when the sink is near 100 % busy, the
sink, not the sender, sets the pace.

Targets: the full path reaches at least 0.85x the four-connection baseline and 1.3x the
one-connection baseline; peak RSS stays under 200 MB and flat in the subscriber count (the
peak once 10% of the messages are sent is printed beside the final one).

    /work/venv/bin/python bench/send.py [--counts 10000 100000] [--baseline 4000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import shutil
import smtplib
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

NOW = datetime(2025, 3, 24, 8, 0, tzinfo=UTC)
SECRET_ENV = "NEWSLETTER_BENCH_SECRET"
TARGET_FOUR = 0.85
TARGET_ONE = 1.3


def run_sink(port: int, ready: mp.synchronize.Event, stop: mp.synchronize.Event) -> None:
    """An aiosmtpd server that accepts and discards every message."""
    from aiosmtpd.controller import Controller

    class Sink:
        async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
            return "250 OK"

    controller = Controller(Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    stop.wait()
    controller.stop()


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def write_config(folder: Path, port: int, database: Path) -> Path:
    import yaml

    data = {
        "public_base_url": "https://news.example.org",
        "database": {"url": f"sqlite:///{database}"},
        "outbox_dir": str(folder / "outbox"),
        "smtp": {"host": "127.0.0.1", "port": port, "connections": 4, "timeout": 30},
        "unsubscribe": {"secret_env": SECRET_ENV, "mailto": "desabonnement@example.org"},
        "digests": [{"name": "hebdo", "schedule": "0 9 * * MON", "list": "main",
                     "from_address": "lettre@example.org", "from_name": "Ministère des Essais"}],
    }
    path = folder / "newsletter.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def seed(config_path: Path, count: int) -> None:
    """A fresh database with `count` active subscribers on `main` and one frozen issue."""
    from sqlalchemy import insert

    from newsletter.config import load_config
    from newsletter.store import Store
    from newsletter.store.tables import list_members, lists, subscribers
    from tests.fakes.smtp import create_issue

    config = load_config(config_path)
    store = Store.open(config.database_url(), create=True)
    with store.engine.begin() as conn:
        conn.execute(insert(lists).values(name="main"))
        for start in range(0, count, 10_000):
            rows = [{"id": n + 1, "email": f"person{n}@example.org", "name": f"Personne {n}",
                     "status": "active", "consent_source": "bench", "consent_at": NOW,
                     "created_at": NOW, "updated_at": NOW} for n in range(start, min(count, start + 10_000))]
            conn.execute(insert(subscribers), rows)
            conn.execute(insert(list_members), [{"subscriber_id": r["id"], "list_name": "main"} for r in rows])
    create_issue(config, store, NOW, count=5)
    store.close()


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process (Linux /proc), None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class SinkMeter:
    """The sink's CPU time over a measurement, as ms per message and % busy."""

    def __init__(self, pid: int):
        self.pid = pid
        self.cpu = cpu_seconds(pid)
        self.started = time.perf_counter()

    def describe(self, messages: int) -> str:
        end = cpu_seconds(self.pid)
        if self.cpu is None or end is None or not messages:
            return "sink n/a"
        busy = (end - self.cpu) / (time.perf_counter() - self.started)
        return f"sink {1000 * (end - self.cpu) / messages:.2f} ms/msg, {100 * busy:.0f}% busy"


def sample_message(config_path: Path) -> bytes:
    from newsletter.compose.mime import build_message_template
    from newsletter.config import load_config
    from newsletter.store import Store

    config = load_config(config_path)
    with Store.open(config.database_url()) as store:
        issue = store.list_digest_issues(digest="hebdo", limit=1)[0]
    template = build_message_template(issue.digest, config.digest("hebdo"), config, now=NOW)
    return template.render("person0@example.org", "Personne 0", "https://news.example.org/unsubscribe/x")


def baseline(port: int, message: bytes, total: int, connections: int) -> float:
    """Messages/s sending one prebuilt message with bare smtplib over reused connections."""
    share = total // connections

    def work() -> None:
        client = smtplib.SMTP("127.0.0.1", port, local_hostname="localhost")
        for n in range(share):
            client.sendmail("lettre@example.org", [f"person{n}@example.org"], message)
        client.quit()

    threads = [threading.Thread(target=work) for _ in range(connections)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return share * connections / (time.perf_counter() - started)


def full_send(config_path: str, queue: mp.Queue, sink_pid: int) -> None:
    """Child process: send the digest through the real path; report counts, time, peak RSS and
    the sink's figures over the send itself."""
    from newsletter.config import load_config
    from newsletter.pipeline.sending import SendReport, send_digest
    from newsletter.store import Store

    config = load_config(config_path)
    early_peak: list[float] = []

    def sample_rss(report: SendReport) -> None:
        if not early_peak and report.sent >= report.to_send // 10:
            early_peak.append(peak_rss_mb())

    with Store.open(config.database_url()) as store:
        meter = SinkMeter(sink_pid)
        started, cpu_started = time.perf_counter(), time.process_time()
        report = send_digest(config, store, "hebdo", now=NOW, progress=sample_rss)
        elapsed = time.perf_counter() - started
        messages = report.sent + report.failed
        sink = f"sender {1000 * (time.process_time() - cpu_started) / max(messages, 1):.2f} ms/msg CPU, "
        sink += meter.describe(messages)
    peak = f"peak RSS {peak_rss_mb():.0f} MB ({early_peak[0] if early_peak else 0:.0f} MB once 10% were sent)"
    queue.put((report.sent, report.failed, elapsed, peak, sink))


def peak_rss_mb() -> float:
    """This process's peak resident set size so far, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure_full_path(context: mp.context.SpawnContext, config_path: Path, sink_pid: int) -> tuple:
    """(sent, failed, elapsed, peak MB, sink figures) of one full send in a child process."""
    queue = context.Queue()
    child = context.Process(target=full_send, args=(str(config_path), queue, sink_pid))
    child.start()
    result = queue.get()
    child.join()
    return result


def measure_baseline(port: int, message: bytes, total: int, connections: int, sink_pid: int) -> tuple[float, str]:
    """Messages/s of one baseline run and the sink's figures during it."""
    meter = SinkMeter(sink_pid)
    rate = baseline(port, message, total, connections)
    return rate, meter.describe(total // connections * connections)


def load() -> str:
    """The 1-minute load average and the number of CPUs."""
    return f"load {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs"


def run_count(context: mp.context.SpawnContext, folder: Path, port: int, sink_pid: int, count: int,
              args: argparse.Namespace) -> None:
    """Seed once, then `args.repeat` interleaved rounds of baselines and full path; print each and the medians."""
    base = folder / str(count)
    base.mkdir()
    template_db = base / "seeded.db"
    seed(write_config(base, port, template_db), count)
    message = sample_message(write_config(base, port, template_db))
    rounds = []
    for round_number in range(1, args.repeat + 1):
        database = base / f"round-{round_number}.db"
        for suffix in ("", "-wal", "-shm"):
            if Path(f"{template_db}{suffix}").exists():
                shutil.copyfile(f"{template_db}{suffix}", f"{database}{suffix}")
        config_path = write_config(base, port, database)
        before = load()
        one, one_sink = measure_baseline(port, message, args.baseline, 1, sink_pid)
        four, four_sink = measure_baseline(port, message, args.baseline, 4, sink_pid)
        sent, failed, elapsed, peak, full_sink = measure_full_path(context, config_path, sink_pid)
        rate = sent / elapsed
        rounds.append((one, four, rate))
        print(f"{count} subscribers, message {len(message) / 1024:.1f} KB, round {round_number} ({before}): "
              f"baseline 1 conn {one:.0f}/s ({one_sink}), 4 conn {four:.0f}/s ({four_sink}); "
              f"full path {rate:.0f}/s ({sent} sent, {failed} failed, {elapsed:.1f} s; {full_sink}) "
              f"= {rate / four:.2f}x four, {rate / one:.2f}x one; {peak}", flush=True)
    one, four, rate = (statistics.median(column) for column in zip(*rounds, strict=True))
    ratios_one = statistics.median(r / o for o, _f, r in rounds)
    ratios_four = statistics.median(r / f for _o, f, r in rounds)
    verdict = "met" if ratios_four >= TARGET_FOUR and ratios_one >= TARGET_ONE else "NOT met"
    print(f"{count} subscribers, median of {len(rounds)} round(s) ({load()} at the end): baseline 1 conn "
          f"{one:.0f}/s, 4 conn {four:.0f}/s; full path {rate:.0f}/s; median ratio {ratios_four:.2f}x four, "
          f"{ratios_one:.2f}x one; targets (>= {TARGET_FOUR}x four, >= {TARGET_ONE}x one) {verdict}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--baseline", type=int, default=4000, help="messages per baseline run")
    parser.add_argument("--repeat", type=int, default=1, help="interleaved rounds per count (medians printed)")
    args = parser.parse_args()
    os.environ[SECRET_ENV] = "bench-secret-0123456789abcdef"
    context = mp.get_context("spawn")
    port = free_port()
    ready, stop = context.Event(), context.Event()
    sink = context.Process(target=run_sink, args=(port, ready, stop), daemon=True)
    sink.start()
    ready.wait(30)
    try:
        with tempfile.TemporaryDirectory() as folder:
            for count in args.counts:
                assert sink.pid is not None
                run_count(context, Path(folder), port, sink.pid, count, args)
    finally:
        stop.set()
        sink.join(10)


if __name__ == "__main__":
    main()
