"""Ingestion over real loopback sources and a real SQLite store: first contact, isolation,
exactly-once identity, dry runs, unchanged runs and withdrawal of pending posts."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

import newsletter.pipeline.ingest as ingest_module
from newsletter.core.models import DeliveryStatus
from newsletter.pipeline.plan import freeze_issue
from newsletter.pipeline.posting import queue_posts
from newsletter.store.ledger import Ledger
from newsletter.store.tables import announcements, runs, source_state
from tests.fakes.http_site import Site
from tests.fakes.ingest_env import IngestEnv


def rss(site: Site, items: list[tuple[str, str, str]]) -> bytes:
    """An RSS 2.0 feed of (guid, link path, date) items."""
    entries = "".join(
        f"<item><title>Annonce {guid}</title><link>{site.url(link)}</link><guid isPermaLink='false'>{guid}</guid>"
        f"<pubDate>{day}</pubDate><description>Texte de l'annonce {guid} : 1 200 places.</description></item>"
        for guid, link, day in items
    )
    return f"<?xml version='1.0'?><rss version='2.0'><channel><title>T</title>{entries}</channel></rss>".encode()


ITEMS = [
    ("a", "/a", "Mon, 03 Mar 2025 09:00:00 +0100"),
    ("b", "/b", "Mon, 10 Mar 2025 09:00:00 +0100"),
    ("c", "/c", "Mon, 17 Mar 2025 09:00:00 +0100"),
]


def row_count(ingest_env: IngestEnv, table: object) -> int:
    with ingest_env.open_store().engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def test_first_contact_announces_only_the_backfill(ingest_env: IngestEnv, site: Site) -> None:
    site.serve("/feed", rss(site, ITEMS))
    ingest_env.configure([{"name": "news", "type": "feed", "url": site.url("/feed"), "backfill": 1}])
    report = ingest_env.run()["news"]
    assert report.new == 3
    assert [a.title for a in report.announced] == ["Annonce c"]
    site.server.clear_all_handlers()
    site.serve("/feed", rss(site, [("d", "/d", "Mon, 24 Mar 2025 09:00:00 +0100"), *ITEMS]))
    report = ingest_env.run()["news"]
    assert (report.new, report.unchanged) == (1, 3)
    assert [a.title for a in report.announced] == ["Annonce d"]


def test_a_failed_first_contact_still_counts_as_first_contact(ingest_env: IngestEnv, site: Site) -> None:
    site.serve("/feed", "down", "text/plain", status=503)
    ingest_env.configure([{"name": "news", "type": "feed", "url": site.url("/feed")}])
    assert ingest_env.run()["news"].failed == 1
    site.server.clear_all_handlers()
    site.serve("/feed", rss(site, ITEMS))
    report = ingest_env.run()["news"]
    assert report.new == 3 and report.announced == []


def test_failing_sources_fail_alone_and_are_recorded(
    ingest_env: IngestEnv, site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    site.serve("/good", rss(site, ITEMS))
    site.serve("/error", "boom", "text/plain", status=500)
    site.serve_fixture("/malformed", "malformed.xml")
    site.serve_fixture("/html", "article.html")
    site.serve_slowly("/slow", 1.2)
    ingest_env.configure([
        {"name": "error", "type": "feed", "url": site.url("/error")},
        {"name": "good", "type": "feed", "url": site.url("/good")},
        {"name": "malformed", "type": "feed", "url": site.url("/malformed")},
        {"name": "html", "type": "feed", "url": site.url("/html")},
        {"name": "slow", "type": "feed", "url": site.url("/slow"), "retries": 1},
        {"name": "missing", "type": "feed", "url": site.url("/nothing-here")},
    ])
    with caplog.at_level(logging.ERROR, logger="newsletter.pipeline.ingest"):
        reports = ingest_env.run()
    assert reports["good"].new == 3
    expected = {
        "error": "HTTP 500",
        "malformed": "unreadable feed",
        "html": "not a feed",
        "slow": "no answer within 0.5 s",
        "missing": "HTTP 404",
    }
    for name, reason in expected.items():
        assert reports[name].failed == 1 and reason in reports[name].errors[0]
        lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith(f"source {name} failed")]
        assert len(lines) == 1 and reason in lines[0]
    store = ingest_env.open_store()
    [error_run] = store.runs.last_runs("ingest:error")
    assert error_run.outcome == "failed" and "HTTP 500" in (error_run.message or "")
    assert store.runs.last_runs("ingest:good")[0].outcome == "ok"
    assert "HTTP 500" in store.source_states.get_source_state("error")["last_error"]


def test_a_source_that_breaks_later_loses_nothing(ingest_env: IngestEnv, site: Site) -> None:
    site.serve("/feed", rss(site, ITEMS))
    ingest_env.configure([{"name": "news", "type": "feed", "url": site.url("/feed")}])
    ingest_env.run()
    site.server.clear_all_handlers()
    site.serve_fixture("/feed", "malformed.xml")
    assert ingest_env.run()["news"].failed == 1
    site.server.clear_all_handlers()
    site.serve("/feed", rss(site, ITEMS))
    report = ingest_env.run()["news"]
    assert (report.new, report.updated, report.unchanged) == (0, 0, 3)
    assert row_count(ingest_env, announcements) == 3


def test_reordering_and_url_variants_do_not_create_duplicates(ingest_env: IngestEnv, site: Site) -> None:
    site.serve("/feed", rss(site, ITEMS))
    ingest_env.configure([{"name": "news", "type": "feed", "url": site.url("/feed")}])
    ingest_env.run()
    variants = [(guid, f"{link}/?utm_source=rss&utm_medium=feed", day) for guid, link, day in reversed(ITEMS)]
    site.server.clear_all_handlers()
    site.serve("/feed", rss(site, variants).replace(b"http://", b"https://"))
    report = ingest_env.run()["news"]
    assert report.new == 0 and report.failed == 0
    assert row_count(ingest_env, announcements) == 3


def test_a_feed_item_and_a_web_page_of_the_same_url_are_one_announcement(
    ingest_env: IngestEnv, site: Site
) -> None:
    page = site.url("/articles/plan-jeunes")
    https_variant = page.replace("http://", "https://") + "/"
    site.serve("/summary.xml", site.fixture("summary_only.xml").replace(page.encode(), https_variant.encode()))
    site.serve_fixture("/articles/plan-jeunes", "article.html")
    ingest_env.configure([
        {"name": "feed", "type": "feed", "url": site.url("/summary.xml")},
        {"name": "web", "type": "web", "urls": [page + "?utm_campaign=x"]},
    ])
    reports = ingest_env.run()
    assert reports["feed"].new == 1 and reports["web"].failed == 0 and reports["web"].new == 0
    assert row_count(ingest_env, announcements) == 1
    again = ingest_env.run()
    assert again["feed"].unchanged == 1 and again["web"].unchanged == 1


def test_a_304_is_an_unchanged_run(ingest_env: IngestEnv, site: Site) -> None:
    statuses = site.serve_with_etag("/feed", rss(site, ITEMS), '"abc"')
    ingest_env.configure([{"name": "news", "type": "feed", "url": site.url("/feed")}])
    ingest_env.run()
    report = ingest_env.run()["news"]
    assert statuses == ["200", "304"]
    assert report.not_modified and (report.unchanged, report.failed) == (3, 0)
    assert row_count(ingest_env, announcements) == 3


def test_the_same_body_again_is_not_parsed_again(ingest_env: IngestEnv, site: Site) -> None:
    site.serve("/feed", rss(site, ITEMS))
    ingest_env.configure([{"name": "news", "type": "feed", "url": site.url("/feed")}])
    ingest_env.run()
    report = ingest_env.run()["news"]
    assert report.not_modified and report.unchanged == 3
    site.server.clear_all_handlers()
    site.serve("/feed", rss(site, ITEMS[:2]))
    report = ingest_env.run()["news"]
    assert not report.not_modified and report.unchanged == 2


def test_dry_run_writes_nothing(ingest_env: IngestEnv, site: Site) -> None:
    site.serve("/feed", rss(site, ITEMS))
    ingest_env.configure([{"name": "news", "type": "feed", "url": site.url("/feed")}])
    report = ingest_env.run(dry_run=True)["news"]
    assert report.new == 3
    for table in (announcements, runs, source_state):
        assert row_count(ingest_env, table) == 0


def test_an_unchanged_run_does_no_extraction(
    ingest_env: IngestEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "ann"
    folder.mkdir()
    for index in range(5):
        (folder / f"{index}.md").write_text(f"# Annonce {index}\n\nTexte {index}.\n", "utf-8")
    ingest_env.configure([{"name": "local", "type": "folder", "path": "ann"}])
    ingest_env.run()
    calls: list[str] = []
    real_extract = ingest_module.extract

    def counting_extract(raw):  # type: ignore[no-untyped-def]
        calls.append(raw.identity)
        return real_extract(raw)

    monkeypatch.setattr(ingest_module, "extract", counting_extract)
    assert ingest_env.run()["local"].unchanged == 5
    assert calls == []
    (folder / "3.md").write_text("# Annonce 3\n\nTexte modifié.\n", "utf-8")
    assert ingest_env.run()["local"].updated == 1
    assert calls == ["local:3.md"]


def test_removal_withdraws_pending_posts_but_not_sent_ones(ingest_env: IngestEnv, tmp_path: Path) -> None:
    folder = tmp_path / "ann"
    folder.mkdir()
    (folder / "a.md").write_text("# A\n\nTexte A.\n", "utf-8")
    (folder / "b.md").write_text("# B\n\nTexte B.\n", "utf-8")
    ingest_env.configure([{"name": "local", "type": "folder", "path": "ann"}])
    ingest_env.run()
    store = ingest_env.open_store()
    ids = {a.title: a.id for a in store.announcements.list_announcements()}
    ledger = Ledger(store)
    ledger.ensure_pending([
        (f"post:{ids['A']}:short:masto", "post", "masto", {}),
        (f"post:{ids['A']}:short:bsky", "post", "bsky", {}),
        (f"post:{ids['B']}:short:masto", "post", "masto", {}),
    ])
    assert ledger.claim(f"post:{ids['A']}:short:bsky")
    ledger.mark_sent(f"post:{ids['A']}:short:bsky", provider_id="1")
    (folder / "a.md").unlink()
    report = ingest_env.run()["local"]
    assert report.withdrawn == 1 and report.withdrawn_ids == [ids["A"]]
    assert ledger.get(f"post:{ids['A']}:short:masto").status == DeliveryStatus.SKIPPED
    assert ledger.get(f"post:{ids['A']}:short:bsky").status == DeliveryStatus.SENT
    assert ledger.get(f"post:{ids['B']}:short:masto").status == DeliveryStatus.PENDING
    assert [a.title for a in store.announcements.list_announcements()] == ["B"]


def test_an_unexpected_error_in_a_source_fails_it_alone(
    ingest_env: IngestEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "ann").mkdir()
    (tmp_path / "ann" / "a.md").write_text("# A\n\nTexte.\n", "utf-8")
    ingest_env.configure([
        {"name": "broken", "type": "folder", "path": "ann"},
        {"name": "fine", "type": "folder", "path": "ann"},
    ])
    real_build = ingest_module.build_source

    def build(source_config, config):  # type: ignore[no-untyped-def]
        if source_config.name == "broken":
            raise RuntimeError("plugin bug")
        return real_build(source_config, config)

    monkeypatch.setattr(ingest_module, "build_source", build)
    reports = ingest_env.run()
    assert re.search("unexpected RuntimeError: plugin bug", reports["broken"].errors[0])
    assert reports["fine"].new == 1


def test_the_scheduler_can_record_runs_itself(ingest_env: IngestEnv, site: Site) -> None:
    site.serve("/feed", rss(site, ITEMS))
    ingest_env.configure([{"name": "news", "type": "feed", "url": site.url("/feed")}])
    assert ingest_env.run(record_runs=False)["news"].new == 3
    assert row_count(ingest_env, runs) == 0
    assert ingest_env.run(record_runs=False)["news"].unchanged == 3


RELEASE = """---
title: Plan jeunes
date: 2025-03-20
{extra}---
# Plan jeunes

