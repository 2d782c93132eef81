"""`newsletter count`: print a text's length as a platform counts it (no config needed)."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from newsletter.cli.app import app

if TYPE_CHECKING:
    from newsletter.compose.length import Measurement

EXIT_OVER_LIMIT = 1
EXIT_BAD_INPUT = 2


class Platform(StrEnum):
    """Platforms whose counting rule `count` knows (the keys of PLATFORM_LIMITS)."""

    X = "x"
    MASTODON = "mastodon"
    BLUESKY = "bluesky"
    LINKEDIN = "linkedin"
    THREADS = "threads"


@app.command("count")
def count(
    text: Annotated[
        str,
        typer.Argument(help="Text to measure; '-' reads stdin and drops one trailing newline."),
    ] = "-",
    platform: Annotated[Platform, typer.Option("--platform", help="Whose counting rule to apply.")] = Platform.X,
    limit: Annotated[
        int | None,
        typer.Option("--limit", min=1, help="Override the limit (Mastodon instances differ)."),
    ] = None,
    jsonl: Annotated[
        bool,
        typer.Option("--jsonl", help="Read one JSON string per stdin line; one count per line."),
    ] = False,
) -> None:
    """Print LENGTH/LIMIT; exit 1 when a text is over its limit, 2 on unreadable input."""
    from newsletter.compose.length import measure

    if jsonl:
        if text != "-":
            _fail("--jsonl reads stdin: give no TEXT (or '-')")
        raise typer.Exit(_count_json_lines(sys.stdin.buffer.read(), platform.value, limit))
    if text == "-":
        text = _read_stdin_text()
    measurement = measure(text, platform.value, limit)
    typer.echo(str(measurement))
    raise typer.Exit(EXIT_OVER_LIMIT if _over_limit(measurement) else 0)


def _count_json_lines(data: bytes, platform: str, limit: int | None) -> int:
    """Measure each JSON-string line of `data` and return the exit code; bad lines are skipped."""
    from newsletter.compose.length import measure

    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    exit_code = 0
    for number, raw in enumerate(lines, start=1):
        try:
            value = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            value = error
        if not isinstance(value, str):
            reason = value if isinstance(value, Exception) else f"got {type(value).__name__}"
            typer.echo(f"stdin line {number}: not a JSON string ({reason})", err=True)
            exit_code = EXIT_BAD_INPUT
            continue
        measurement = measure(value, platform, limit)
        typer.echo(str(measurement))
        if _over_limit(measurement) and exit_code == 0:
            exit_code = EXIT_OVER_LIMIT
    return exit_code


def _read_stdin_text() -> str:
    """All of stdin decoded as UTF-8 (no newline translation), minus one trailing newline."""
    data = sys.stdin.buffer.read()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        _fail(f"stdin is not valid UTF-8 at byte {error.start}")
    return text.removesuffix("\n")


def _over_limit(measurement: Measurement) -> bool:
    return measurement.length > measurement.limit


def _fail(message: str) -> NoReturn:
    typer.echo(f"newsletter count: {message}", err=True)
    raise typer.Exit(EXIT_BAD_INPUT)
