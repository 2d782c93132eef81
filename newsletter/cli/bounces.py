"""`newsletter bounces …`: read the bounce mailbox and apply its reports."""

from __future__ import annotations

import typer

from newsletter.cli.app import app
from newsletter.cli.common import ConfigOption, NowOption, load, open_store, parse_now, reports_errors

group = typer.Typer(help="Bounces and complaints.", no_args_is_help=True)
app.add_typer(group, name="bounces")


@group.command("fetch")
@reports_errors
def fetch_command(config: ConfigOption = None, now: NowOption = None) -> None:
    """Read the bounce mailbox (`bounces.imap`): apply each bounce and complaint once, move it
    to the processed folder, and list the messages left there because they are no report."""
    from newsletter.pipeline.bounces import fetch_bounce_mailbox

    cfg = load(config)
    moment = parse_now(now, cfg)
    with open_store(cfg) as store:
        run = fetch_bounce_mailbox(cfg, store, moment)
    for result in run.results:
        typer.echo(result.describe())
    for line in run.left:
        typer.echo(f"left in the mailbox: {line}")
    duplicates = len(run.results) - run.applied
    already = f" ({duplicates} already applied)" if duplicates else ""
    typer.echo(f"{run.applied} report(s) applied{already}, {len(run.left)} message(s) left in the mailbox")
