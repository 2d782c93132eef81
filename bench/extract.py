"""Extraction throughput: documents per second over 1,000+ typical announcements, and scaling.

Run: /work/venv/bin/python bench/extract.py
Prints, from the same run: the time of the first extraction (it loads spaCy's French tagger, once a
process, when the document has a phrase the rules are unsure of), the full extraction rate and CPU time a
document, a baseline rate (decode + clean only), the
time for one input at 1x and 10x size, and the time for 5 MB inputs (typical text, random binary,
deeply nested HTML soup), with the load averages
before and after (the machine may be shared).
"""

from __future__ import annotations

import logging
import os
import random
import sys
import time
from pathlib import Path

from newsletter.core.models import RawDocument
from newsletter.extract import extract
from newsletter.extract.clean import clean_markdown
from newsletter.extract.decode import decode_content

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "extract"
DOCUMENTS = 1200
TARGET_SIZE = 4096
TARGET_RATE = 150  # issue 14; spaCy tags French figure phrases the rules are unsure of (~1 ms a document)
LABELLED = Path(__file__).resolve().parent / "labelled"


def corpus() -> list[str]:
    """Typical announcements about 4 KB long, built from the project's fixture texts."""
    texts = [path.read_text(encoding="utf-8") for path in sorted(FIXTURES.rglob("*.md"))]
    texts += [path.read_text(encoding="utf-8") for path in sorted(LABELLED.glob("*.md"))]
    texts += [path.read_text(encoding="utf-8") for path in sorted(FIXTURES.rglob("*.txt"))]
    if not texts:
        sys.exit(f"no fixtures found in {FIXTURES}")
    rng = random.Random(7)
    documents = []
    for index in range(DOCUMENTS):
        parts = [texts[index % len(texts)]]
        while sum(map(len, parts)) < TARGET_SIZE:
            parts.append(rng.choice(texts).split("\n", 1)[-1])
        documents.append("\n\n".join(parts)[: TARGET_SIZE + 600])
    return documents


def rate(label: str, documents: list[str], work) -> float:
    """Run `work` on every document and print documents per second, and the CPU time per document (this
    process's, so other load on a shared machine barely changes it)."""
    started, cpu_started = time.perf_counter(), time.process_time()
    for index, text in enumerate(documents):
        work(index, text)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    per_second = len(documents) / elapsed
    print(f"{label:<34} {per_second:8.0f} docs/s  ({elapsed:.2f} s for {len(documents)} docs, "
          f"{cpu / len(documents) * 1000:.2f} ms CPU a doc)")
    return per_second


def full(index: int, text: str) -> None:
    """The whole extraction."""
    extract(RawDocument("bench", str(index), text.encode("utf-8"), "text/markdown"))


def baseline(index: int, text: str) -> None:
    """Decode and clean only."""
    clean_markdown(decode_content(text.encode("utf-8"), []), plain=False)


def timed(label: str, text: str) -> float:
    """Time one extraction of `text`."""
    return timed_bytes(label, text.encode("utf-8"), "text/markdown")


def timed_bytes(label: str, data: bytes, content_type: str) -> float:
    """Time one extraction of raw bytes."""
    started = time.perf_counter()
    announcement = extract(RawDocument("bench", label, data, content_type))
    elapsed = time.perf_counter() - started
    print(
        f"{label:<34} {elapsed * 1000:8.1f} ms  ({len(data) / 1e6:.2f} MB, "
        f"{len(announcement.quotes)} quotes, {len(announcement.figures)} figures)"
    )
    return elapsed


def main() -> None:
    """Print throughput and scaling figures."""
    logging.disable(logging.WARNING)
    print(_load("load before"))
    documents = corpus()
    average = sum(map(len, documents)) / len(documents)
    print(f"{len(documents)} documents, average {average:.0f} characters")
    rate("baseline: decode + clean", documents, baseline)
    timed("first document (loads the tagger)", documents[0])
    per_second = rate("full extraction", documents, full)
    print(f"target >= {TARGET_RATE} docs/s: {'OK' if per_second >= TARGET_RATE else 'MISSED'}")
    one = "\n\n".join(documents[:3])
    small = timed("scaling: 1x", one)
    large = timed("scaling: 10x", "\n\n".join([one] * 10))
    print(f"10x input took {large / small:.1f}x the time (linear is about 10x)")
    huge_text = "\n\n".join(documents)
    while len(huge_text) < 5_000_000:
        huge_text += "\n\n" + huge_text
    huge = timed("5 MB input", huge_text[:5_000_000])
    binary = timed_bytes("5 MB random binary", random.Random(11).randbytes(5_000_000), "application/octet-stream")
    soup = timed_bytes("5 MB nested HTML soup", ("<div><p>« Bonjour <b>" * 250_000).encode("utf-8"), "text/html")
    slowest = max(huge, binary, soup)
    print(f"target 5 MB < 2 s (slowest of the three {slowest:.2f} s): {'OK' if slowest < 2 else 'MISSED'}")
    print(_load("load after"))


def _load(label: str) -> str:
    """The machine's 1/5/15-minute load averages: rates are only comparable at similar loads."""
    one, five, fifteen = os.getloadavg()
    return f"{label:<34} {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs"


if __name__ == "__main__":
    main()
