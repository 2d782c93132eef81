"""Template filters: dates in the config's timezone and locale."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime


def local_datetime(moment: datetime | None, tz: ZoneInfo, lang: str = "fr") -> str:
    """`moment` in `tz`, written for `lang` (e.g. `24 mars 2025 à 10:00`); empty for None."""
    if moment is None:
        return ""
    return format_datetime(moment.astimezone(tz), "d MMM y HH:mm", locale=lang)


def local_date(day: date | datetime | None, lang: str = "fr") -> str:
    """A day written for `lang` (e.g. `24 mars 2025`)."""
    if day is None:
        return ""
    return format_date(day, "long", locale=lang)


FILTERS: dict[str, Any] = {"local_datetime": local_datetime, "local_date": local_date}
