"""End to end: `newsletter init` then `preview` in a temporary folder, through the real CLI."""

from __future__ import annotations

import email
import email.policy
import json
import os
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

NOW = "2025-03-24T08:00"


class TagCounter(HTMLParser):
    """Counts tags and collects hrefs and visible text of an HTML document."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: dict[str, int] = {}
        self.hrefs: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags[tag] = self.tags.get(tag, 0) + 1
        self.hrefs.extend(value for name, value in attrs if name == "href" and value)

    def handle_data(self, data):
        self.text.append(data)


def newsletter(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "newsletter", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=180)


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A starter project written by `newsletter init`, previewed once."""
    folder = tmp_path_factory.mktemp("project")
    result = newsletter("init", str(folder), cwd=folder)
    assert result.returncode == 0, result.stderr
    result = newsletter("preview", "--config", "config/newsletter.yaml", "--out", "out", "--now", NOW, cwd=folder)
    assert result.returncode == 0, result.stderr
    return folder


def test_help_lists_the_foundation_commands(tmp_path):
    result = newsletter("--help", cwd=tmp_path)
    assert result.returncode == 0
    for command in ("init", "check", "extract", "count", "ingest", "preview", "run", "status", "db"):
        assert f" {command} " in result.stdout, command


def test_init_writes_a_config_that_checks(project):
    assert (project / "config" / "newsletter.yaml").is_file()
    assert (project / "templates" / "email" / "digest.mjml.j2").is_file()
    result = newsletter("check", "--config", "config/newsletter.yaml", cwd=project)
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout


def example_titles(project: Path) -> list[str]:
    from newsletter.extract import extract, read_path

    return [extract(read_path(str(path))).title for path in sorted((project / "config" / "examples").iterdir())]


def test_digest_html_is_compiled_mjml_with_every_announcement(project):
    html = (project / "out" / "digest.html").read_text(encoding="utf-8")
    parser = TagCounter()
    parser.feed(html)
    assert parser.tags.get("table", 0) > 10, "MJML output is made of tables"
    assert "@media only screen and (min-width:480px)" in html, "responsive MJML column styles"
    assert "<mj-" not in html and "{{" not in html and "{%" not in html
    text = " ".join(" ".join(parser.text).replace("\u202f", " ").replace("\xa0", " ").split())
    titles = example_titles(project)
    assert len(titles) >= 3
    for title in titles:
        assert title in text, title
    assert "Claire Dumoulin" in text, "a quote's speaker"
    assert "accompagnement exigeant et bienveillant" in text, "a quote"
    assert "310 000" in text, "a figure, formatted"
    assert all(href.startswith(("http://", "https://", "mailto:")) for href in parser.hrefs)
    assert "fonts.googleapis.com" not in html


def test_digest_eml_is_multipart_alternative_in_utf8(project):
    message = email.message_from_bytes((project / "out" / "digest.eml").read_bytes(), policy=email.policy.default)
    assert message.get_content_type() == "multipart/alternative"
    parts = {part.get_content_type(): part for part in message.iter_parts()}
    assert set(parts) == {"text/plain", "text/html"}
    for part in parts.values():
        assert part.get_content_charset() == "utf-8"
    assert "Claire Dumoulin" in parts["text/plain"].get_content()
    assert message["List-Unsubscribe"].startswith("<http://127.0.0.1:8080/unsubscribe/")
    assert "nouvelle" in message["Subject"] and "(s)" not in message["Subject"]


def test_posts_exist_per_platform_and_summary_says_where_and_when(project):
    summary = json.loads((project / "out" / "summary.json").read_text(encoding="utf-8"))
    assert summary["digest"]["list"] == "abonnes"
    assert summary["digest"]["scheduled_for"] == "2025-03-24T09:00:00+01:00"
    assert len(summary["digest"]["announcements"]) == len(example_titles(project))
    platforms = {post["platform"] for post in summary["posts"]}
    assert platforms == {"x", "mastodon", "bluesky"}
    for post in summary["posts"]:
        text = (project / "out" / post["file"]).read_text(encoding="utf-8")
        assert text.strip()
        assert post["length"] <= post["limit"]
        assert post["slot"] is not None
    x_slots = [post["slot"] for post in summary["posts"] if post["channel"] == "x-ministere"]
    assert len(x_slots) > 1
    assert x_slots == sorted(set(x_slots)), "one post per slot, spread over the following slots"
    assert x_slots[:3] == ["2025-03-24T09:30:00+01:00", "2025-03-24T12:30:00+01:00", "2025-03-24T17:00:00+01:00"]
    assert summary["sources"][0]["new"] == len(example_titles(project))


