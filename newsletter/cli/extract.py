"""`newsletter extract`: run extraction on files and print the result (no config needed)."""

from __future__ import annotations

import json
import logging
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from newsletter.cli.app import app

if TYPE_CHECKING:
    from rich.console import Console


@app.command("extract")
def extract_command(
    paths: Annotated[list[str], typer.Argument(help="Files (.md, .txt, .html) or - for stdin.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON array on stdout.")] = False,
) -> None:
    """Extract title, date, quotes and figures from announcement files."""
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="%(levelname)s %(message)s")
    results = [_extract_one(path) for path in paths]
    if as_json:
        sys.stdout.write(json.dumps(results, ensure_ascii=False, indent=2) + "\n")
        return
    from rich.console import Console

    console = Console()
    for result in results:
        _print_summary(console, result)


def _extract_one(path: str) -> dict[str, Any]:
    """Extract one input, or report why it could not be read."""
    from newsletter.extract import extract as run_extraction
    from newsletter.extract import read_path, to_json

    try:
        raw = read_path(path)
    except (OSError, ValueError) as exc:
        return {"path": path, "error": f"{type(exc).__name__}: {exc}"}
    return to_json(run_extraction(raw), path)


def _print_summary(console: Console, result: dict[str, Any]) -> None:
    """Print a readable summary of one result."""
    from rich.markup import escape
    from rich.table import Table

    console.rule(f"[bold]{escape(result['path'])}")
    if "error" in result:
        console.print(f"[red]error:[/red] {escape(result['error'])}", markup=True, highlight=False)
        return
    console.print(f"[bold]{escape(result['title'])}[/bold]")
    console.print(f"published: {result['published']}  language: {result['language']}")
    console.print(f"tags: {escape(', '.join(result['tags'])) or '-'}", highlight=False)
    if result["lede"]:
        console.print(escape(result["lede"]), style="italic", highlight=False)
    quotes = Table("#", "speaker", "role", "quote", title="Quotes", show_lines=True)
    for index, quote in enumerate(result["quotes"]):
        star = "*" if index == result["key_quote"] else ""
        cells = (quote["speaker"] or "-", quote["role"] or "-", quote["text"])
        quotes.add_row(f"{index}{star}", *(escape(cell) for cell in cells))
    console.print(quotes)
    figures = Table("#", "raw", "value", "kind", "qualifier", "about", title="Figures")
    for index, figure in enumerate(result["figures"]):
        star = "*" if index in result["key_figures"] else ""
        cells = (
            figure["raw"],
            f"{figure['value']:g}",
            figure["kind"],
            figure["qualifier"] or "-",
            figure["about"] or "-",
        )
        figures.add_row(f"{index}{star}", *(escape(cell) for cell in cells))
    console.print(figures)
    for warning in result.get("warnings", []):
        console.print(f"[yellow]warning:[/yellow] {escape(warning)}")
