"""The Jinja2 environment shared by digest and post templates, with locale-aware filters.

Templates come from the config's `templates_dir` first, then from the shipped defaults.
Announcement text is passed in as data, escaped by autoescaping, never compiled as a template.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from functools import partial
from pathlib import Path

from babel.dates import format_date as babel_format_date
from babel.numbers import format_decimal, format_percent
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined, select_autoescape

PACKAGE_DIR = Path(__file__).resolve().parents[1]
NARROW_NBSP = "\u202f"
NBSP = "\u00a0"
FRENCH_SPACED = re.compile(r"\s*([;:!?»])|(«)\s*")


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
    return babel_format_date(value, format="long", locale=locale)


def format_number(value: float | int | None, locale: str = "fr") -> str:
    """A number with the locale's separators (`900 000` with a narrow no-break space in French)."""
    if value is None:
        return ""
    return format_decimal(value, locale=locale, decimal_quantization=False)


def format_percentage(value: float | None, locale: str = "fr") -> str:
    """A percentage as the locale writes it: `7,4 %` / `7.4%`."""
    if value is None:
        return ""
    return format_percent(Decimal(str(value)) / 100, locale=locale, decimal_quantization=False)


def french_spacing(text: str) -> str:
    """French typography: a narrow no-break space before ; : ! ? » and after «."""
    def space(match: re.Match[str]) -> str:
        if match.group(1):
            return (NBSP if match.group(1) in ":»" else NARROW_NBSP) + match.group(1)
        return "«" + NBSP

    return FRENCH_SPACED.sub(space, text)


def build_environment(templates_dir: Path | None, locale: str) -> Environment:
    """A Jinja2 environment over the override folder then the defaults, with our filters."""
    folders = [str(templates_dir)] if templates_dir else []
    folders.append(str(default_templates_dir()))
    environment = Environment(
        loader=ChoiceLoader([FileSystemLoader(folder) for folder in folders]),
        autoescape=select_autoescape(enabled_extensions=("mjml.j2", "html.j2", "html", "mjml")),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.filters.update(
        day=partial(format_day, locale=locale),
        number=partial(format_number, locale=locale),
        percent=partial(format_percentage, locale=locale),
        typo=french_spacing if locale == "fr" else (lambda text: text),
    )
    return environment
