"""Feed source against a real loopback HTTP server: formats, 304, redirects, failures, limits."""

from __future__ import annotations

import re
import time
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from werkzeug import Request, Response

from newsletter.core.errors import SourceError
from newsletter.extract import extract
from newsletter.sources.base import FetchState
from newsletter.sources.feed import FeedConfig, FeedSource, feed_fingerprint
from tests.fakes.http_site import Site

FAST = {"timeout": 0.5, "retries": 2, "retry_wait": 0.0}


def feed_source(url: str, **options: Any) -> FeedSource:
    config = FeedConfig.model_validate({"name": "feed", "type": "feed", "url": url, **FAST, **options})
    return FeedSource(config, Path("."))


def fetch(url: str, state: FetchState | None = None, **options: Any) -> list[Any]:
    return list(feed_source(url, **options).fetch(state or FetchState()))


def test_rss2_items_carry_guid_link_date_tags_and_full_content(site: Site) -> None:
    site.serve_fixture("/rss2.xml", "rss2.xml")
    documents = fetch(site.url("/rss2.xml"))
    assert [d.identity for d in documents] == [
        "cej-2025-03",
        site.url("/articles/cap-alternance"),
        site.url("/articles/permis"),
    ]
    first = documents[0]
    assert first.metadata["date"] == date(2025, 3, 10)
    assert first.metadata["tags"] == ["jeunesse"]
    assert first.url == site.url("/articles/cej?utm_source=rss")
    assert "prolongé en 2026" in first.content
    assert first.content_type == "text/html"


def test_atom_entries_and_language(site: Site) -> None:
    site.serve_fixture("/atom.xml", "atom.xml")
    documents = fetch(site.url("/atom.xml"))
    assert [d.identity for d in documents] == [
        "tag:example.org,2025:skills-plan",
        "tag:example.org,2025:rural-transport",
    ]
    assert documents[0].metadata["date"] == date(2025, 3, 19)
    assert documents[0].metadata["lang"] == "en"
    assert "40,000 apprentices" in documents[0].content
    assert documents[1].metadata["date"] == date(2025, 3, 20)


@pytest.mark.parametrize(
    ("name", "title"),
    [
        ("rss1.rdf", "Forum de l'emploi : 3 500 visiteurs attendus"),
        ("rss091.xml", "Fête de la jeunesse : 2 000 participants"),
    ],
)
def test_rss_1_0_and_0_91_with_a_latin1_encoding(site: Site, name: str, title: str) -> None:
    site.serve(f"/{name}", site.fixture(name), "text/xml")
    [document] = fetch(site.url(f"/{name}"))
    assert document.metadata["title"] == title


def test_etag_turns_the_second_fetch_into_a_304_with_no_documents(site: Site) -> None:
    statuses = site.serve_with_etag("/feed", site.fixture("rss2.xml"), '"v1"')
    state = FetchState()
    assert len(fetch(site.url("/feed"), state)) == 3
    assert state.etag == '"v1"'
    again = FetchState(etag=state.etag)
    assert fetch(site.url("/feed"), again) == []
    assert again.not_modified
    assert statuses == ["200", "304"]


def test_redirects_are_followed_within_the_limit(site: Site) -> None:
    site.serve_fixture("/rss2.xml", "rss2.xml")
    site.redirect("/old-feed", site.url("/rss2.xml"), 301)
    assert len(fetch(site.url("/old-feed"))) == 3
    site.redirect("/loop", site.url("/loop"))
    with pytest.raises(SourceError, match="more than 5 redirects"):
        fetch(site.url("/loop"))


def test_a_500_is_retried_then_reported(site: Site) -> None:
    site.serve("/broken", "oops", "text/plain", status=500)
    with pytest.raises(SourceError, match="HTTP 500"):
        fetch(site.url("/broken"), retries=3)
    assert site.count_requests("/broken") == 3


def test_a_transient_500_recovers_on_retry(site: Site) -> None:
    feed = Response(site.fixture("rss2.xml"), content_type="application/rss+xml")
    answers = iter([Response("busy", status=503), feed])
    site.handle("/flaky", lambda _request: next(answers))
    assert len(fetch(site.url("/flaky"))) == 3


def test_a_404_fails_without_retrying(site: Site) -> None:
    with pytest.raises(SourceError, match="HTTP 404"):
        fetch(site.url("/missing"), retries=3)
    assert site.count_requests("/missing") == 1


def test_a_slow_server_times_out(site: Site) -> None:
    site.serve_slowly("/slow", 1.5, site.fixture("rss2.xml"))
    started = time.monotonic()
    with pytest.raises(SourceError, match=r"no answer within 0.5 s"):
        fetch(site.url("/slow"), retries=1)
    assert time.monotonic() - started < 1.4


def test_an_unreadable_feed_fails_and_a_bozo_feed_with_entries_warns(site: Site) -> None:
    site.serve_fixture("/malformed", "malformed.xml")
    with pytest.raises(SourceError, match="unreadable feed"):
        fetch(site.url("/malformed"))
    site.serve_fixture("/bozo", "bozo_with_entries.xml")
    state = FetchState()
    [document] = fetch(site.url("/bozo"), state)
    assert document.metadata["title"] == "Annonce lisible malgré tout"
    assert any("ill-formed feed" in warning for warning in state.warnings)


