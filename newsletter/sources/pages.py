"""Article pages: a fetched HTML page handed to extraction whole (it finds the main text)."""

from __future__ import annotations

from typing import Any

from newsletter.core.errors import SourceError
from newsletter.core.models import RawDocument
from newsletter.sources.http import Response

HTML_TYPES = ("text/html", "application/xhtml+xml", "")


def article_document(
    source: str, identity: str, page: Response, known: dict[str, Any] | None = None
) -> RawDocument:
    """A RawDocument holding the whole page, marked so that extraction reads its main text;
    `known` metadata (e.g. a feed's date) wins over what the page says."""
    if page.media_type not in HTML_TYPES:
        raise SourceError(f"{page.url}: not an HTML page (content type {page.media_type})")
    metadata = {"url": page.url, **(known or {})}
    return RawDocument(
        source=source,
        identity=identity,
        content=page.content,
        content_type="text/html",
        url=metadata["url"],
        metadata=metadata,
        whole_page=True,
    )
