"""Dates written in French or English text, and date values given by metadata."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from email.utils import parsedate_to_datetime
from typing import Any

MONTHS = {
    "janvier": 1, "janv": 1, "février": 2, "fevrier": 2, "févr": 2, "fevr": 2, "mars": 3,
    "avril": 4, "avr": 4, "mai": 5, "juin": 6, "juillet": 7, "juil": 7, "août": 8, "aout": 8,
    "septembre": 9, "sept": 9, "octobre": 10, "oct": 10, "novembre": 11, "nov": 11,
    "décembre": 12, "decembre": 12, "déc": 12, "dec": 12,
    "january": 1, "jan": 1, "february": 2, "feb": 2, "march": 3, "mar": 3, "april": 4,
    "apr": 4, "may": 5, "june": 6, "jun": 6, "july": 7, "jul": 7, "august": 8, "aug": 8,
    "september": 9, "sep": 9, "october": 10, "november": 11, "december": 12,
}  # fmt: skip
_MONTH = "|".join(sorted(MONTHS, key=len, reverse=True))
_DAY = r"(?P<day>[0-3]?\d)(?:er|re|st|nd|rd|th)?"
_YEAR = r"(?P<year>(?:19|20)\d\d)"
_SPACE = r"[\s\u00a0\u202f]+"
DATE_PATTERN = re.compile(
    rf"(?<![\w])(?:"
    rf"{_DAY}{_SPACE}(?P<month>{_MONTH})\.?(?:,?{_SPACE}{_YEAR})?"
    rf"|(?P<month2>{_MONTH})\.?{_SPACE}(?P<day2>[0-3]?\d)(?:st|nd|rd|th)?(?:,?{_SPACE}(?P<year2>(?:19|20)\d\d))?"
    rf"|(?P<iy>(?:19|20)\d\d)-(?P<im>[01]\d)-(?P<id>[0-3]\d)"
    rf"|(?P<nd>[0-3]?\d)[/.](?P<nm>[01]?\d)[/.](?P<ny>(?:19|20)\d\d)"
    rf"|(?P<month3>{_MONTH}){_SPACE}(?P<year3>(?:19|20)\d\d)"
    rf")(?![\w])",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class DateMention:
    """A date written in the text; `value` is None when it has no year."""

    start: int
    end: int
    value: date | None


_MONTH_BEFORE = re.compile(rf"(?<![\w])(?:{_MONTH})\.?,?[\s\u00a0\u202f]+$", re.IGNORECASE)
_DIGIT_RUN = re.compile(r"\d{1,4}")
_DATE_SEPARATORS = frozenset("/.-")
_WORD_AFTER = re.compile(r"(?:er|re|st|nd|rd|th)?[\s\u00a0\u202f]+([^\W\d_]+)", re.IGNORECASE)


def find_dates(text: str) -> list[DateMention]:
    """Every date-like expression in the text (with or without a year), in order.

    Every date has digits, so the full pattern is only tried at digit runs and at a month name
    written just before one; this keeps long texts fast.
    """
    found: list[DateMention] = []
    covered = 0
    for run in _DIGIT_RUN.finditer(text):
        if run.start() < covered:
            continue
        month_before = text[run.start() - 1 : run.start()].isspace() and _word_before(text, run.start()) in MONTHS
        if not month_before and not _may_start_date(text, run.end()):
            continue
        month = _MONTH_BEFORE.search(text, max(0, run.start() - 14), run.start()) if month_before else None
        for start in (month.start() if month else None, run.start()):
            match = DATE_PATTERN.match(text, start) if start is not None else None
            if match:
                found.append(DateMention(match.start(), match.end(), _to_date(match)))
                covered = match.end()
                break
    return found


def _word_before(text: str, pos: int) -> str:
    """The word just before `pos` (past spaces, a comma or a full stop), lowercased."""
    words = text[max(0, pos - 14) : pos].rstrip(" \t\n\u00a0\u202f,").rstrip(".").split()
    return words[-1].lower() if words else ""


def _may_start_date(text: str, end: int) -> bool:
    """Whether the digits ending at `end` can open a date: a separator (`12/05`, `2025-05`) or a month name next."""
    if text[end : end + 1] in _DATE_SEPARATORS:
        return True
    word = _WORD_AFTER.match(text, end)
    return word is not None and word.group(1).lower() in MONTHS


def _to_date(match: re.Match[str]) -> date | None:
    """The calendar date a match denotes, if it is complete and valid."""
    groups = match.groupdict()
    try:
        if groups["month"] and groups["year"]:
            return date(int(groups["year"]), MONTHS[groups["month"].lower()], int(groups["day"]))
        if groups["month2"] and groups["year2"]:
            return date(int(groups["year2"]), MONTHS[groups["month2"].lower()], int(groups["day2"]))
        if groups["iy"]:
            return date(int(groups["iy"]), int(groups["im"]), int(groups["id"]))
        if groups["ny"]:
            return date(int(groups["ny"]), int(groups["nm"]), int(groups["nd"]))
    except (ValueError, KeyError):
        return None
    return None


def parse_date_value(value: Any) -> date | None:
    """A date from metadata: date, datetime, ISO string, RFC 2822 string or written date."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).date()
    except ValueError:
        pass
    try:
        return parsedate_to_datetime(text).date()
    except (TypeError, ValueError, IndexError):
        pass
    for mention in find_dates(text):
        if mention.value is not None:
            return mention.value
    return _parse_with_dateparser(text)


def _parse_with_dateparser(text: str) -> date | None:
    """Last resort for unusual formats (slow: only for a single metadata value)."""
    import dateparser

    try:
        parsed = dateparser.parse(text[:100], languages=["fr", "en"])
    except Exception:
        return None
    return parsed.date() if parsed else None