def test_preview_is_reproducible_and_writes_no_ledger(project):
    first = (project / "out" / "digest.html").read_bytes()
    result = newsletter("preview", "--config", "config/newsletter.yaml", "--out", "out", "--now", NOW, cwd=project)
    assert result.returncode == 0, result.stderr
    assert (project / "out" / "digest.html").read_bytes() == first
    assert not (project / "data").exists(), "a preview on a fresh project writes no database"
    assert newsletter("db", "upgrade", "--config", "config/newsletter.yaml", cwd=project).returncode == 0
    result = newsletter("preview", "--config", "config/newsletter.yaml", "--out", "out", "--now", NOW, cwd=project)
    assert result.returncode == 0, result.stderr
    assert (project / "out" / "digest.html").read_bytes() == first
    from newsletter.store import Store
    from newsletter.store.ledger import Ledger

    with Store.open(f"sqlite:///{project / 'data' / 'newsletter.db'}") as store:
        assert store.announcements.list_announcements() == []
        assert store.runs.last_runs() == []
        assert not any(Ledger(store).counts().values())


def test_config_comes_from_the_environment_and_digest_is_chosen_by_name(project, tmp_path):
    env = {**os.environ, "NEWSLETTER_CONFIG": str(project / "config" / "newsletter.yaml")}
    run = subprocess.run([sys.executable, "-m", "newsletter", "preview", "--out", str(tmp_path / "p"),
                          "--digest", "mensuel", "--now", NOW], cwd=tmp_path, capture_output=True, text=True,
                         env=env, timeout=180)
    assert run.returncode == 2
    assert "no digest named 'mensuel' (configured: hebdo)" in run.stderr
    assert "Traceback" not in run.stderr
    run = subprocess.run([sys.executable, "-m", "newsletter", "preview", "--out", str(tmp_path / "p"),
                          "--digest", "hebdo", "--now", NOW], cwd=tmp_path, capture_output=True, text=True,
                         env=env, timeout=180)
    assert run.returncode == 0, run.stderr
    assert json.loads((tmp_path / "p" / "summary.json").read_text(encoding="utf-8"))["digest"]["name"] == "hebdo"


def test_commands_refuse_an_out_of_date_database_with_a_clear_message(project):
    from sqlalchemy import create_engine, text

    database = project / "data" / "newsletter.db"
    assert newsletter("db", "upgrade", "--config", "config/newsletter.yaml", cwd=project).returncode == 0
    engine = create_engine(f"sqlite:///{database}")
    with engine.begin() as conn:
        current = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
        conn.execute(text("UPDATE alembic_version SET version_num = 'ffff_future'"))
    engine.dispose()
    try:
        result = newsletter("status", "--config", "config/newsletter.yaml", cwd=project)
        assert result.returncode == 1
        assert "which this version of newsletter does not know" in result.stderr
        assert "Traceback" not in result.stderr
    finally:
        engine = create_engine(f"sqlite:///{database}")
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": current})
        engine.dispose()


def test_weak_extractions_are_marked_to_check_in_summary_and_files(project):
    summary = json.loads((project / "out" / "summary.json").read_text(encoding="utf-8"))
    items = summary["digest"]["announcements"] + summary["posts"]
    assert all(("check" in item and "checks" in item) for item in items)
    weak = [item for item in items if item["checks"]]
    assert all(item["check"] == "à vérifier" for item in weak)
    assert all(item["check"] is None for item in items if not item["checks"])
    if weak:
        listed = (project / "out" / "to_check.txt").read_text(encoding="utf-8")
        assert summary["to_check"] == "to_check.txt"
        assert all(item.get("title", item.get("file")) in listed for item in weak)
    else:
        assert not (project / "out" / "to_check.txt").exists()
