"""Full text always: metadata titles keep the first paragraph, empty and binary files are
skipped with a visible reason, and one broken feed entry fails alone."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from newsletter.cli import app
from newsletter.core.models import RawDocument
from newsletter.extract import extract
from newsletter.sources.base import FetchState
from tests.fakes.http_site import Site
from tests.fakes.ingest_env import IngestEnv
from tests.sources.test_feed import fetch

runner = CliRunner()

ONE_PARAGRAPH_FEED = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Préfecture</title>
<item><title>Chèque énergie : plus de bénéficiaires</title><link>https://example.org/cheque</link>
<guid>cheque-2026</guid><pubDate>Tue, 10 Feb 2026 09:00:00 +0100</pubDate>
<description>Le chèque énergie sera versé à 42 000 bénéficiaires supplémentaires dans la Somme.</description></item>
</channel></rss>"""

SURROGATE_FEED = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Flux</title>
<item><title>Premier appel</title><guid>https://example.org/un</guid>
<description>Un appel \xc3\xa0 projets de 3 millions d'euros.</description></item>
<item><title>Cass\xc3\xa9 &#xD800; ici</title><guid>https://example.org/deux</guid>
<description>Texte &#xD800; bris\xc3\xa9.</description></item>
<item><title>Troisi\xc3\xa8me appel</title><guid>https://example.org/trois</guid>
<description>Un second appel pour 1 200 communes.</description></item>
</channel></rss>"""


def test_a_front_matter_title_keeps_the_first_paragraph() -> None:
    raw = RawDocument("local", "a", "Le département ouvre 1 500 places en crèche cette année.\n\nSuite.",
                      "text/markdown", metadata={"title": "Crèches : 1 500 places"})
    announcement = extract(raw)
    assert announcement.title == "Crèches : 1 500 places"
    assert announcement.body.startswith("Le département ouvre 1 500 places")
    assert [f.value for f in announcement.figures] == [1500]


def test_a_heading_repeating_the_given_title_is_not_kept_twice() -> None:
    raw = RawDocument("local", "a", "# Crèches : 1 500 places\n\nLe département ouvre des places.",
                      "text/markdown", metadata={"title": "Crèches : 1 500 places"})
    assert extract(raw).body == "Le département ouvre des places."


def test_a_lone_sentence_without_title_stays_in_the_body_and_titles_the_announcement() -> None:
    raw = RawDocument("local", "a", "Le département ouvre 1 500 places en crèche. Les inscriptions sont ouvertes.",
                      "text/plain")
    announcement = extract(raw)
    assert announcement.title == "Le département ouvre 1 500 places en crèche"
    assert "Les inscriptions sont ouvertes" in announcement.body


def test_a_one_paragraph_feed_item_is_stored_with_its_text_and_figure(ingest_env: IngestEnv, site: Site) -> None:
    site.serve("/feed", ONE_PARAGRAPH_FEED)
    ingest_env.configure([{"name": "pref", "type": "feed", "url": site.url("/feed")}])
    assert ingest_env.run()["pref"].new == 1
    [stored] = ingest_env.open_store().announcements.list_announcements()
    assert stored.title == "Chèque énergie : plus de bénéficiaires"
    assert "42 000 bénéficiaires supplémentaires" in stored.body
    assert [(f.value, f.kind) for f in stored.figures] == [(42000, "count")]


def test_a_feed_with_a_lone_surrogate_entry_keeps_its_good_entries(site: Site) -> None:
    site.serve("/feed", SURROGATE_FEED)
    state = FetchState()
    documents = fetch(site.url("/feed"), state)
    assert [d.identity for d in documents] == ["https://example.org/un", "https://example.org/trois"]
    [(key, reason)] = state.failures
    assert key == "https://example.org/deux" and "feed entry 2" in reason


def test_the_good_entries_of_a_broken_feed_are_stored(ingest_env: IngestEnv, site: Site) -> None:
    site.serve("/feed", SURROGATE_FEED)
    ingest_env.configure([{"name": "flux", "type": "feed", "url": site.url("/feed")}])
    report = ingest_env.run()["flux"]
    assert (report.new, report.failed) == (2, 1)
    titles = sorted(a.title for a in ingest_env.open_store().announcements.list_announcements())
    assert titles == ["Premier appel", "Troisième appel"]


def test_empty_whitespace_and_binary_files_are_skipped_with_their_reason(ingest_env: IngestEnv) -> None:
    folder = ingest_env.root / "annonces"
    folder.mkdir()
    (folder / "bon.md").write_text("# Bon\n\nUn texte de 30 mots au moins.\n", "utf-8")
    (folder / "vide.md").write_bytes(b"")
    (folder / "blanc.txt").write_text("  \n\n\t \n", "utf-8")
    (folder / "image.md").write_bytes(bytes(range(256)) * 8)
    ingest_env.configure([{"name": "local", "type": "folder", "path": "annonces"}])
    config = ["--config", str(ingest_env.config_path)]
    result = runner.invoke(app, ["ingest", *config], env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    output = " ".join(result.output.split())
    assert "vide.md: skipped, empty document" in output
    assert "blanc.txt: skipped, only whitespace" in output
    assert "image.md: skipped, cannot be decoded as text" in output
    assert [a.title for a in ingest_env.open_store().announcements.list_announcements()] == ["Bon"]
    status = runner.invoke(app, ["status", "--json", *config])
    reasons = [d["reason"] for d in json.loads(status.output)["skipped_documents"]]
    assert len(reasons) == 3 and any("vide.md: skipped, empty document" in r for r in reasons)
    plain = runner.invoke(app, ["status", *config], env={"COLUMNS": "300"})
    assert "blanc.txt: skipped, only whitespace" in " ".join(plain.output.split())


def test_the_review_app_lists_skipped_documents(ingest_env: IngestEnv, tmp_path: Path) -> None:
    from newsletter.runtime.status import skipped_documents

    folder = ingest_env.root / "annonces"
    folder.mkdir()
    (folder / "vide.md").write_bytes(b"")
    ingest_env.configure([{"name": "local", "type": "folder", "path": "annonces"}])
    ingest_env.run()
    [skipped] = skipped_documents(ingest_env.config, ingest_env.open_store())
    assert skipped["source"] == "local" and "empty document" in skipped["reason"]
