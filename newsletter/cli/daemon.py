"""`newsletter run`: the scheduler daemon, or one job now with `--once`."""

from __future__ import annotations

import logging
import os
import signal
import threading
from typing import Annotated, Literal

import typer

from newsletter.cli.app import app
from newsletter.cli.common import ConfigOption, console, load, open_store, reports_errors
from newsletter.runtime.logs import configure_logging


@app.command()
@reports_errors
def run(
    config_path: ConfigOption = None,
    once: Annotated[
        str | None,
        typer.Option("--once", help="Run this job now (e.g. digest:hebdo) and exit; refused while a daemon runs."),
    ] = None,
    log_format: Annotated[Literal["text", "json"], typer.Option("--log-format", help="Log lines as text or JSON.")]
    = "text",
    health_port: Annotated[
        int | None,
        typer.Option("--health-port", envvar="NEWSLETTER_HEALTH_PORT",
                     help="Also answer GET /health on 127.0.0.1:PORT (for container health checks)."),
    ] = None,
) -> None:
    """Run the scheduler: ingestion, digests and posting slots from the config, until SIGTERM."""
    from newsletter.pipeline.checks import check_config  # stages are imported when used: quick start-up
    from newsletter.runtime.daemon import Daemon, run_once

    configure_logging(log_format)
    config = load(config_path)
    report = check_config(config)
    if report.problems:
        for line in report.problems:
            typer.echo(line, err=True)
        typer.echo("refusing to start: fix the config first (newsletter check)", err=True)
        raise typer.Exit(2)
    with open_store(config) as store:
        if once:
            stop = threading.Event()
            for signum in (signal.SIGTERM, signal.SIGINT):
                signal.signal(signum, lambda *_: stop.set())
            result = run_once(config, store, once, stop)
            console().print(f"{once}: {result.outcome} {result.counts} {result.message or ''}")
            raise typer.Exit(0 if result.outcome in ("ok", "skipped") else 1)
        daemon = Daemon(config, store)
        daemon.install_signal_handlers()
        if health_port is None:
            code = daemon.run()
        else:
            from newsletter.runtime.health import HealthListener

            with HealthListener(config, store, health_port):
                code = daemon.run()
    if not daemon.stopped_cleanly:
        logging.shutdown()
        os._exit(code)  # a job outlived stop_timeout_seconds: leave it to the ledger's recovery
    raise typer.Exit(code)
