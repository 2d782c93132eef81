"""Helpers shared by command modules: config/store loading, options and error reporting."""

from __future__ import annotations

import functools
import getpass
import logging
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar
from zoneinfo import ZoneInfo

import typer

from newsletter.core.errors import ConfigError, NewsletterError
from newsletter.runtime.logs import configure_logging

if TYPE_CHECKING:
    from rich.console import Console

    from newsletter.config import Config
    from newsletter.store import Store

F = TypeVar("F", bound=Callable[..., Any])


@functools.cache
def console() -> Console:
    """The rich Console commands print through, created on first use: `--help` and `count` never
    import rich's console."""
    from rich.console import Console

    return Console()

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="Config file (default: $NEWSLETTER_CONFIG, else config/newsletter.yaml)."),
]
ActorOption = Annotated[
    str | None,
    typer.Option("--as", help="Who acts, for the action log (default: cli:<your user name>)."),
]
NowOption = Annotated[
    str | None,
    typer.Option("--now", help="Pretend it is this ISO date-time (reproducible output)."),
]


def reports_errors(function: F) -> F:
    """Print NewsletterErrors as plain lines on stderr (exit 2 for config, 1 otherwise), no traceback."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except ConfigError as error:
            for line in error.problems:
                print(line, file=sys.stderr)
            raise typer.Exit(2) from None
        except NewsletterError as error:
            print(f"error: {error}", file=sys.stderr)
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


def load(config_path: Path | None) -> Config:
    """The validated config from `--config`, `$NEWSLETTER_CONFIG` or the default path."""
    from newsletter.config import default_config_path, load_config

    if not logging.getLogger().handlers:
        configure_logging()
    return load_config(config_path or default_config_path())


def open_store(config: Config, *, dry_run: bool = False) -> Store:
    """The config's store; an embedded SQLite database is created on first use, others must be upgraded.

    A dry run writes nothing, not even a new database file: with none yet, it reads an empty
    in-memory store instead.
    """
    from newsletter.store import Store, db

    url = config.database_url()
    sqlite_path = db.sqlite_file(db.parse_url(url)) if url.startswith("sqlite") else None
    if dry_run and sqlite_path is not None and not sqlite_path.exists():
        return Store.open("sqlite://", create=True)
    return Store.open(url, create=url.startswith("sqlite"))


def actor_name(value: str | None) -> str:
    """The actor recorded in the audit log: `--as`, else `cli:<login name>`."""
    return value or f"cli:{getpass.getuser()}"


def parse_now(value: str | None, config: Config) -> datetime:
    """`--now` as an aware datetime in the config's timezone, else the current time."""
    if not value:
        return datetime.now(ZoneInfo(config.timezone))
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ConfigError([f"--now: {value!r} is not an ISO date-time (e.g. 2025-03-24T09:00)"]) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo(config.timezone))


