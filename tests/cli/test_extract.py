"""`newsletter extract PATH... --json` prints one JSON array, inputs in order, errors in place."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from newsletter.cli import app

FIXTURES = Path(__file__).parents[1] / "fixtures" / "extract"
KEYS = {
    *("path", "title", "published", "language", "lede", "tags", "acronyms"),
    *("quotes", "figures", "key_quote", "key_figures"),
}


def test_json_output_in_order_with_unreadable_input(tmp_path):
    missing = str(tmp_path / "missing.md")
    paths = [str(FIXTURES / "fr_scraped.txt"), missing, str(FIXTURES / "en_release.html")]
    result = CliRunner().invoke(app, ["extract", *paths, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [item["path"] for item in data] == paths
    assert "error" in data[1]
    assert set(data[0]) >= KEYS and set(data[2]) >= KEYS
    assert data[0]["published"] == "2025-04-03"
    expected = {
        "speaker": "Paul Girardin", "role": "président de l'ARML", "text": "dialogue de terrain constant", "score": 1.0
    }
    assert data[0]["quotes"][2] == expected
    figure = data[0]["figures"][3]
    assert set(figure) == {"raw", "value", "value_max", "unit", "kind", "qualifier", "about", "sentence", "score"}
    assert "no_quote" not in data[0]["checks"]
    assert "Avenir Pro" in result.stdout  # ensure_ascii=False keeps accents readable
    assert "\\u00e9" not in result.stdout


def test_stdin_and_readable_summary():
    text = (FIXTURES / "fr_press_release.md").read_text(encoding="utf-8")
    result = CliRunner().invoke(app, ["extract", "-"], input=text)
    assert result.exit_code == 0, result.output
    assert "Élise Martin-Roche" in result.stdout and "850 000" in result.stdout


def test_summary_shows_markup_in_announcement_text_literally(tmp_path):
    source = tmp_path / "markup.md"
    source.write_text(
        "# Le plan [/x] [bold]\n\n« Nous ouvrons 300 places [/x] dès lundi », a déclaré la ministre Claire Martin.\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(app, ["extract", str(source)])
    assert result.exit_code == 0, result.output
    assert "Le plan [/x] [bold]" in result.stdout
    assert "[/x] dès lundi" in result.stdout
