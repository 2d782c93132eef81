"""`newsletter post`, `newsletter channels resume` and `newsletter posts list/delete/settle/approve/move/restore`."""

from __future__ import annotations

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
from newsletter.core.models import POSTS_PER_SLOT, DeliveryStatus

if TYPE_CHECKING:
    from newsletter.store import Store

channels_app = typer.Typer(help="Social channels: lift a pause.", no_args_is_help=True)
posts_app = typer.Typer(help="Social posts in the ledger: list, settle, approve, move, restore, delete.",
                        no_args_is_help=True)
app.add_typer(channels_app, name="channels")
app.add_typer(posts_app, name="posts")


@app.command("post")
@reports_errors
def post(
    channel: Annotated[str | None, typer.Option("--channel", help="Only this channel.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Write posts and cards to the outbox folder.")] = False,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Posts per channel in this run.")] = POSTS_PER_SLOT,
    config_path: ConfigOption = None,
    now: NowOption = None,
) -> None:
    """Post what is due on each channel (one slot's share), or write it to the outbox with --dry-run."""
    from newsletter.pipeline.posting import channel_config, post_due, queue_posts

    config = load(config_path)
    moment = parse_now(now, config)
    names = [channel_config(config, channel).name] if channel else [c.name for c in config.channels]
    exit_code = 0
    with open_store(config) as store:
        if not dry_run:
            queue_posts(config, store, moment)
        for name in names:
            report = post_due(config, store, name, moment, dry_run=dry_run, limit=limit)
            for path in report.written:
                console().print(f"{name}: wrote {path}")
            for key in report.sent:
                row_url = _url(store, key)
                console().print(f"{name}: posted {key}{f' {row_url}' if row_url else ''}")
            for key in report.rescheduled:
                console().print(f"{name}: will retry {key}")
            for line in report.errors:
                typer.echo(f"{name}: {line}", err=True)
            if report.paused:
                typer.echo(f"{name}: paused: {report.paused} (newsletter channels resume {name})", err=True)
            if report.failed or report.uncertain or report.paused:
                exit_code = 1
            if not (report.written or report.sent or report.rescheduled or report.errors or report.paused):
                console().print(f"{name}: nothing due")
    raise typer.Exit(exit_code)


def _url(store: Store, key: str) -> str | None:
    """The published URL of post `key`, if the service gave one."""
    from newsletter.store.ledger import Ledger

    row = Ledger(store).get(key)
    return row.provider_url if row else None


@channels_app.command("resume")
@reports_errors
def resume(name: str, config_path: ConfigOption = None, actor: ActorOption = None, now: NowOption = None) -> None:
    """Lift the pause on channel NAME (after fixing its credentials)."""
    from newsletter.pipeline.posting import channel_config, resume_channel

    config = load(config_path)
    channel_config(config, name)
    with open_store(config) as store:
        reason = resume_channel(store, name, parse_now(now, config))
        store.audit.record_action(actor_name(actor), "channel.resume", name, {"reason": reason})
    console().print(f"{name}: resumed" + (f" (was paused: {reason})" if reason else " (was not paused)"))


@posts_app.command("list")
@reports_errors
def list_command(
    status: Annotated[DeliveryStatus | None, typer.Option("--status", help="Only posts in this status.")] = None,
    channel: Annotated[str | None, typer.Option("--channel", help="Only this channel.")] = None,
    config_path: ConfigOption = None,
) -> None:
    """List posts with their status, provider URL and last error."""
    from newsletter.pipeline.posting import list_posts

    config = load(config_path)
    with open_store(config) as store:
        rows = list_posts(store, status=status, channel=channel)
    if not rows:
        console().print("no posts")
    for row in rows:
        detail = row.provider_url or row.error or ""
        typer.echo(f"{row.key}\t{row.status}\t{row.attempts}\t{detail}")


@posts_app.command("delete")
@reports_errors
def delete(key: str, config_path: ConfigOption = None, actor: ActorOption = None) -> None:
    """Retract published post KEY through its service's API."""
    from newsletter.pipeline.posting import delete_post

    config = load(config_path)
    with open_store(config) as store:
        row = delete_post(config, store, key, actor=actor_name(actor))
    console().print(f"deleted {key} ({row.provider_url or row.provider_id})")


@posts_app.command("settle")
@reports_errors
def settle(
    key: str,
    sent: Annotated[bool, typer.Option("--sent/--not-sent", help="Whether the uncertain post did go out.")],
    config_path: ConfigOption = None,
    actor: ActorOption = None,
    now: NowOption = None,
) -> None:
    """Settle uncertain post KEY: --sent records it as posted, --not-sent lets it be posted again."""
    from newsletter.pipeline.posting import settle_post

    config = load(config_path)
    with open_store(config) as store:
        settle_post(store, key, sent=sent, now=parse_now(now, config), actor=actor_name(actor))
    console().print(f"{key}: {'sent' if sent else 'pending again'}")


@posts_app.command("approve")
@reports_errors
def approve(key: str, config_path: ConfigOption = None, actor: ActorOption = None, now: NowOption = None) -> None:
    """Release post KEY that is awaiting approval (recorded in the action log, as `newsletter approve`)."""
    from newsletter.pipeline.actions import approve_post

    config = load(config_path)
    with open_store(config) as store:
        approve_post(store, key, actor_name(actor), parse_now(now, config))
    console().print(f"{key}: approved")


@posts_app.command("move")
@reports_errors
def move(
    key: str,
    slot: Annotated[str, typer.Argument(help="One of the channel's next slots, e.g. 2025-03-23T12:00+01:00.")],
    config_path: ConfigOption = None, actor: ActorOption = None, now: NowOption = None,
) -> None:
    """Move queued post KEY to another of its channel's next slots (recorded in the action log)."""
    from newsletter.pipeline.actions import move_post

    config = load(config_path)
    with open_store(config) as store:
        result = move_post(config, store, key, slot, actor_name(actor), parse_now(now, config))
    console().print(result.summary)


@posts_app.command("restore")
@reports_errors
def restore(key: str, config_path: ConfigOption = None, actor: ActorOption = None, now: NowOption = None) -> None:
    """Bring back post KEY that a person skipped, as it was before (recorded in the action log)."""
    from newsletter.pipeline.actions import undo_skip

    config = load(config_path)
    with open_store(config) as store:
        result = undo_skip(config, store, key, actor_name(actor), parse_now(now, config))
    console().print(result.summary)
