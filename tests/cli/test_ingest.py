"""`newsletter ingest` and `newsletter announcements` as a user runs them."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from newsletter.cli import app
from newsletter.core.models import Announcement, Figure, Quote
from tests.fakes.http_site import Site
from tests.fakes.ingest_env import IngestEnv

runner = CliRunner()


@pytest.fixture
def folder(ingest_env: IngestEnv) -> Path:
    path = ingest_env.root / "ann"
    path.mkdir()
    for index in range(3):
        (path / f"{index}.md").write_text(
            f"---\ntitle: Annonce {index}\ndate: 2025-03-1{index}\n---\n# Annonce {index}\n\nTexte {index}.\n",
            "utf-8",
        )
    return path


def invoke(ingest_env: IngestEnv, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, [*args, "--config", str(ingest_env.config_path)])
    return result.exit_code, result.output


def table_row(output: str, name: str) -> list[str]:
    [line] = [line for line in output.splitlines() if f" {name} " in line]
    return [cell.strip() for cell in line.strip("│┃ ").split("│")]


def test_ingest_prints_counts_per_source_and_dry_run_writes_nothing(
    ingest_env: IngestEnv, folder: Path, site: Site
) -> None:
    site.serve("/feed", "boom", "text/plain", status=500)
    ingest_env.configure([
        {"name": "local", "type": "folder", "path": "ann"},
        {"name": "down", "type": "feed", "url": site.url("/feed"), "retries": 1},
    ])
    code, output = invoke(ingest_env, "ingest", "--dry-run")
    assert "dry run" in output
    assert not list(ingest_env.config_path.parent.rglob("*.db")), "a dry run creates no database"
    assert table_row(output, "local")[:5] == ["local", "3", "0", "0", "0"]
    code, output = invoke(ingest_env, "ingest", "--source", "local")
    assert code == 0 and table_row(output, "local")[:5] == ["local", "3", "0", "0", "0"]
    assert " down " not in output
    code, output = invoke(ingest_env, "ingest")
    assert code == 1
    assert table_row(output, "local")[:5] == ["local", "0", "0", "3", "0"]
    assert table_row(output, "down")[:5] == ["down", "0", "0", "0", "1"]
    assert "HTTP 500" in output


def test_unknown_source_is_a_config_error(ingest_env: IngestEnv, folder: Path) -> None:
    ingest_env.configure([{"name": "local", "type": "folder", "path": "ann"}])
    result = runner.invoke(app, ["ingest", "--source", "nope", "--config", str(ingest_env.config_path)])
    assert result.exit_code == 2
    assert "no source named 'nope'" in result.output


def test_restart_between_runs_changes_nothing(ingest_env: IngestEnv, folder: Path) -> None:
    ingest_env.configure([{"name": "local", "type": "folder", "path": "ann"}])
    command = [sys.executable, "-m", "newsletter", "ingest", "--config", str(ingest_env.config_path)]
    first = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert first.returncode == 0, first.stderr
    second = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert second.returncode == 0, second.stderr
    assert table_row(first.stdout, "local")[:5] == ["local", "3", "0", "0", "0"]
    assert table_row(second.stdout, "local")[:5] == ["local", "0", "0", "3", "0"]


def test_announcements_list_filters_and_show_prints_quotes_and_figures(
    ingest_env: IngestEnv, folder: Path
) -> None:
    ingest_env.configure([{"name": "local", "type": "folder", "path": "ann"}])
    invoke(ingest_env, "ingest", "--now", "2025-03-25T09:00")
    store = ingest_env.open_store()
    announcement = Announcement(
        identity="https://travail.gouv.fr/cej",
        source="manual",
        title="CEJ : premier bilan",
        lede="Près de 900 000 jeunes accompagnés.",
        published=date(2025, 3, 10),
        quotes=[Quote("Un succès collectif", "Catherine Vautrin", "ministre")],
        figures=[Figure(raw="près de 900 000", value=900000, qualifier="près de", about="jeunes")],
        key_quote=0,
        key_figures=[0],
        content_hash="x",
        id="cej0000000000001",
    )
    store.announcements.upsert_announcement(announcement, announce=True, now=datetime(2025, 4, 2, tzinfo=UTC))
    code, output = invoke(ingest_env, "announcements", "list", "--source", "manual")
    assert code == 0 and "cej0000000000001" in output and "1 announcement(s)" in output
    code, output = invoke(ingest_env, "announcements", "list", "--since", "2025-04-01")
    assert "1 announcement(s)" in output
    code, output = invoke(ingest_env, "announcements", "list")
    assert "4 announcement(s)" in output
    code, output = invoke(ingest_env, "announcements", "show", "cej00000")
    assert code == 0
    assert "« Un succès collectif » — Catherine Vautrin, ministre [key]" in output
    assert "près de 900 000 = 900000 (count) [key]" in output
    code, output = invoke(ingest_env, "announcements", "show", "zzz")
    assert code == 2 and "matches no stored announcement" in output
