"""CSV import speed against a same-run baseline (issue "Email delivery at the machine's limit").

    python bench/import.py [--rows 100000]

Baseline: Python's csv reader feeding SQLite `executemany` into a table with a unique index on
the address, nothing else, in this process. Measured on an empty embedded SQLite database
created beforehand (`newsletter db upgrade`, its time printed apart: a database is created once,
not per import): `newsletter subscribers import` of the same file as a whole CLI process
(start-up included: address validation with email-validator, lists, memberships, the report),
and its `import_csv` use-case in this process, like the baseline. Target: the whole process at
least 0.25x the baseline's rows per second.

Where the time goes (100,000 rows, 2 cores, load ~1: whole process 0.79-0.81 s, baseline
0.21-0.22 s, both moving with what else the machine runs): start-up ~0.33 s (sqlalchemy
~0.15 s, the config's pydantic models ~0.1 s, typer 0.03 s); then the import ~0.42 s, bounded
by the writer thread's SQLite statements (subscribers 0.14 s, memberships 0.15 s with foreign
key checks off, commits 0.03 s of CPU) once the first batch is read (~0.04 s: the file
decoded, 200 domains validated); the reading thread's work (~0.23 s of CPU, checkpoints
included) overlaps it.
"""

from __future__ import annotations

import argparse
import compileall
import csv
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

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


def create_database(folder: Path) -> tuple[Path, float]:
    """A config on an empty, migrated SQLite database; the seconds `db upgrade` took."""
    folder.mkdir()
    config = folder / "newsletter.yaml"
    config.write_text(f"data_dir: {folder / 'data'}\nsources: []\ndigests: []\n", encoding="utf-8")
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "newsletter", "db", "upgrade", "--config", str(config)], check=True,
                   capture_output=True)
    return config, time.perf_counter() - started


def newsletter_import(csv_path: Path, config: Path) -> float:
    """Seconds for the whole `newsletter subscribers import` process."""
    started = time.perf_counter()
    command = ["subscribers", "import", str(csv_path), "--config", str(config)]
    subprocess.run([sys.executable, "-m", "newsletter", *command], check=True, capture_output=True)
    return time.perf_counter() - started


def use_case_import(csv_path: Path, config_path: Path) -> float:
    """Seconds for `import_csv` alone, in this process (modules loaded and store opened first)."""
    from newsletter.config import load_config
    from newsletter.pipeline.subscribers import import_csv
    from newsletter.store import Store

    config = load_config(config_path)
    with Store.open(config.database_url()) as store:
        started = time.perf_counter()
        import_csv(store, csv_path, now=datetime.now(UTC))
        return time.perf_counter() - started


def main() -> None:
    """Print rows per second of both and their ratio against the target."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    rows = parser.parse_args().rows
    compileall.compile_dir(REPO / "newsletter", quiet=1)  # as installed: bytecode compiled
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        csv_path = folder / "abonnes.csv"
        write_csv(csv_path, rows)
        base = baseline(csv_path, folder / "baseline.db")
        config, creation = create_database(folder / "cli")
        ours = newsletter_import(csv_path, config)
        config, _creation = create_database(folder / "in-process")
        inside = use_case_import(csv_path, config)
    ratio = base / ours
    print(f"{rows} rows (load {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs)")
    print(f"baseline csv + sqlite executemany:   {rows / base:10.0f} rows/s")
    print(f"newsletter subscribers import:       {rows / ours:10.0f} rows/s  ({ratio:.2f}x baseline, "
          f"target >= {TARGET_RATIO}x: {'ok' if ratio >= TARGET_RATIO else 'MISSED'}); whole process {ours:.2f} s")
    print(f"import_csv in this process:          {rows / inside:10.0f} rows/s  ({base / inside:.2f}x baseline)")
    print(f"(creating the empty database beforehand: {creation:.2f} s, not counted)")


if __name__ == "__main__":
    main()
