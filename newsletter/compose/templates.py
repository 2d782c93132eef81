"""The Jinja2 environment shared by digest and post templates, with locale-aware filters.

Templates come from the config's `templates_dir` first, then from the shipped defaults.
Announcement text is passed in as data, escaped by autoescaping, never compiled as a template.
"""

from __future__ import annotations

import re
import textwrap
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache, partial
from pathlib import Path

from babel import Locale
from babel.dates import format_date as babel_format_date
from babel.numbers import format_decimal, format_percent
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined, select_autoescape

PACKAGE_DIR = Path(__file__).resolve().parents[1]
NARROW_NBSP = "\u202f"
NBSP = "\u00a0"
# Punctuation that takes a space before it in French, when it is punctuation (followed by a
# space, the end or more punctuation): so `https://` and `14:30` are left alone.
FRENCH_BEFORE = re.compile(r"(?<=[^\s;:!?])[ \u00a0\u202f]?([;:!?»])(?=\s|$|[;:!?».,)])")
FRENCH_AFTER = re.compile(r"«[ \u00a0\u202f]?(?=\S)")
LARGE_NUMBER_WORDS = {
    "fr": ((1e9, "milliard", "milliards"), (1e6, "million", "millions")),
    "en": ((1e9, "billion", "billion"), (1e6, "million", "million")),
}
TEXT_WIDTH = 72


def default_templates_dir() -> Path:
    """The shipped templates: package data when installed, else the repository's templates/."""
    packaged = PACKAGE_DIR / "_templates"
    return packaged if packaged.is_dir() else PACKAGE_DIR.parent / "templates"


def format_day(value: date | datetime | str | None, locale: str = "fr") -> str:
    """A date written out for readers: `24 mars 2025` / `March 24, 2025`."""
    if value in (None, ""):
        return ""
    if isinstance(value, str):
        value = date.fromisoformat(value[:10])
    if value.day == 1 and locale.split("_")[0] == "fr":
        return babel_format_date(value, format="d'er' MMMM y", locale=locale)  # `1er décembre 2026`
    return babel_format_date(value, format="long", locale=locale)


def format_count(count: int, one: str, other: str, locale: str = "fr") -> str:
    """A count and its noun in the form the locale's plural rule (CLDR, through Babel) picks:
    `1 nouvelle annonce`, `3 nouvelles annonces`, `0 nouvelle annonce` in French, `0 new announcements`."""
    form = one if Locale.parse(locale).plural_form(count) == "one" else other
    return f"{format_number(count, locale)} {form}"


def format_number(value: float | int | None, locale: str = "fr") -> str:
    """A number with the locale's separators (`900 000` with a narrow no-break space in French)."""
    if value is None:
        return ""
    return format_decimal(value, locale=locale, decimal_quantization=False)


def format_large_number(value: float | int | None, locale: str = "fr") -> str:
    """A number short enough to set large: `900 000`, `1,2 million`, `2,5 milliards`."""
    if value is None:
        return ""
    for factor, singular, plural in LARGE_NUMBER_WORDS.get(locale, LARGE_NUMBER_WORDS["en"]):
        if abs(value) >= factor:
            scaled = round(value / factor, 1)
            word = singular if abs(scaled) < 2 else plural
            return f"{format_number(scaled, locale)} {word}"
    return format_number(value, locale)


def format_percentage(value: float | None, locale: str = "fr") -> str:
    """A percentage as the locale writes it: `7,4 %` / `7.4%`."""
    if value is None:
        return ""
    return format_percent(Decimal(str(value)) / 100, locale=locale, decimal_quantization=False)


def french_spacing(text: str) -> str:
    """French typography: a no-break space before : and », a narrow one before ; ! ?, and after «."""
    text = str(text)

    def before(match: re.Match[str]) -> str:
        mark = match.group(1)
        return (NBSP if mark in ":»" else NARROW_NBSP) + mark

    return FRENCH_AFTER.sub("«" + NBSP, FRENCH_BEFORE.sub(before, text))


def wrap_text(text: str, width: int = TEXT_WIDTH) -> str:
    """Plain text wrapped for a text/plain email, never breaking words or links."""
    paragraphs = re.split(r"\n\s*\n", str(text).strip())
    return "\n\n".join(
        textwrap.fill(" ".join(p.split()), width, break_long_words=False, break_on_hyphens=False)
        for p in paragraphs
    )


@lru_cache(maxsize=32)
def build_environment(templates_dir: Path | None, locale: str) -> Environment:
    """A Jinja2 environment over the override folder then the defaults, with our filters.

    Cached per (folder, locale) so templates are parsed once per process; HTML and MJML
    templates are autoescaped, text templates and subject strings are not.
    """
    folders = [str(templates_dir)] if templates_dir else []
    folders.append(str(default_templates_dir()))
    environment = Environment(
        loader=ChoiceLoader([FileSystemLoader(folder) for folder in folders]),
        autoescape=select_autoescape(
            enabled_extensions=("mjml.j2", "html.j2", "html", "mjml"), default_for_string=False
        ),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.filters.update(
        day=partial(format_day, locale=locale),
        number=partial(format_number, locale=locale),
        plural=partial(format_count, locale=locale),
        large_number=partial(format_large_number, locale=locale),
        percent=partial(format_percentage, locale=locale),
        typo=french_spacing if locale == "fr" else _unchanged,
        wrap=wrap_text,
    )
    return environment


def _unchanged(text: str) -> str:
    """The text as it is (typography filter for locales without special spacing)."""
    return text
