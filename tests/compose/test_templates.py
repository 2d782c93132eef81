"""Locale-aware filters and the template environment (override folder, escaping rules)."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest
from jinja2 import UndefinedError

from newsletter.compose.templates import (
    NARROW_NBSP,
    NBSP,
    build_environment,
    format_day,
    format_large_number,
    format_number,
    format_percentage,
    french_spacing,
    wrap_text,
)


def test_dates_are_written_out_in_the_locale() -> None:
    assert format_day(date(2025, 3, 24), "fr") == "24 mars 2025"
    assert format_day(datetime(2025, 3, 24, 10, 0), "en") == "March 24, 2025"
    assert format_day("2025-03-24", "fr") == "24 mars 2025"
    assert format_day(None) == ""


def test_numbers_use_a_narrow_no_break_space_in_french() -> None:
    assert format_number(900000, "fr") == f"900{NARROW_NBSP}000"
    assert format_number(900000, "en") == "900,000"
    assert format_number(2.5, "fr") == "2,5"


def test_percentages_follow_the_locale() -> None:
    assert format_percentage(7.4, "fr") == f"7,4{NBSP}%"
    assert format_percentage(7.4, "en") == "7.4%"
    assert format_percentage(12, "fr") == f"12{NBSP}%"


def test_large_numbers_are_shortened_with_words_and_agreement() -> None:
    assert format_large_number(900000, "fr") == f"900{NARROW_NBSP}000"
    assert format_large_number(1_000_000, "fr") == "1 million"
    assert format_large_number(1_200_000, "fr") == "1,2 million"
    assert format_large_number(2_500_000_000, "fr") == "2,5 milliards"
    assert format_large_number(2_500_000_000, "en") == "2.5 billion"


def test_french_spacing_spaces_punctuation_but_not_links_or_times() -> None:
    assert french_spacing("Apprentissage: un record!") == f"Apprentissage{NBSP}: un record{NARROW_NBSP}!"
    assert french_spacing("«Agir»") == f"«{NBSP}Agir{NBSP}»"
    assert french_spacing("Voir https://example.org/a à 14:30") == "Voir https://example.org/a à 14:30"
    assert french_spacing(f"Déjà{NBSP}: fait") == f"Déjà{NBSP}: fait"


def test_wrap_keeps_links_whole() -> None:
    url = "https://example.org/" + "x" * 90
    wrapped = wrap_text(f"Un texte assez long pour être coupé en plusieurs lignes avant le lien {url} fin.")
    assert url in wrapped.splitlines()
    assert all(len(line) <= 72 for line in wrapped.splitlines() if url not in line)


def test_override_folder_wins_and_defaults_fill_the_rest(tmp_path: Path) -> None:
    (tmp_path / "email").mkdir()
    (tmp_path / "email" / "digest.txt.j2").write_text("own {{ value }}")
    environment = build_environment(tmp_path, "fr")
    assert environment.get_template("email/digest.txt.j2").render(value="x") == "own x"
    default_source, _, _ = environment.loader.get_source(environment, "email/digest.mjml.j2")
    assert "<mjml" in default_source

def test_markup_templates_escape_text_templates_and_subjects_do_not(tmp_path: Path) -> None:
    (tmp_path / "page.mjml.j2").write_text("{{ value }}")
    (tmp_path / "page.txt.j2").write_text("{{ value }}")
    environment = build_environment(tmp_path, "fr")
    value = "L'emploi <b> & co"
    assert environment.get_template("page.mjml.j2").render(value=value) == "L&#39;emploi &lt;b&gt; &amp; co"
    assert environment.get_template("page.txt.j2").render(value=value) == value
    assert environment.from_string("{{ value }}").render(value=value) == value


def test_a_missing_variable_is_an_error_not_an_empty_string(tmp_path: Path) -> None:
    environment = build_environment(tmp_path, "en")
    with pytest.raises(UndefinedError):
        environment.from_string("{{ missing }}").render()
    with pytest.raises(UndefinedError):
        environment.from_string("{{ missing | typo }}").render()


@pytest.mark.parametrize(
    ("value", "locale", "written"),
    [
        (date(2026, 12, 1), "fr", "1er décembre 2026"),
        (date(2026, 12, 2), "fr", "2 décembre 2026"),
        (date(2026, 12, 1), "en", "December 1, 2026"),
    ],
)
def test_the_first_of_the_month_is_an_ordinal_in_french(value: date, locale: str, written: str) -> None:
    assert format_day(value, locale) == written


@pytest.mark.parametrize(
    ("count", "locale", "subject"),
    [
        (1, "fr", "Ministère : 1 nouvelle annonce"),
        (3, "fr", "Ministère : 3 nouvelles annonces"),
        (0, "fr", "Ministère : 0 nouvelle annonce"),  # French takes the singular for 0
        (1500, "fr", "Ministère : 1\u202f500 nouvelles annonces"),
        (1, "en", "Ministère : 1 new announcement"),
        (0, "en", "Ministère : 0 new announcements"),
    ],
)
def test_a_subject_template_agrees_the_noun_with_the_count(count: int, locale: str, subject: str) -> None:
    environment = build_environment(None, locale)
    french = ("nouvelle annonce", "nouvelles annonces")
    one, other = french if locale == "fr" else ("new announcement", "new announcements")
    template = environment.from_string("Ministère : {{ count | plural(one, other) }}")
    assert template.render(count=count, one=one, other=other) == subject
