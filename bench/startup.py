"""Start-up cost of the CLI against the cost of importing typer, measured in the same run.

Targets (issue "One plan, one path", item 4): `newsletter --help` and `echo hi | newsletter
count -` take at most 2x `python -c "import typer"`; `check` and `preview` of the example config
import no social client library (tweepy, Mastodon.py, atproto).

    python bench/startup.py [--runs 15]

Each command runs `--runs` times, interleaved with the others so that machine noise hits all of
them alike; the figure is the median wall time of a fresh interpreter.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "config" / "example.yaml"
SOCIAL_CLIENTS = ("tweepy", "mastodon", "atproto")
TARGET_RATIO = 2.0


def commands(out: Path) -> dict[str, tuple[list[str], bytes | None]]:
    """Name -> (argv, stdin) of every measured command; the baseline first."""
    cli = [sys.executable, "-m", "newsletter"]
    return {
        "import typer (baseline)": ([sys.executable, "-c", "import typer"], None),
        "newsletter --help": ([*cli, "--help"], None),
        "echo hi | newsletter count -": ([*cli, "count", "-"], b"hi\n"),
        "newsletter check": ([*cli, "check", "--config", str(EXAMPLE)], None),
        "newsletter preview": ([*cli, "preview", "--config", str(EXAMPLE), "--out", str(out),
                                "--now", "2025-03-24T08:00"], None),
    }


def run_once(argv: list[str], stdin: bytes | None) -> float:
    """Wall seconds of one run; a failing command stops the bench with its stderr."""
    started = time.perf_counter()
    done = subprocess.run(argv, input=stdin, capture_output=True, cwd=ROOT, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode not in (0, 1):
        sys.exit(f"{' '.join(argv)} exited {done.returncode}:\n{done.stderr.decode()}")
    return elapsed


def social_imports(argv: list[str]) -> list[str]:
    """Social client libraries the command imports, read from `python -X importtime`."""
    done = subprocess.run([argv[0], "-X", "importtime", *argv[1:]], capture_output=True, cwd=ROOT, check=False)
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.decode().splitlines() if "|" in line}
    return sorted(name for name in imported if name.split(".")[0] in SOCIAL_CLIENTS and "." not in name)


def main() -> None:
    """Print the median time of each command, its ratio to the baseline, and the import check."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as folder:
        measured = commands(Path(folder) / "preview")
        times: dict[str, list[float]] = {name: [] for name in measured}
        for _ in range(runs):
            for name, (argv, stdin) in measured.items():
                times[name].append(run_once(argv, stdin))
        baseline = statistics.median(times["import typer (baseline)"])
        print(f"{'command':34} {'median ms':>10} {'x baseline':>11}  target")
        for name, samples in times.items():
            median = statistics.median(samples)
            target = f"<= {TARGET_RATIO:g}x" if "--help" in name or "count" in name else ""
            verdict = ("ok" if median <= TARGET_RATIO * baseline else "MISSED") if target else ""
            print(f"{name:34} {median * 1000:10.0f} {median / baseline:11.2f}  {target} {verdict}")
        for name in ("newsletter check", "newsletter preview"):
            clients = social_imports(measured[name][0])
            print(f"{name}: social client libraries imported: {', '.join(clients) or 'none'}")


if __name__ == "__main__":
    main()
