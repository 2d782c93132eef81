"""Digest rendering benchmark: compile once, then personalise for many subscribers.

Prints (1) the time to render and compile one 10-announcement digest (target < 20 ms),
(2) personalised messages per second over N subscribers with the compiled parts split once
(target >= 20,000/s on one core), against (3) the same-run baseline of rendering and
compiling the whole digest for each subscriber (measured on a sample, then extrapolated).

    python bench/render.py [--subscribers 100000] [--baseline-sample 200]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from newsletter.compose.digest import PreparedPart, render_digest
from tests.fakes.digest_samples import FIXED_NOW, many_announcements, sample_config

COMPILE_TARGET_MS = 20.0
RATE_TARGET = 20_000


def time_compile(runs: int) -> list[float]:
    """Milliseconds to render and compile one 10-announcement digest, `runs` times (after a warm-up)."""
    config = sample_config()
    digest_config = config.digest("hebdo")
    announcements = many_announcements(10)
    render_digest(config, digest_config, announcements, FIXED_NOW)
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        render_digest(config, digest_config, announcements, FIXED_NOW)
        timings.append((time.perf_counter() - start) * 1000)
    return timings


def subscriber_values(index: int) -> dict[str, str | None]:
    """Distinct per-recipient values, as the sender would pass them."""
    return {
        "name": f"Abonné·e n°{index}" if index % 3 else None,
        "unsubscribe_url": f"https://lettre.example.org/unsubscribe/{index:08d}-{index * 7919 % 1_000_003:07d}",
        "browser_url": "https://lettre.example.org/archive/hebdo-20250324-0800-abcdef12",
    }


def personalised_rate(subscribers: int) -> tuple[float, int]:
    """Messages per second (HTML and text parts) over `subscribers`, and the HTML size in bytes."""
    config = sample_config()
    digest = render_digest(config, config.digest("hebdo"), many_announcements(10), FIXED_NOW)
    html_part = PreparedPart.of(digest.html, is_html=True)
    text_part = PreparedPart.of(digest.text, is_html=False)
    total = 0
    start = time.perf_counter()
    for index in range(subscribers):
        values = subscriber_values(index)
        total += len(html_part.fill(values)) + len(text_part.fill(values))
    elapsed = time.perf_counter() - start
    return subscribers / elapsed, len(digest.html.encode("utf-8"))


def full_render_rate(sample: int) -> float:
    """Baseline: messages per second when each subscriber gets a full render and compile."""
    config = sample_config()
    digest_config = config.digest("hebdo")
    announcements = many_announcements(10)
    start = time.perf_counter()
    for index in range(sample):
        digest = render_digest(config, digest_config, announcements, FIXED_NOW)
        values = subscriber_values(index)
        PreparedPart.of(digest.html, is_html=True).fill(values)
        PreparedPart.of(digest.text, is_html=False).fill(values)
    return sample / (time.perf_counter() - start)


def main() -> int:
    """Run the three measurements and print them with their targets."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--baseline-sample", type=int, default=200)
    parser.add_argument("--compile-runs", type=int, default=50)
    args = parser.parse_args()

    timings = time_compile(args.compile_runs)
    median = statistics.median(timings)
    print(f"compile once (10 announcements): median {median:.1f} ms, min {min(timings):.1f} ms, "
          f"max {max(timings):.1f} ms over {len(timings)} runs (target < {COMPILE_TARGET_MS:.0f} ms)")

    rate, html_bytes = personalised_rate(args.subscribers)
    print(f"personalise compiled parts: {rate:,.0f} messages/s over {args.subscribers:,} subscribers "
          f"({args.subscribers / rate:.1f} s; HTML {html_bytes / 1024:.1f} KiB; target >= {RATE_TARGET:,}/s)")

    baseline = full_render_rate(args.baseline_sample)
    print(f"baseline, full render per subscriber: {baseline:,.0f} messages/s (sample of {args.baseline_sample}; "
          f"{args.subscribers / baseline:,.0f} s for {args.subscribers:,})")
    print(f"speed-up: x{rate / baseline:,.0f}")
    ok = median < COMPILE_TARGET_MS and rate >= RATE_TARGET
    print("targets met" if ok else "TARGETS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