La ministre du Travail, Marie Martin, a déclaré : « Nous accompagnerons tous les jeunes qui le
demandent. » Près de {count} 000 jeunes sont concernés par le dispositif.
"""


def test_an_edited_file_re_renders_what_still_waits_and_an_embargo_change_does_not(
    ingest_env: IngestEnv, tmp_path: Path
) -> None:
    folder = tmp_path / "ann"
    folder.mkdir()
    (folder / "a.md").write_text(RELEASE.format(extra="", count=900), "utf-8")
    channel = {"name": "masto", "type": "mastodon", "base_url": "http://127.0.0.1:9", "variants": ["figure"],
               "card": False}
    ingest_env.config_path.write_text(yaml.safe_dump({
        "sources": [{"name": "local", "type": "folder", "path": "ann", "backfill": 5}],
        "digests": [{"name": "hebdo", "schedule": "0 9 * * MON", "list": "abonnes"}],
        "channels": [channel],
    }), "utf-8")
    ingest_env.run(when="2025-03-25T09:00")
    store, config = ingest_env.open_store(), ingest_env.config
    now = datetime(2025, 3, 25, 10, 0, tzinfo=UTC)
    assert queue_posts(config, store, now) == {"masto": 1}
    issue = freeze_issue(store, config, config.digest("hebdo"), now)
    assert issue is not None and "900" in issue.text
    [key] = [row.key for row in Ledger(store).list_deliveries(kind="post")]

    (folder / "a.md").write_text(RELEASE.format(extra="", count=950), "utf-8")
    report = ingest_env.run(when="2025-03-25T12:00")["local"]
    assert report.updated == 1 and report.changed_ids == issue.announcement_ids
    assert report.revisions.rerendered_posts == [key] and report.revisions.rerendered_issues == [issue.issue_id]
    assert "950" in Ledger(store).get(key).payload["text"]
    assert "950" in store.issues.get_digest_issue(issue.issue_id).digest.text

    (folder / "a.md").write_text(RELEASE.format(extra="publish_at: 2025-03-20T08:00:00\n", count=950), "utf-8")
    report = ingest_env.run(when="2025-03-25T13:00")["local"]
    assert report.updated == 1 and report.changed_ids == [] and report.revisions is None, "nothing to follow"
    assert [a.action for a in store.audit.list_actions()].count("digest.rerender") == 1
