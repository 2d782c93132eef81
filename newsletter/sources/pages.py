"""Article pages: main text, title and date of a fetched HTML page (trafilatura)."""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

import trafilatura

from newsletter.core.errors import SourceError
from newsletter.core.models import RawDocument
from newsletter.sources.http import Response

HTML_TYPES = ("text/html", "application/xhtml+xml", "")
logging.getLogger("trafilatura").setLevel(logging.ERROR)


def article_document(
    source: str, identity: str, page: Response, known: dict[str, Any] | None = None
) -> RawDocument:
    """A RawDocument holding the page's main text as Markdown; `known` metadata (e.g. a
    feed's date) wins over what the page says. Falls back to the whole HTML when trafilatura
    finds no main text."""
    if page.media_type not in HTML_TYPES:
        raise SourceError(f"{page.url}: not an HTML page (content type {page.media_type})")
    metadata = dict(known or {})
    found = trafilatura.bare_extraction(
        page.content,
        url=page.url,
        with_metadata=True,
        include_formatting=True,
        output_format="python",
    )
    content: str | bytes = page.content
    content_type = "text/html"
    if found is not None and (found.text or "").strip():
        content = _with_title(found.title, found.text)
        content_type = "text/markdown"
        if found.title:
            metadata.setdefault("title", found.title)
        page_date = _parse_date(found.date)
        if page_date:
            metadata.setdefault("date", page_date)
        if found.language:
            metadata.setdefault("lang", found.language)
    metadata.setdefault("url", page.url)
    return RawDocument(
        source=source,
        identity=identity,
        content=content,
        content_type=content_type,
        url=metadata["url"],
        metadata=metadata,
    )


def _with_title(title: str | None, text: str) -> str:
    """The main text, starting with its title as a heading unless it already does."""
    if title and title.strip() not in text.lstrip().splitlines()[0]:
        return f"# {title.strip()}\n\n{text}"
    return text


def _parse_date(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value[:10]) if value else None
    except ValueError:
        return None
