"""Web source: article pages given by URL, or found on a listing page through a CSS selector."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar
from urllib.parse import urljoin

from pydantic import AnyHttpUrl, Field, PositiveInt, model_validator
from selectolax.lexbor import LexborHTMLParser

from newsletter.core.errors import SourceError
from newsletter.core.identity import canonical_url
from newsletter.core.models import RawDocument
from newsletter.sources.base import FetchState, SourceConfig
from newsletter.sources.http import Fetcher, HttpSettings
from newsletter.sources.pages import article_document


class WebConfig(SourceConfig, HttpSettings):
    """Pages to read: `urls`, and/or a `listing` page whose `selector` matches article links."""

    urls: list[AnyHttpUrl] = Field(default_factory=list)
    listing: AnyHttpUrl | None = None
    selector: str | None = None
    max_articles: PositiveInt = 50

    @model_validator(mode="after")
    def _something_to_read(self) -> WebConfig:
        if bool(self.listing) != bool(self.selector):
            raise ValueError("listing and selector go together")
        if not self.urls and not self.listing:
            raise ValueError("give urls, or a listing page and a selector")
        return self


class WebSource:
    """Yields one RawDocument per article page: its main text, title and date."""

    type_name: ClassVar[str] = "web"
    Config: ClassVar[type[WebConfig]] = WebConfig
    complete: ClassVar[bool] = False

    def __init__(self, config: WebConfig, base_dir: Path):
        self.config = config

    def describe(self) -> str:
        """Name, kind and pages of this source."""
        where = f"listing {self.config.listing} ({self.config.selector})" if self.config.listing else (
            f"{len(self.config.urls)} page(s)"
        )
        return f"{self.config.name} (web {where})"

    def fetch(self, state: FetchState) -> Iterator[RawDocument]:
        """Every article page; a page that fails is recorded in `state` and the rest go on."""
        with Fetcher(self.config) as fetcher:
            for url in self._article_urls(fetcher):
                try:
                    yield article_document(self.config.name, url, fetcher.get(url))
                except SourceError as error:
                    state.failures.append((url, str(error)))

    def _article_urls(self, fetcher: Fetcher) -> list[str]:
        urls = [str(u) for u in self.config.urls]
        if self.config.listing and self.config.selector:
            urls += self._listing_links(fetcher, str(self.config.listing), self.config.selector)
        unique: dict[str, str] = {}
        for url in urls:
            unique.setdefault(canonical_url(url), url)
        return list(unique.values())

    def _listing_links(self, fetcher: Fetcher, listing: str, selector: str) -> list[str]:
        """The article links the selector finds on the listing page, in page order."""
        page = fetcher.get(listing)
        tree = LexborHTMLParser(page.content.decode("utf-8", "replace"))
        links = []
        for node in tree.css(selector):
            anchor = node if node.tag == "a" else node.css_first("a[href]")
            href = anchor.attributes.get("href") if anchor is not None else None
            if href and urljoin(page.url, href).startswith(("http://", "https://")):
                links.append(urljoin(page.url, href))
        if not links:
            raise SourceError(f"{listing}: selector {selector!r} matched no article link")
        return links[: self.config.max_articles]
