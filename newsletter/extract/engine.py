"""The extraction pipeline: decode, clean, then find metadata, quotes and figures, then rank."""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from newsletter.core.models import Announcement, RawDocument
from newsletter.extract import confidence, metadata, rank
from newsletter.extract.clean import clean_markdown, strip_inline
from newsletter.extract.decode import decode_content
from newsletter.extract.figures import find_figures
from newsletter.extract.frontmatter import split_front_matter
from newsletter.extract.html import has_tags, html_to_text, looks_like_html
from newsletter.extract.main_text import main_text
from newsletter.extract.quotes import find_quotes

log = logging.getLogger(__name__)
TEXT_LIMIT = 1_000_000
ANALYSIS_LIMIT = 200_000


def extract(raw: RawDocument) -> Announcement:
    """Extract a structured announcement from a raw document; never raises."""
    warnings: list[str] = []
    try:
        announcement = _extract(raw, warnings)
    except Exception as exc:
        log.exception("extraction failed for %s", getattr(raw, "identity", "?"))
        warnings.append(f"extraction failed: {type(exc).__name__}: {exc}")
        announcement = Announcement(
            identity=str(getattr(raw, "identity", "")),
            source=str(getattr(raw, "source", "")),
            title="",
            url=getattr(raw, "url", None),
        )
    announcement.warnings = warnings
    for warning in warnings:
        log.warning("%s: %s", announcement.identity or "document", warning)
    return announcement


def _extract(raw: RawDocument, warnings: list[str]) -> Announcement:
    """The pipeline proper; may raise on a bug, which `extract` turns into a warning."""
    text = decode_content(raw.content, warnings, limit=TEXT_LIMIT)
    given: dict[str, Any] = dict(raw.metadata) if isinstance(raw.metadata, dict) else {}
    content_type = (raw.content_type or "text/plain").split(";")[0].strip().lower()
    article = main_text(text, raw.url) if raw.whole_page else None
    if article is not None:
        text, content_type, given = article.markdown, "text/markdown", {**article.metadata, **given}
    content_hash = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    text, front = split_front_matter(text, warnings)
    meta = {**front, **given}
    hints: dict[str, str] = {}
    if (content_type == "text/html" and has_tags(text)) or looks_like_html(text):
        converted = html_to_text(text)
        text, hints = converted.text, converted.hints
        warnings.extend(converted.warnings)
        content_type = "text/html"
    given_title = strip_inline(str(meta.get("title") or ""))
    document = clean_markdown(text, plain=content_type == "text/plain", given_title=given_title)
    body = document.body
    if not body.strip() and not document.title:
        warnings.append("no text content")
    title = given_title or document.title or hints.get("title", "") or metadata.first_sentence(document.blocks)
    if not title:
        warnings.append("no title found")
    language = metadata.detect_language(body or title, meta.get("lang") or hints.get("lang"))
    analysed = body
    if len(body) > ANALYSIS_LIMIT:
        analysed = body[:ANALYSIS_LIMIT]
        warnings.append(f"text is {len(body)} characters; quotes and figures read from the first {ANALYSIS_LIMIT}")
    quoted = find_quotes(analysed, warnings, title)
    figures = confidence.score_figures(find_figures(analysed, language, skip=quoted.name_spans))
    return Announcement(
        identity=raw.identity,
        source=raw.source,
        title=title,
        body=body,
        url=raw.url or _str_or_none(meta.get("url")),
        published=metadata.published_date(document.blocks, meta.get("date"), meta.get("published"), hints.get("date")),
        language=language,
        lede=strip_inline(str(meta.get("summary") or "")) or metadata.lede(document.blocks),
        tags=metadata.programme_tags(quoted.names, meta.get("tags")),
        acronyms=document.acronyms,
        quotes=quoted.quotes,
        figures=figures,
        key_quote=rank.key_quote(quoted.quotes),
        key_figures=rank.key_figures(figures),
        content_hash=content_hash,
    )


def _str_or_none(value: object) -> str | None:
    """A non-empty string, or None."""
    return str(value) if isinstance(value, str) and value.strip() else None
