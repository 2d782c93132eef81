"""`newsletter ingest` and `newsletter announcements list|show`."""

from __future__ import annotations

from datetime import datetime, time
from typing import TYPE_CHECKING, Annotated

import typer

from newsletter.cli.app import app
from newsletter.cli.common import (
    ConfigOption,
    NowOption,
    console,
    load,
    open_store,
    parse_now,
    reports_errors,
)
from newsletter.core.errors import ConfigError

if TYPE_CHECKING:
    from rich.table import Table

    from newsletter.config import Config
    from newsletter.core.models import Announcement
    from newsletter.pipeline.ingest import SourceReport
    from newsletter.store import Store

announcements_app = typer.Typer(help="Show the stored announcements.", no_args_is_help=True)
app.add_typer(announcements_app, name="announcements")

COUNT_COLUMNS = ("new", "updated", "unchanged", "failed", "withdrawn", "held", "skipped")


@app.command("ingest")
@reports_errors
def ingest_command(
    source: Annotated[str | None, typer.Option("--source", help="Only this source.")] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Fetch and extract, but write nothing.")
    ] = False,
    config_path: ConfigOption = None,
    now: NowOption = None,
) -> None:
    """Fetch every source (or one), extract and store; print per-source counts.

    Exits 1 when a source failed."""
    from rich.markup import escape

    config = load(config_path)
    _check_source_name(config, source)
    moment = parse_now(now, config)
    store = open_store(config, dry_run=dry_run)
    try:
        reports = _run_with_progress(config, store, moment, source, dry_run)
    finally:
        store.close()
    console().print(_report_table(reports, dry_run))
    for report in reports:
        for error in report.errors:
            console().print(f"[red]{escape(report.source)}[/red]: {escape(error)}", highlight=False)
        for skip in report.skips:
            console().print(f"[yellow]{escape(report.source)}[/yellow]: {escape(skip)}", highlight=False)
    if any(report.failed and not _any_stored(report) for report in reports):
        raise typer.Exit(1)


@announcements_app.command("list")
@reports_errors
def list_command(
    since: Annotated[
        str | None, typer.Option("--since", help="Only those first seen on or after this ISO date.")
    ] = None,
    source: Annotated[str | None, typer.Option("--source", help="Only this source.")] = None,
    all_statuses: Annotated[
        bool, typer.Option("--all", help="Include withdrawn announcements.")
    ] = False,
    config_path: ConfigOption = None,
) -> None:
    """List stored announcements, oldest first."""
    from rich.markup import escape
    from rich.table import Table

    config = load(config_path)
    moment = _parse_since(since, config) if since else None
    store = open_store(config)
    try:
        found = store.announcements.list_announcements(since=moment, source=source, include_inactive=all_statuses)
    finally:
        store.close()
    table = Table("id", "source", "published", "title", "quotes", "figures")
    for announcement in found:
        table.add_row(
            announcement.id,
            escape(announcement.source),
            announcement.published.isoformat() if announcement.published else "",
            escape(announcement.title),
            str(len(announcement.quotes)),
            str(len(announcement.figures)),
        )
    console().print(table)
    console().print(f"{len(found)} announcement(s)")


@announcements_app.command("show")
@reports_errors
def show_command(
    announcement_id: Annotated[str, typer.Argument(metavar="ID", help="Announcement id (or a unique prefix).")],
    config_path: ConfigOption = None,
) -> None:
    """Show one stored announcement with its extracted quotes and figures."""
    config = load(config_path)
    store = open_store(config)
    try:
        announcement = _find(store, announcement_id)
    finally:
        store.close()
    _print_announcement(announcement)


def _run_with_progress(
    config: Config, store: Store, moment: datetime, only: str | None, dry_run: bool
) -> list[SourceReport]:
    from rich.markup import escape
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from newsletter.pipeline.ingest import ingest
    from newsletter.pipeline.revisions import follow_changes

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console(), transient=True, disable=not console().is_terminal) as bar:
        task = bar.add_task("ingest", total=None)

        def on_item(name: str, done: int, total: int) -> None:
            bar.update(task, description=escape(name), completed=done, total=total)

        return ingest(config, store, now=moment, only=only, dry_run=dry_run, on_item=on_item, follow=follow_changes)


def _report_table(reports: list[SourceReport], dry_run: bool) -> Table:
    from rich.markup import escape
    from rich.table import Table

    title = "Ingestion (dry run: nothing written)" if dry_run else "Ingestion"
    table = Table("source", *COUNT_COLUMNS, title=title)
    for report in reports:
        counts = report.counts()
        table.add_row(escape(report.source), *(str(counts[c]) for c in COUNT_COLUMNS))
    return table


def _any_stored(report: SourceReport) -> bool:
    return bool(report.new or report.updated or report.unchanged)


def _check_source_name(config: Config, name: str | None) -> None:
    names = [s.name for s in config.sources]
    if name is not None and name not in names:
        raise ConfigError([f"--source: no source named {name!r} (configured: {', '.join(names) or 'none'})"])


def _parse_since(value: str, config: Config) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ConfigError([f"--since: {value!r} is not an ISO date (e.g. 2025-03-01)"]) from None
    if len(value) <= 10:
        moment = datetime.combine(moment.date(), time())
    return moment if moment.tzinfo else moment.replace(tzinfo=config.tz)


def _find(store: Store, announcement_id: str) -> Announcement:
    found = store.announcements.get_announcement(announcement_id)
    if found is not None:
        return found
    matches = [
        a for a in store.announcements.list_announcements(include_inactive=True) if a.id.startswith(announcement_id)
    ]
    if len(matches) == 1:
        return matches[0]
    problem = "is ambiguous" if matches else "matches no stored announcement"
    raise ConfigError([f"ID: {announcement_id!r} {problem} (see `newsletter announcements list`)"])


def _print_announcement(announcement: Announcement) -> None:
    from rich.markup import escape

    lines = [
        f"[bold]{escape(announcement.title)}[/bold]",
        f"id: {announcement.id}",
        f"source: {escape(announcement.source)} ({escape(announcement.identity)})",
        f"url: {escape(announcement.url or '')}",
        f"published: {announcement.published.isoformat() if announcement.published else ''}",
        f"language: {announcement.language}",
        f"tags: {escape(', '.join(announcement.tags))}",
        "",
        escape(announcement.lede),
        "",
        f"[bold]Quotes ({len(announcement.quotes)})[/bold]",
    ]
    for index, quote in enumerate(announcement.quotes):
        key = " [key]" if index == announcement.key_quote else ""
        who = ", ".join(p for p in (quote.speaker, quote.role) if p)
        lines.append(escape(f"- « {quote.text} »" + (f" — {who}" if who else "") + key))
    lines.append(f"[bold]Figures ({len(announcement.figures)})[/bold]")
    for index, figure in enumerate(announcement.figures):
        key = " [key]" if index in announcement.key_figures else ""
        unit = f" {figure.unit}" if figure.unit else ""
        lines.append(escape(f"- {figure.raw} = {figure.value:g}{unit} ({figure.kind})" + key))
    for warning in announcement.warnings:
        lines.append(escape(f"warning: {warning}"))
    console().print("\n".join(lines), highlight=False, soft_wrap=True)
