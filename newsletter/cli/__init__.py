"""Command-line interface: each module registers its commands on the shared Typer app.

The CLI only parses arguments, calls the pipeline stages and prints results.
"""

import atexit
import gc

from newsletter.cli import (
    bounces,  # noqa: F401  (each import registers its commands)
    core,  # noqa: F401
    count,  # noqa: F401
    daemon,  # noqa: F401
    extract,  # noqa: F401
    ingest,  # noqa: F401
    posts,  # noqa: F401
    send,  # noqa: F401
    serve,  # noqa: F401
    subscribers,  # noqa: F401
    users,  # noqa: F401
    worker,  # noqa: F401
)
from newsletter.cli.app import app


def main() -> None:
    """Run the `newsletter` command. At exit, the objects alive are frozen out of the garbage
    collector: the interpreter's last collections over everything sqlalchemy and pydantic
    built took 60-70 ms of every command (nothing is lost: stores are closed and files written
    by then, and memory goes back to the system with the process)."""
    atexit.register(gc.freeze)  # exit handlers and flushes still run; only the final collections are skipped
    app()
