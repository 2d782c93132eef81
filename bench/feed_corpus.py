"""Robustness on feedparser's own test corpus: every file served over loopback, one feed source
each, ingested into a scratch SQLite store. Prints how many sources were ingested, how many were
reported as failed (grouped by reason) and how many entries were stored.

Run: /work/venv/bin/python bench/feed_corpus.py [CORPUS_DIR]  (default ../shared/corpora/feedparser-tests)
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import yaml

from newsletter.config import load_config
from newsletter.pipeline.ingest import ingest
from newsletter.store import Store

DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "feedparser-tests"


class QuietHandler(SimpleHTTPRequestHandler):
    """Serves the corpus folder; every .xml as application/xml."""

    extensions_map: ClassVar[dict[str, str]] = {".xml": "application/xml", "": "application/octet-stream"}

    def log_message(self, *args: Any) -> None:
        return


def reason_kind(message: str) -> str:
    """A short category for a failure message (the part before any detail in brackets)."""
    text = re.sub(r"https?://\S+", "", message)
    return re.split(r"[(:]", text.strip(" :"), maxsplit=1)[0].strip() or message[:40]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("corpus", nargs="?", type=Path, default=DEFAULT_CORPUS)
    corpus = parser.parse_args().corpus
    if not corpus.is_dir():
        sys.exit(f"{corpus} is absent")
    files = sorted(p.relative_to(corpus).as_posix() for p in corpus.rglob("*.xml"))
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(QuietHandler, directory=str(corpus)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    logging.disable(logging.CRITICAL)
    sources = [
        {"name": f"f{index}", "type": "feed", "url": base + name, "timeout": 5, "retries": 1}
        for index, name in enumerate(files)
    ]
    with tempfile.TemporaryDirectory() as temp:
        config_path = Path(temp) / "newsletter.yaml"
        config_path.write_text(yaml.safe_dump({"sources": sources}), "utf-8")
        config = load_config(config_path)
        store = Store.open(config.database_url(), create=True)
        started = time.perf_counter()
        reports = ingest(config, store, now=datetime.now(UTC))
        elapsed = time.perf_counter() - started
        store.close()
    server.shutdown()
    by_name = dict(zip(files, reports, strict=True))
    failed = {name: r for name, r in by_name.items() if r.failed}
    entries = sum(r.new + r.updated + r.unchanged for r in reports)
    warned = sum(1 for r in reports if r.warnings)
    print(f"corpus: {corpus} ({len(files)} feeds) in {elapsed:.1f} s, {len(files) / elapsed:.0f} feeds/s")
    print(f"ingested sources: {len(files) - len(failed)}  (with a bozo warning: {warned})")
    print(f"failed sources:   {len(failed)}")
    for folder in ("illformed", "wellformed", "encoding"):
        total = sum(1 for name in files if name.startswith(folder + "/"))
        bad = sum(1 for name in failed if name.startswith(folder + "/"))
        print(f"  {folder:<11} {bad:4d} failed of {total}")
    for kind, count in Counter(reason_kind(r.errors[0]) for r in failed.values()).most_common():
        print(f"  reason: {kind:<40} {count}")
    print(f"entries stored:   {entries}")


if __name__ == "__main__":
    main()
