"""Command-line interface: each module registers its commands on the shared Typer app.

The CLI only parses arguments, calls the pipeline stages and prints results.
"""

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
    """Run the `newsletter` command."""
    app()
