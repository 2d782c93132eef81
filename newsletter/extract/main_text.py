"""The main text of a whole web page (trafilatura): the article without navigation or footer.

Sources hand over fetched pages as they are (`RawDocument.whole_page`); this is the one place
that finds their article text, title, date and language.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date
from typing import Any

logging.getLogger("trafilatura").setLevel(logging.ERROR)


@dataclass(frozen=True)
class MainText:
    """A page's article as Markdown (starting with its title as a heading) and what the page
    says about it (title, date, lang)."""

    markdown: str
    metadata: dict[str, Any] = field(default_factory=dict)


def main_text(html: str, url: str | None) -> MainText | None:
    """The article of a whole page, or None when trafilatura finds no main text."""
    import trafilatura  # heavy: only documents that are whole pages need it

    found = trafilatura.bare_extraction(
        html, url=url, with_metadata=True, include_formatting=True, output_format="python"
    )
    if found is None or not (found.text or "").strip():
        return None
    metadata: dict[str, Any] = {}
    if found.title:
        metadata["title"] = found.title
    page_date = _parse_date(found.date)
    if page_date:
        metadata["date"] = page_date
    if found.language:
        metadata["lang"] = found.language
    return MainText(_with_title(found.title, found.text), metadata)


def _with_title(title: str | None, text: str) -> str:
    """The main text, starting with its title as a heading unless it already does."""
    if title and title.strip() not in text.lstrip().splitlines()[0]:
        return f"# {title.strip()}\n\n{text}"
    return text


def _parse_date(value: str | None) -> date | None:
    """The ISO date at the start of `value`, if any."""
    try:
        return date.fromisoformat(value[:10]) if value else None
    except ValueError:
        return None
