"""Web source against a real loopback HTTP server: article pages and a listing page."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from newsletter.core.errors import SourceError
from newsletter.extract import extract
from newsletter.sources.base import FetchState
from newsletter.sources.web import WebConfig, WebSource
from tests.fakes.http_site import Site

FAST = {"timeout": 0.5, "retries": 1, "retry_wait": 0.0}


def web_source(**options: Any) -> WebSource:
    config = WebConfig.model_validate({"name": "web", "type": "web", **FAST, **options})
    return WebSource(config, Path("."))


def test_article_pages_give_main_text_title_and_date(site: Site) -> None:
    site.serve_fixture("/articles/plan-jeunes", "article.html")
    [document] = list(web_source(urls=[site.url("/articles/plan-jeunes")]).fetch(FetchState()))
    assert document.whole_page and document.url == site.url("/articles/plan-jeunes")
    announcement = extract(document)
    assert announcement.title == "Plan jeunes : 1,2 milliard d'euros"
    assert announcement.published == date(2025, 3, 4)
    assert "« Aucun jeune ne doit rester sans solution »" in announcement.body
    assert "Mentions légales" not in announcement.body and "Accueil" not in announcement.body
    assert announcement.url == site.url("/articles/plan-jeunes")


def test_a_listing_page_and_selector_find_the_articles_and_a_dead_link_fails_alone(site: Site) -> None:
    site.serve_fixture("/presse", "listing.html")
    site.serve_fixture("/articles/plan-jeunes", "article.html")
    site.serve_fixture("/actu/forum-emploi", "article2.html")
    state = FetchState()
    source = web_source(listing=site.url("/presse"), selector="ul.press li.item")
    documents = list(source.fetch(state))
    announcements = [extract(d) for d in documents]
    assert [a.title for a in announcements] == [
        "Plan jeunes : 1,2 milliard d'euros",
        "Forum de l'emploi : 3 500 visiteurs attendus",
    ]
    assert announcements[1].published == date(2025, 3, 21)
    [(key, reason)] = state.failures
    assert key == site.url("/articles/gone") and "HTTP 404" in reason


def test_a_selector_matching_nothing_fails_the_source(site: Site) -> None:
    site.serve_fixture("/presse", "listing.html")
    with pytest.raises(SourceError, match="matched no article link"):
        list(web_source(listing=site.url("/presse"), selector="div.nothing").fetch(FetchState()))


def test_url_variants_are_fetched_once(site: Site) -> None:
    site.serve_fixture("/articles/plan-jeunes", "article.html")
    urls = [site.url("/articles/plan-jeunes"), site.url("/articles/plan-jeunes/?utm_source=x")]
    assert len(list(web_source(urls=urls).fetch(FetchState()))) == 1
    assert site.count_requests("/articles/plan-jeunes") == 1


@pytest.mark.parametrize(
    "options",
    [{}, {"listing": "http://127.0.0.1/presse"}, {"selector": "a"}, {"urls": ["ftp://example.org/x"]}],
)
def test_config_needs_pages_or_a_listing_with_a_selector(options: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        WebConfig.model_validate({"name": "web", "type": "web", **options})
