"""Subscriber search speed on the Subscribers page, against a same-run baseline.

    python bench/subscriber_search.py [--rows 100000]

Baseline: raw sqlite3 on the same database file, what any paged substring search with a total
costs: `SELECT … WHERE email LIKE ? OR lower(name) LIKE ? ORDER BY email LIMIT 50 OFFSET ?` and
the `count(*)` of the same condition. Measured: `store.subscribers.search_subscribers` for the
same page (through SQLAlchemy, with each shown subscriber's lists). Both run several searches
(a rare match, a common one, a late page of a common one) and the median is printed. Target: at most 2x the baseline.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from newsletter.store import Store
from newsletter.store.subscribers import NewSubscribers

TARGET_RATIO = 2.0
SEARCHES = [("abonne.4242@", 0), ("commune-7.", 0), ("commune-7.", 400)]
REPEATS = 5
PAGE = 50
RAW_SEARCH = ("SELECT id, email, name FROM subscribers WHERE email LIKE ? OR lower(name) LIKE ? "
              "ORDER BY email LIMIT ? OFFSET ?")
RAW_COUNT = "SELECT count(*) FROM subscribers WHERE email LIKE ? OR lower(name) LIKE ?"


def fill(store: Store, rows: int) -> None:
    """`rows` subscribers over 200 domains, half on each of two lists, stored as an import does."""
    now = datetime(2025, 3, 21, tzinfo=UTC)
    with store.subscribers.new_subscriber_writer() as writer:
        for start in range(0, rows, 5000):
            batch = NewSubscribers()
            for n in range(start, min(rows, start + 5000)):
                batch.add(f"abonne.{n}@commune-{n % 200}.fr", f"Abonné {n}", "fr",
                          ("lettre",) if n % 2 else ("jeunesse",))
            writer.store(batch, "bench", now)


def raw_search(raw: sqlite3.Connection, pattern: str, offset: int) -> int:
    """The baseline: one page of matches and their total, in plain SQL."""
    raw.execute(RAW_SEARCH, (pattern, pattern, PAGE, offset)).fetchall()
    return int(raw.execute(RAW_COUNT, (pattern, pattern)).fetchone()[0])


def timed(run: Callable[[], object]) -> float:
    """The median seconds of REPEATS calls of `run`."""
    durations = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        run()
        durations.append(time.perf_counter() - started)
    return statistics.median(durations)


def main() -> None:
    """Print the median time of each search, raw and through the store, and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    rows = parser.parse_args().rows
    with tempfile.TemporaryDirectory() as name:
        path = Path(name) / "bench.db"
        with Store.open(f"sqlite:///{path}", create=True) as store:
            fill(store, rows)
            raw = sqlite3.connect(path)
            print(f"{rows} subscribers")
            worst = 0.0
            for text, offset in SEARCHES:
                pattern = f"%{text}%"
                base = timed(partial(raw_search, raw, pattern, offset))
                ours = timed(partial(store.subscribers.search_subscribers, text, limit=PAGE, offset=offset))
                worst = max(worst, ours / base)
                print(f"search {text!r} from {offset}: baseline {base * 1000:7.1f} ms, "
                      f"search_subscribers {ours * 1000:7.1f} ms ({ours / base:.2f}x)")
            raw.close()
    print(f"worst ratio {worst:.2f}x, target <= {TARGET_RATIO}x: {'ok' if worst <= TARGET_RATIO else 'MISSED'}")


if __name__ == "__main__":
    main()