def test_a_non_feed_content_type_is_refused(site: Site) -> None:
    site.serve_fixture("/page", "article.html")
    with pytest.raises(SourceError, match=r"not a feed \(content type text/html\)"):
        fetch(site.url("/page"))


def test_an_oversized_body_is_refused(site: Site) -> None:
    site.serve("/big", b"<rss>" + b" " * 5000, "application/rss+xml")
    with pytest.raises(SourceError, match="exceeds the 1,000-byte limit"):
        fetch(site.url("/big"), max_bytes=1000)


def test_a_50_mb_streamed_body_stops_at_the_default_limit(site: Site) -> None:
    def chunks() -> Any:
        yield b"<?xml version='1.0'?><rss version='2.0'><channel>"
        for _ in range(50):
            yield b" " * 1_000_000

    site.handle("/huge", lambda _request: Response(chunks(), content_type="application/rss+xml"))
    with pytest.raises(SourceError, match="exceeds the 10,000,000-byte limit"):
        fetch(site.url("/huge"))


def test_requests_carry_a_clear_user_agent(site: Site) -> None:
    seen: list[str] = []

    def handler(request: Request) -> Response:
        seen.append(request.headers.get("User-Agent", ""))
        return Response(site.fixture("atom.xml"), content_type="application/atom+xml")

    site.handle("/ua", handler)
    fetch(site.url("/ua"))
    assert seen and seen[0].startswith("newsletter/")


def test_fetch_full_reads_the_linked_page_but_keeps_the_feed_date(site: Site) -> None:
    site.serve_fixture("/summary.xml", "summary_only.xml")
    site.serve_fixture("/articles/plan-jeunes", "article.html")
    [document] = fetch(site.url("/summary.xml"), fetch_full=True)
    announcement = extract(document)
    assert "Aucun jeune ne doit rester sans solution" in announcement.body
    assert "Mentions légales" not in announcement.body
    assert announcement.published == date(2025, 3, 5), "the feed's date wins over the page's"
    assert document.identity == "plan-jeunes"


def test_fetch_full_keeps_the_summary_when_the_page_fails(site: Site) -> None:
    site.serve_fixture("/summary.xml", "summary_only.xml")
    state = FetchState()
    [document] = fetch(site.url("/summary.xml"), state, fetch_full=True)
    assert document.content == "Résumé court."
    assert any("summary kept" in warning for warning in state.warnings)


def test_every_corpus_feed_goes_through_without_an_unhandled_exception(site: Site, shared_dir: Path) -> None:
    corpus = shared_dir / "corpora" / "feedparser-tests"
    files = sorted(p for p in corpus.rglob("*") if p.is_file() and p.suffix in (".xml", ".rdf", ".atom", ".rss"))
    if not files:
        pytest.skip(f"{corpus} holds no feed files")

    def serve_file(request: Request) -> Response:
        return Response((corpus / request.path.lstrip("/")).read_bytes(), content_type="application/xml")

    site.server.expect_request(re.compile("/.*")).respond_with_handler(serve_file)
    failed: dict[str, str] = {}
    ingested = 0
    for path in files:
        relative = path.relative_to(corpus).as_posix()
        try:
            documents = fetch(site.url("/" + relative), retries=1)
        except SourceError as error:
            failed[relative] = str(error)
            continue
        for document in documents:
            extract(document)
            ingested += 1
    illformed = [name for name in failed if name.startswith("illformed/")]
    wellformed_failures = [name for name in failed if name.startswith("wellformed/")]
    print(f"{len(files)} feeds: {ingested} entries ingested, {len(failed)} feeds reported")
    assert ingested > len(files) // 3
    assert illformed, "ill-formed feeds must be reported"
    assert len(wellformed_failures) < len(files) // 20, wellformed_failures[:20]


def test_a_feed_that_only_restamps_itself_is_not_parsed_again(site: Site) -> None:
    body = site.fixture("rss2.xml").decode("utf-8")
    stamps = iter(range(1, 10))

    def restamped(_request: Request) -> Response:
        stamp = f"<lastBuildDate>Mon, 24 Mar 2025 09:0{next(stamps)}:00 +0100</lastBuildDate>"
        return Response(body.replace("<channel>", f"<channel>{stamp}", 1), content_type="application/rss+xml")

    site.server.expect_request("/restamped").respond_with_handler(restamped)
    state = FetchState()
    assert len(fetch(site.url("/restamped"), state)) == 3
    again = FetchState(fingerprint=state.fingerprint)
    assert fetch(site.url("/restamped"), again) == []
    assert again.not_modified
    changed_item = body.replace("<item>", "<item><pubDate>Tue, 25 Mar 2025 10:00:00 +0100</pubDate>", 1)
    assert feed_fingerprint(changed_item.encode()) != feed_fingerprint(body.encode())
