"""`newsletter send …`: send a digest issue through the ledger, pause and resume it."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer

from newsletter.cli.app import app
from newsletter.cli.common import (
    ActorOption,
    ConfigOption,
    NowOption,
    actor_name,
    console,
    load,
    open_store,
    parse_now,
    reports_errors,
)

if TYPE_CHECKING:
    from rich.progress import TaskID

    from newsletter.config import Config
    from newsletter.pipeline.digest_sender import SendReport
    from newsletter.store import DigestIssue, Store

group = typer.Typer(help="Send digests by email (through the delivery ledger).", no_args_is_help=True)
app.add_typer(group, name="send")

NameArgument = Annotated[str, typer.Argument(help="Digest name (its newest issue) or issue id.")]
SendNameArgument = Annotated[
    str, typer.Argument(help="Digest name (its unfinished issue, else a new one) or issue id.")
]


@group.command("digest")
@reports_errors
def digest_command(
    name: SendNameArgument,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Write .eml files to the outbox instead.")] = False,
    to: Annotated[
        str | None, typer.Option("--to", help="Send one test copy of what would go out here, outside the ledger.")
    ] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="Send at most N messages now.")] = None,
    config: ConfigOption = None,
    now: NowOption = None,
) -> None:
    """Send a digest: its unfinished issue, else a new issue of what is new since its last
    send (nothing when too little is new); a rerun sends only what is not marked sent."""
    from newsletter.pipeline.senders import forked_ahead
    from newsletter.pipeline.sending import issue_to_send, send_test_copy

    cfg = load(config)
    moment = parse_now(now, cfg)
    sending = contextlib.nullcontext() if dry_run or to else forked_ahead(cfg)
    with sending, open_store(cfg) as store:
        plan = issue_to_send(cfg, store, name, moment, dry_run=dry_run or to is not None)
        if plan.issue is None:
            typer.echo(f"{name}: nothing to send ({plan.skip_reason})")
            return
        if to:
            reply = send_test_copy(cfg, plan.issue, to, now=moment, store=store)
            typer.echo(f"test copy sent to {to} ({reply})")
            return
        report = _send_with_progress(cfg, store, plan.issue, moment, limit=limit, dry_run=dry_run)
    _print_summary(report)
    if report.auto_paused or (report.pending and not report.paused):
        raise typer.Exit(1)


@group.command("now")
@reports_errors
def now_command(
    target: Annotated[str, typer.Argument(
        help="A digest issue id, or a digest name (its next issue, recorded first when only planned).")],
    config: ConfigOption = None,
    actor: ActorOption = None,
    now: NowOption = None,
) -> None:
    """Send a digest issue at once, approving it first if it waits for approval (recorded in the log)."""
    from newsletter.pipeline.actions import send_now

    cfg = load(config)
    with open_store(cfg) as store:
        report = send_now(cfg, store, target, actor_name(actor), parse_now(now, cfg))
    _print_summary(report)
    if report.auto_paused or (report.pending and not report.paused):
        raise typer.Exit(1)


@group.command("pause")
@reports_errors
def pause_command(name: NameArgument, config: ConfigOption = None, now: NowOption = None) -> None:
    """Stop an issue in progress: senders finish their current message and stop."""
    from newsletter.pipeline.sending import pause_digest

    cfg = load(config)
    with open_store(cfg) as store:
        issue = pause_digest(store, name, parse_now(now, cfg))
    typer.echo(f"{issue.id}: paused")


@group.command("resume")
@reports_errors
def resume_command(
    name: NameArgument,
    later: Annotated[bool, typer.Option("--later", help="Only allow sending again; do not send now.")] = False,
    config: ConfigOption = None,
    now: NowOption = None,
) -> None:
    """Resume a paused issue and carry on sending it."""
    from newsletter.pipeline.senders import forked_ahead
    from newsletter.pipeline.sending import resume_digest

    cfg = load(config)
    moment = parse_now(now, cfg)
    with contextlib.nullcontext() if later else forked_ahead(cfg), open_store(cfg) as store:
        issue = resume_digest(store, name, moment)
        typer.echo(f"{issue.id}: resumed")
        if later:
            return
        report = _send_with_progress(cfg, store, issue, moment)
    _print_summary(report)


def _send_with_progress(
    config: Config, store: Store, issue: DigestIssue, now: datetime, *, limit: int | None = None,
    dry_run: bool = False,
) -> SendReport:
    from newsletter.pipeline.sending import send_digest, send_recorded

    with _send_progress() as show:
        if dry_run:
            return send_digest(config, store, issue, now=now, limit=limit, dry_run=True, progress=show)
        return send_recorded(config, store, issue, now=now, trigger="send digest", limit=limit, progress=show)


@contextmanager
def _send_progress() -> Iterator[Callable[[SendReport], None] | None]:
    """A progress bar of the send, shown on a terminal only: elsewhere (cron, a daemon's log, a
    pipe) nobody sees it, so rich's progress and its refresh thread are not worth their CPU."""
    if not sys.stdout.isatty():
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("sent {task.fields[sent]} · failed {task.fields[failed]} · {task.fields[rate]:.0f}/s"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console(), transient=True) as progress:
        task: TaskID | None = None

        def show(report: SendReport) -> None:
            nonlocal task
            if task is None:
                task = progress.add_task(report.issue_id, total=report.to_send, sent=0, failed=0, rate=0.0)
            progress.update(task, completed=report.done, sent=report.sent, failed=report.failed,
                            rate=report.rate)

        yield show


def _print_summary(report: SendReport) -> None:
    if report.dry_run:
        typer.echo(f"{report.issue_id}: {report.written} message(s) written to {report.outbox}")
        return
    paused = "paused automatically" if report.auto_paused else "paused"
    state = paused if report.paused else ("finished" if report.finished else f"{report.pending} still pending")
    typer.echo(
        f"{report.issue_id}: {report.sent} sent, {report.failed} failed, {report.skipped} skipped, "
        f"{report.retried} to retry, {report.already_sent} sent before; {state} "
        f"({report.elapsed:.1f} s, {report.rate:.0f} messages/s)",
    )
    for error in report.errors[:10]:
        typer.echo(f"  {error}")
