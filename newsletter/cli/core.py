"""Core commands: init, check, preview, status and the `db` group."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Annotated

import typer

from newsletter.cli.app import app
from newsletter.cli.common import ConfigOption, NowOption, console, load, open_store, parse_now, reports_errors

db_app = typer.Typer(help="Database schema commands.", no_args_is_help=True)
app.add_typer(db_app, name="db")


def starter_dir() -> Path:
    """The shipped starter config: package data when installed, else the repository's config/."""
    from newsletter.compose.templates import PACKAGE_DIR

    packaged = PACKAGE_DIR / "_starter"
    return packaged if packaged.is_dir() else PACKAGE_DIR.parent / "config"


@app.command()
def init(
    folder: Annotated[Path, typer.Argument(help="Where to write the starter files.")] = Path("."),
    force: Annotated[bool, typer.Option(help="Overwrite existing files.")] = False,
) -> None:
    """Write a starter config (config/newsletter.yaml, example announcements) and the templates."""
    from newsletter.compose.templates import default_templates_dir

    targets = {
        starter_dir() / "example.yaml": folder / "config" / "newsletter.yaml",
        starter_dir() / "examples": folder / "config" / "examples",
        default_templates_dir(): folder / "templates",
    }
    existing = [str(target) for target in targets.values() if target.exists()]
    if existing and not force:
        console().print(f"[red]Refusing to overwrite[/red] {', '.join(existing)} (use --force).")
        raise typer.Exit(1)
    for source, target in targets.items():
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, dirs_exist_ok=True)
        else:
            shutil.copyfile(source, target)
    console().print(f"Wrote {', '.join(str(t) for t in targets.values())}.")
    console().print("Next: [bold]newsletter check[/bold], then [bold]newsletter preview --out preview[/bold].")


@app.command()
@reports_errors
def check(config_path: ConfigOption = None) -> None:
    """Validate the config, compile every template and list missing secrets by env-var name."""
    from newsletter.config import default_config_path
    from newsletter.pipeline.checks import check_config

    config = load(config_path)
    report = check_config(config)
    for line in report.problems:
        typer.echo(line, err=True)
    for name in report.missing_secrets:
        typer.echo(f"missing secret: environment variable {name} is not set", err=True)
    if report.problems:
        raise typer.Exit(2)
    typer.echo(f"{config_path or default_config_path()}: OK ({report.summary})")


@app.command()
@reports_errors
def preview(
    config_path: ConfigOption = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder to write (cleared first).")] = Path("preview"),
    digest: Annotated[str | None, typer.Option("--digest", help="Which digest (default: the first).")] = None,
    now: NowOption = None,
) -> None:
    """Dry run: write exactly what the next digest and posts would be, sending nothing."""
    from newsletter.pipeline.preview import preview as run_preview

    config = load(config_path)
    with open_store(config, dry_run=True) as store:
        result = run_preview(config, store, out, now=parse_now(now, config), digest_name=digest)
    digest_summary = result.summary["digest"]
    console().print(f"[bold]Preview written to {out}[/bold]")
    if digest_summary.get("skipped"):
        console().print(f"Digest {digest_summary['name']}: skipped ({digest_summary['skipped']})")
    else:
        console().print(
            f"Digest {digest_summary['name']} → list {digest_summary['list']} "
            f"({digest_summary['recipients']} recipient(s)) at {digest_summary['scheduled_for']}: "
            f"« {digest_summary['subject']} », {len(digest_summary['announcements'])} announcement(s)"
        )
    for post in result.summary["posts"]:
        console().print(
            f"Post {post['channel']} ({post['variant']}, {post['length']}/{post['limit']}) at {post['slot']}"
        )


@app.command()
@reports_errors
def status(
    config_path: ConfigOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output for monitors.")] = False,
    now: NowOption = None,
) -> None:
    """Jobs with their schedule in words and next run, last runs, sources in error, paused channels."""
    from newsletter.runtime.status import collect_status

    config = load(config_path)
    with open_store(config) as store:
        data = collect_status(config, store, parse_now(now, config))
    if as_json:
        typer.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    for job in data["jobs"]:
        console().print(f"[bold]{job['id']}[/bold]: {job['schedule']} — next {job['next_run'] or 'never'}")
        if not job["recent_runs"]:
            console().print("  never ran")
        for run in job["recent_runs"]:
            counts = " ".join(f"{key}={value}" for key, value in run["counts"].items())
            when = run["scheduled_for"] if run["outcome"] == "missed" else run["started_at"]
            message = f" — {run['message']}" if run["message"] else ""
            console().print(f"  {run['outcome']} {when} {counts}{message}", markup=False)
        if job["missed_runs"]:
            console().print(f"  [yellow]missed[/yellow]: {', '.join(job['missed_runs'])}")
    for source in data["sources_in_error"]:
        console().print(f"[red]source {source['name']} failing[/red]: {source['error']}")
    for skipped in data["skipped_documents"]:
        console().print(f"[yellow]source {skipped['source']}[/yellow]: {skipped['reason']}", highlight=False)
    for channel in data["paused_channels"]:
        console().print(f"[yellow]channel {channel['name']} paused[/yellow]: {channel['reason']}")
    for post in data["posts_in_doubt"]:
        detail = f" — {post['error']}" if post["error"] else ""
        console().print(f"post {post['key']} {post['status']}{detail}", markup=False)
    bounces = data["bounces"]
    console().print(f"bounces (last {bounces['days']} days): {bounces['hard']} hard, {bounces['soft']} soft, "
                    f"{bounces['complaint']} complaint(s), {bounces['unsubscribe']} provider unsubscribe(s)",
                    markup=False)


@db_app.command("upgrade")
@reports_errors
def db_upgrade(config_path: ConfigOption = None) -> None:
    """Apply the database migrations up to the current schema."""
    from newsletter.store import Store

    config = load(config_path)
    before, after = Store.upgrade(config.database_url())
    typer.echo(f"database upgraded from {before or 'empty'} to {after}" if before != after else f"database at {after}")
