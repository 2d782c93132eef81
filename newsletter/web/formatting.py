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


def local_time(moment: datetime, tz: ZoneInfo) -> str:
    """The time of day of `moment` in `tz` (e.g. `09:30`)."""
    return moment.astimezone(tz).strftime("%H:%M")


def day_label(day: date, lang: str = "fr") -> str:
    """A calendar day heading for `lang` (e.g. `lundi 24 mars`)."""
    return format_date(day, "EEEE d MMMM", locale=lang)


def month_label(day: date, lang: str = "fr") -> str:
    """A month written for `lang` (e.g. `mars 2025`)."""
    return format_date(day, "LLLL y", locale=lang)


FILTERS: dict[str, Any] = {"local_datetime": local_datetime, "local_date": local_date, "local_time": local_time,
                           "day_label": day_label, "month_label": month_label}
