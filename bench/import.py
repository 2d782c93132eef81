"""CSV import speed against a same-run baseline (issue "Email delivery at the machine's limit").

    python bench/import.py [--rows 100000]

Baseline: Python's csv reader feeding SQLite `executemany` into a table with a unique index on
the address, nothing else. Measured: `newsletter subscribers import` of the same file, as a whole
CLI process on a fresh embedded SQLite database (address validation with email-validator, lists,
memberships and the report included). Target: at least 0.25x the baseline's rows per second.
"""

from __future__ import annotations

import argparse
import csv
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_RATIO = 0.25


def write_csv(path: Path, rows: int) -> None:
    """A French-Excel-like export: `email,name,lists,locale`, two lists a row, 200 domains."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write("email,name,lists,locale\n")
        for n in range(rows):
            handle.write(f"abonne.{n}@commune-{n % 200}.fr,Abonné {n},lettre; jeunesse,fr\n")


def baseline(csv_path: Path, db_path: Path) -> float:
    """Seconds for csv.reader → sqlite3 executemany into an indexed table, one transaction."""
    started = time.perf_counter()
    connection = sqlite3.connect(db_path)
    connection.execute(
        "CREATE TABLE people (id INTEGER PRIMARY KEY, email TEXT UNIQUE, name TEXT, lists TEXT, locale TEXT)"
    )
    with csv_path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        next(reader)
        connection.executemany("INSERT INTO people (email, name, lists, locale) VALUES (?, ?, ?, ?)", reader)
    connection.commit()
    connection.close()
    return time.perf_counter() - started


def newsletter_import(csv_path: Path, folder: Path) -> float:
    """Seconds for the whole `newsletter subscribers import` process on a fresh database."""
    config = folder / "newsletter.yaml"
    config.write_text(f"data_dir: {folder / 'data'}\nsources: []\ndigests: []\n", encoding="utf-8")
    started = time.perf_counter()
    command = ["subscribers", "import", str(csv_path), "--config", str(config)]
    subprocess.run([sys.executable, "-m", "newsletter", *command], check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    """Print rows per second of both and their ratio against the target."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    rows = parser.parse_args().rows
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        csv_path = folder / "abonnes.csv"
        write_csv(csv_path, rows)
        base = baseline(csv_path, folder / "baseline.db")
        ours = newsletter_import(csv_path, folder)
    ratio = base / ours
    print(f"{rows} rows")
    print(f"baseline csv + sqlite executemany: {rows / base:10.0f} rows/s")
    print(f"newsletter subscribers import:     {rows / ours:10.0f} rows/s  ({ratio:.2f}x baseline, "
          f"target >= {TARGET_RATIO}x: {'ok' if ratio >= TARGET_RATIO else 'MISSED'})")


if __name__ == "__main__":
    main()
