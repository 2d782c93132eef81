"""Throughput of `measure` per platform, against a same-run `len()` baseline.

Run: python bench/length.py [--texts N]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from newsletter.compose.length import PLATFORM_LIMITS, measure

SAMPLE = (
    "« Avec ce plan, près de 900 000 ménages verront leur facture baisser dès l'été », "
    "annonce le ministre. Détails : https://www.economie.gouv.fr/plan-energie-2025?src=x "
    "et service-public.fr/particuliers 🇫🇷 #Énergie"
)

# Inputs that make a naive URL regex backtrack for minutes (the worst is a long dotted run).
HOSTILE = {
    "dotted run": "a." * 5000,
    "hyphenated labels": ("a-" * 40 + "a.") * 200 + "com",
    "4k-char URL": "x " * 6000 + "https://" + "a" * 4000 + ".com/foo",
    "unbalanced parens": "http://x.com/" + "(a" * 2000,
}


def per_second(count: Callable[[str], object], texts: list[str]) -> float:
    """Texts measured per second by `count`."""
    start = time.perf_counter()
    for text in texts:
        count(text)
    return len(texts) / (time.perf_counter() - start)


def main() -> None:
    """Print texts/second per platform and the ratio to the `len()` baseline."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--texts", type=int, default=5000)
    args = parser.parse_args()
    texts = [f"{SAMPLE} n°{i}" for i in range(args.texts)]
    measure(texts[0], "bluesky")  # load the facet/TLD tables outside the timing
    baseline = per_second(len, texts)
    print(f"baseline len(): {baseline:,.0f} texts/s")
    for platform in PLATFORM_LIMITS:
        rate = per_second(lambda text, p=platform: measure(text, p), texts)
        print(f"{platform:9} {rate:>10,.0f} texts/s  ({baseline / rate:,.0f}x slower than len)")
    for name, text in HOSTILE.items():
        start = time.perf_counter()
        measure(text, "x")
        elapsed = (time.perf_counter() - start) * 1000
        print(f"x, hostile {name} ({len(text):,} chars): {elapsed:,.1f} ms")


if __name__ == "__main__":
    main()
