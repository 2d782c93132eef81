"""Ingestion speed: a 1,000-item feed on loopback and a 1,000-file folder, each ingested twice.

Prints items per second for the first run (the same-run baseline) and the time of the second,
unchanged run, which must do no extraction work (counted) and take well under a second per
1,000 items. Run: /work/venv/bin/python bench/ingest.py [--items 1000]
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

import newsletter.pipeline.ingest as ingest_module
from newsletter.config import load_config
from newsletter.store import Store

START = datetime(2025, 1, 1, 9, tzinfo=UTC)


def feed_xml(items: int) -> bytes:
    """An RSS 2.0 feed of `items` French announcements with quotes and figures."""
    entries = []
    for index in range(items):
        day = format_datetime(START + timedelta(hours=index))
        entries.append(
            f"<item><title>Annonce {index} : {index * 10} places ouvertes</title>"
            f"<link>https://example.org/annonces/{index}</link><guid>ann-{index}</guid>"
            f"<pubDate>{day}</pubDate><description><![CDATA[<p>La ministre a annoncé « un effort "
            f"inédit » : près de {index + 1} 000 jeunes concernés, pour 1,{index % 10} milliard "
            f"d'euros.</p><p>Le dispositif ouvrira {index * 10} places.</p>]]></description></item>"
        )
    body = "".join(entries)
    return f"<?xml version='1.0'?><rss version='2.0'><channel><title>Bench</title>{body}</channel></rss>".encode()


def serve(body: bytes, mode: str) -> ThreadingHTTPServer:
    """A loopback server answering every GET with `body`: mode `etag` answers 304 to a matching
    ETag, `stamped` changes a lastBuildDate on every request (so the body always differs)."""
    requests = [0]

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if mode == "etag" and self.headers.get("If-None-Match") == '"bench"':
                self.send_response(304)
                self.end_headers()
                return
            requests[0] += 1
            stamp = f"<lastBuildDate>request {requests[0]}</lastBuildDate>".encode()
            served = body.replace(b"<title>Bench</title>", b"<title>Bench</title>" + stamp)
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("Content-Length", str(len(served if mode == "stamped" else body)))
            self.send_header("ETag", '"bench"')
            self.end_headers()
            self.wfile.write(served if mode == "stamped" else body)

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def write_folder(folder: Path, items: int) -> None:
    folder.mkdir(parents=True)
    for index in range(items):
        (folder / f"{index:04d}.md").write_text(
            f"---\ntitle: Annonce {index}\ndate: 2025-01-{index % 28 + 1:02d}\n---\n# Annonce {index}\n\n"
            f"Le préfet a déclaré « nous tenons nos engagements » : {index + 1} 500 emplois créés.\n",
            "utf-8",
        )


def timed_runs(root: Path, source: dict[str, Any]) -> list[tuple[float, dict[str, int], int]]:
    """Two ingestion runs of one source: (seconds, counts, extraction calls) for each."""
    (root / "newsletter.yaml").write_text(yaml.safe_dump({"sources": [source]}), "utf-8")
    config = load_config(root / "newsletter.yaml")
    store = Store.open(config.database_url(), create=True)
    calls = [0]
    real_extract = ingest_module.extract

    def counting_extract(raw: Any) -> Any:
        calls[0] += 1
        return real_extract(raw)

    ingest_module.extract = counting_extract  # type: ignore[assignment]
    results = []
    try:
        for _ in range(2):
            calls[0] = 0
            started = time.perf_counter()
            [report] = ingest_module.ingest(config, store, now=datetime.now(UTC))
            results.append((time.perf_counter() - started, report.counts(), calls[0]))
    finally:
        ingest_module.extract = real_extract  # type: ignore[assignment]
        store.close()
    return results


def report(label: str, items: int, results: list[tuple[float, dict[str, int], int]]) -> None:
    (first, first_counts, first_calls), (second, second_counts, second_calls) = results
    print(f"{label}:")
    print(f"  first run   {first:6.2f} s  {items / first:8.0f} items/s  new={first_counts['new']} "
          f"failed={first_counts['failed']} extractions={first_calls}")
    print(f"  second run  {second:6.3f} s  ({second / items * 1000:.3f} s per 1,000 items, "
          f"{first / second:.0f}x faster)  unchanged={second_counts['unchanged']} extractions={second_calls}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=1000)
    items = parser.parse_args().items
    logging.disable(logging.WARNING)
    body = feed_xml(items)
    with tempfile.TemporaryDirectory() as temp:
        root = Path(temp)
        scenarios = (
            ("feed, server answers 304", "etag"),
            ("feed, same body, no 304", "plain"),
            ("feed, lastBuildDate changes each request", "stamped"),
        )
        for label, mode in scenarios:
            server = serve(body, mode)
            folder = root / mode
            folder.mkdir()
            url = f"http://127.0.0.1:{server.server_address[1]}/feed.xml"
            report(f"{label} ({len(body) / 1e6:.1f} MB, {items} items)", items,
                   timed_runs(folder, {"name": "bench", "type": "feed", "url": url}))
            server.shutdown()
        write_folder(root / "folder" / "ann", items)
        report(f"folder ({items} files)", items,
               timed_runs(root / "folder", {"name": "bench", "type": "folder", "path": "ann"}))


if __name__ == "__main__":
    main()
