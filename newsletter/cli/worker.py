"""`newsletter worker`: help send the issues in `sending` state (scale-out on PostgreSQL)."""

from __future__ import annotations

import signal
import threading
from typing import TYPE_CHECKING, Annotated

import typer

from newsletter.cli.app import app
from newsletter.cli.common import ConfigOption, load, open_store, reports_errors
from newsletter.runtime.logs import configure_logging

if TYPE_CHECKING:
    from newsletter.pipeline.digest_sender import SendReport


@app.command()
@reports_errors
def worker(
    config_path: ConfigOption = None,
    until_idle: Annotated[bool, typer.Option("--until-idle", help="Exit once no issue is being sent.")] = False,
    poll: Annotated[float, typer.Option("--poll", min=0.1, help="Seconds between looks for work.")] = 5.0,
) -> None:
    """Send the issues the scheduler started, beside it and other workers, until SIGTERM."""
    from newsletter.pipeline.workers import run_worker

    configure_logging("text")
    config = load(config_path)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())

    def show(report: SendReport) -> None:
        state = "finished" if report.finished else f"{report.pending} left"
        typer.echo(f"{report.issue_id}: sent {report.sent}, failed {report.failed}, {state}")

    with open_store(config) as store:
        summary = run_worker(config, store, stop, until_idle=until_idle, poll=poll, on_report=show)
    typer.echo(f"worker stopped: {summary.sent} message(s) sent")
