"""`newsletter subscribers …`: import, add, remove, list, export and forget subscribers."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer

from newsletter.cli.app import app
from newsletter.cli.common import ConfigOption, NowOption, console, load, open_store, parse_now, reports_errors
from newsletter.core.models import SubscriberStatus

group = typer.Typer(help="Manage subscribers and lists.", no_args_is_help=True)
app.add_typer(group, name="subscribers")

MAX_REJECTED_SHOWN = 50


@group.command("import")
@reports_errors
def import_command(
    file: Annotated[Path, typer.Argument(help="CSV file (columns email, name, lists, locale).")],
    list_name: Annotated[str | None, typer.Option("--list", help="Also add everyone to this list.")] = None,
    email_column: Annotated[str, typer.Option(help="Header of the address column.")] = "email",
    name_column: Annotated[str, typer.Option(help="Header of the name column.")] = "name",
    lists_column: Annotated[str, typer.Option(help="Header of the lists column (`a; b`).")] = "lists",
    locale_column: Annotated[str, typer.Option(help="Header of the locale column.")] = "locale",
    consent: Annotated[str | None, typer.Option(help="Consent source recorded (default: import:FILE).")] = None,
    config: ConfigOption = None,
    now: NowOption = None,
) -> None:
    """Import subscribers; bad rows are listed with their line and reason, never fatal."""
    from newsletter.pipeline import subscribers as subs

    cfg = load(config)
    columns = subs.ColumnNames(email_column, name_column, lists_column, locale_column)
    with open_store(cfg) as store, _import_progress(file) as progress:
        report = subs.import_csv(
            store, file, now=parse_now(now, cfg), list_name=list_name, columns=columns,
            consent_source=consent, progress=progress,
        )
    typer.echo(
        f"{report.rows} rows: {report.added} added, {report.existing} already known, "
        f"{report.duplicates} duplicates, {report.suppressed} suppressed (forgotten), "
        f"{len(report.rejected)} rejected; {report.memberships_added} list memberships added"
    )
    for rejected in report.rejected[:MAX_REJECTED_SHOWN]:
        typer.echo(f"  {file}, line {rejected.line}: {rejected.value or '(empty)'}: {rejected.reason}")
    if len(report.rejected) > MAX_REJECTED_SHOWN:
        typer.echo(f"  … and {len(report.rejected) - MAX_REJECTED_SHOWN} more rejected rows")


@contextmanager
def _import_progress(file: Path) -> Iterator[Callable[[int], None] | None]:
    """A progress bar of the rows imported, shown on a terminal only: elsewhere nobody sees it,
    so neither rich's progress nor the count of the file's rows is worth its start-up time."""
    if not sys.stdout.isatty():
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from newsletter.pipeline.subscribers import count_rows

    with Progress(TextColumn("import"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console(), transient=True) as bar:
        task = bar.add_task("import", total=count_rows(file) or None)
        yield lambda done: bar.update(task, completed=done)


@group.command("add")
@reports_errors
def add_command(
    email: Annotated[str, typer.Argument(help="Address to add.")],
    name: Annotated[str | None, typer.Option(help="Display name.")] = None,
    list_names: Annotated[list[str] | None, typer.Option("--list", help="List(s) to join.")] = None,
    locale: Annotated[str | None, typer.Option(help="Preferred locale (fr, en).")] = None,
    consent: Annotated[str, typer.Option(help="Where consent was given.")] = "manual",
    config: ConfigOption = None,
    now: NowOption = None,
) -> None:
    """Add a subscriber (someone who unsubscribed keeps that status and stays off lists they left)."""
    from newsletter.pipeline import subscribers as subs

    cfg = load(config)
    with open_store(cfg) as store:
        found = subs.add(store, email, now=parse_now(now, cfg), name=name, locale=locale,
                         lists=list_names or [], consent_source=consent)
    typer.echo(f"{found.email}: {found.status}, lists: {', '.join(found.lists) or 'none'}")


@group.command("remove")
@reports_errors
def remove_command(
    email: Annotated[str, typer.Argument(help="Address to remove.")],
    list_name: Annotated[str | None, typer.Option("--list", help="Only leave this list.")] = None,
    config: ConfigOption = None,
    now: NowOption = None,
) -> None:
    """Take a subscriber off a list, or off everything, for good: no import puts them back."""
    from newsletter.pipeline import subscribers as subs

    cfg = load(config)
    with open_store(cfg) as store:
        found = subs.remove(store, email, now=parse_now(now, cfg), list_name=list_name)
    typer.echo(f"{found.email}: {found.status}, lists: {', '.join(found.lists) or 'none'}")


@group.command("list")
@reports_errors
def list_command(
    list_name: Annotated[str | None, typer.Option("--list", help="Only this list.")] = None,
    status: Annotated[str | None, typer.Option(help="active, unsubscribed, bounced, complained or all.")] = "active",
    limit: Annotated[int, typer.Option(min=1, help="Show at most this many.")] = 100,
    config: ConfigOption = None,
    now: NowOption = None,
) -> None:
    """Show subscribers, their soft bounces within `bounces.soft_window_days`, and how many there are."""
    from rich.table import Table

    cfg = load(config)
    wanted = None if status == "all" else SubscriberStatus(status)
    with open_store(cfg) as store:
        found = store.subscribers.list_subscribers(list_name, status=wanted)
        since = parse_now(now, cfg) - timedelta(days=cfg.bounces.soft_window_days)
        soft = store.bounces.soft_bounce_counts([s.id for s in found[:limit]], since)
    table = Table("email", "name", "status", "soft bounces", "lists", "consent")
    for s in found[:limit]:
        consent = f"{s.consent_source or ''} {s.consent_at:%Y-%m-%d}" if s.consent_at else (s.consent_source or "")
        table.add_row(s.email, s.name or "", str(s.status), str(soft.get(s.id, 0)), ", ".join(s.lists), consent)
    console().print(table)
    typer.echo(f"{len(found)} subscriber(s)")


@group.command("export")
@reports_errors
def export_command(
    email: Annotated[str | None, typer.Argument(help="One person (access request); all when omitted.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="csv or json.")] = "csv",
    list_name: Annotated[str | None, typer.Option("--list", help="Only this list (without EMAIL).")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file.")] = None,
    config: ConfigOption = None,
) -> None:
    """Export everything stored about a person, or every subscriber, as CSV or JSON."""
    from newsletter.pipeline import subscribers as subs

    cfg = load(config)
    with open_store(cfg) as store:
        text = subs.export(store, fmt, email=email, list_name=list_name)
    if output:
        output.write_text(text, encoding="utf-8")
        typer.echo(f"written to {output}")
    else:
        typer.echo(text, nl=False)


@group.command("forget")
@reports_errors
def forget_command(
    email: Annotated[str, typer.Argument(help="Address to erase.")],
    config: ConfigOption = None,
    now: NowOption = None,
) -> None:
    """Erase a person, keeping only a hashed suppression entry so they are never re-imported."""
    from newsletter.pipeline import subscribers as subs

    cfg = load(config)
    with open_store(cfg) as store:
        existed = subs.forget(store, email, now=parse_now(now, cfg))
    message = "erased" if existed else "not stored; suppressed anyway"
    typer.echo(f"{email.strip()}: {message}")


@group.command("send-confirmations")
@reports_errors
def send_confirmations_command(config: ConfigOption = None) -> None:
    """Send the subscribe confirmations the web form queued (the daemon's `mail:confirmations` job does it too)."""
    from newsletter.pipeline.subscribe import send_confirmations

    cfg = load(config)
    with open_store(cfg) as store:
        report = send_confirmations(cfg, store)
    typer.echo(f"{report.sent} sent, {report.skipped} skipped (already subscribed or forgotten), "
               f"{report.retried} to retry, {report.failed} failed, {report.waiting} waiting")
    for error in report.errors:
        typer.echo(f"  {error}", err=True)
    if report.errors:
        raise typer.Exit(1)
