"""Document-level facts: language, publication date, lede and programme tags."""

from __future__ import annotations

import re
from datetime import date
from functools import lru_cache

from newsletter.extract.clean import Block
from newsletter.extract.dates import find_dates, parse_date_value
from newsletter.extract.text import words

_WORD = re.compile(r"[a-zà-ÿ']+")
_FRENCH = words(
    """
    le la les des du de et est une un pour dans que qui sur au aux avec par ses ces ont été
    sont nous cette leur plus d l à en
    """
)
_ENGLISH = words(
    """
    the and of to is in for that with on are was by this from has have will be it its their
    an at as which
    """
)
_BYLINE = re.compile(
    r"^(?:par\b|by\b|publié|published|posted|mis à jour|updated|le\s+\d|paris,|london,|\w+,\s+le\s+\d)",
    re.IGNORECASE,
)
_LANGUAGE_SAMPLE = 3_000
_DATE_BLOCKS = 60


def detect_language(text: str, hint: object = None) -> str:
    """`fr` or `en`: the metadata hint if usable, else a stop-word vote (fast, no model)."""
    if isinstance(hint, str) and hint.strip():
        return hint.strip().lower().replace("_", "-").split("-")[0]
    words = _WORD.findall(text[:_LANGUAGE_SAMPLE].lower())
    french = sum(map(_FRENCH.__contains__, words))
    english = sum(map(_ENGLISH.__contains__, words))
    return "en" if english > french else "fr"


def published_date(blocks: list[Block], *hints: object) -> date | None:
    """The first usable metadata date, else a byline date, else the first full date in the text."""
    for hint in hints:
        parsed = parse_date_value(hint)
        if parsed is not None:
            return parsed
    first: date | None = None
    for index, block in enumerate(blocks[:_DATE_BLOCKS]):
        if first is not None and index >= 6:
            break
        for mention in find_dates(block.text[:2000]):
            if mention.value is None:
                continue
            if index < 6 and _is_byline(block.text):
                return mention.value
            first = first or mention.value
    return first


@lru_cache(maxsize=256)
def _is_byline(text: str) -> bool:
    """A short block that only dates or signs the announcement."""
    return len(text.split()) <= 14 and bool(_BYLINE.match(text) or find_dates(text))


def lede(blocks: list[Block]) -> str:
    """The first real paragraph: not a heading, not a byline, at least a sentence long."""
    for block in blocks:
        if block.heading or _is_byline(block.text):
            continue
        if len(block.text.split()) >= 8:
            return block.text
    return ""


def first_sentence(blocks: list[Block], limit: int = 160) -> str:
    """The first sentence of the first block, cut at a word before `limit` characters: a title
    for a document that has none."""
    if not blocks:
        return ""
    sentence = _SENTENCE.split(blocks[0].text, maxsplit=1)[0].strip()
    if len(sentence) <= limit:
        return sentence.rstrip(".")
    return sentence[:limit].rsplit(" ", 1)[0] + " …"


_SENTENCE = re.compile(r"(?<=[.!?…])\s+")


def programme_tags(names: list[str], given: object = None) -> list[str]:
    """Metadata tags if given, else the quoted programme names, once each, in order."""
    if isinstance(given, str):
        given = [part.strip() for part in given.split(",")]
    if isinstance(given, list | tuple) and given:
        return [str(tag).strip() for tag in given if str(tag).strip()]
    seen: set[str] = set()
    tags = []
    for name in names:
        key = name.casefold()
        if key not in seen:
            seen.add(key)
            tags.append(name)
    return tags
