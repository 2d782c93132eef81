"""Benchmark: the full digest send path against an aiosmtpd sink, beside bare-smtplib baselines.

Seeds subscribers into SQLite, starts a sink SMTP server in another process, measures two
baselines sending one prebuilt message with bare smtplib (one reused connection, then four
in parallel), then sends a real digest through `send_digest` (ledger, personalisation, MIME,
SMTP) in a child process for each subscriber count and prints messages/s and peak RSS.

    /work/venv/bin/python bench/send.py [--counts 10000 100000] [--baseline 4000]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import smtplib
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


def sample_message(config_path: Path) -> bytes:
    from newsletter.config import load_config
    from newsletter.mime import build_message_template
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


def full_send(config_path: str, queue: mp.Queue) -> None:
    """Child process: send the digest through the real path; report counts, time and peak RSS."""
    from newsletter.config import load_config
    from newsletter.sending import send_digest
    from newsletter.store import Store

    config = load_config(config_path)
    with Store.open(config.database_url()) as store:
        started = time.perf_counter()
        report = send_digest(config, store, "hebdo", now=NOW)
        elapsed = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    queue.put((report.sent, report.failed, elapsed, peak_kb / 1024))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--baseline", type=int, default=4000, help="messages per baseline run")
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
            results = []
            for count in args.counts:
                base = Path(folder) / str(count)
                base.mkdir()
                config_path = write_config(base, port, base / "bench.db")
                seed(config_path, count)
                message = sample_message(config_path)
                one = baseline(port, message, args.baseline, 1)
                four = baseline(port, message, args.baseline, 4)
                queue = context.Queue()
                child = context.Process(target=full_send, args=(str(config_path), queue))
                child.start()
                sent, failed, elapsed, peak_mb = queue.get()
                child.join()
                rate = sent / elapsed
                results.append((count, len(message), one, four, rate, peak_mb, sent, failed))
                print(f"{count} subscribers, message {len(message) / 1024:.1f} KB: "
                      f"baseline 1 conn {one:.0f}/s, 4 conn {four:.0f}/s; full path {rate:.0f}/s "
                      f"({sent} sent, {failed} failed, {elapsed:.1f} s) = {rate / four:.2f}x four, "
                      f"{rate / one:.2f}x one; peak RSS {peak_mb:.0f} MB", flush=True)
    finally:
        stop.set()
        sink.join(10)


if __name__ == "__main__":
    main()
