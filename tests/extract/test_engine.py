"""End-to-end extraction on fixture announcements written in the style of real ones."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import pytest

from newsletter.core.models import RawDocument
from newsletter.extract import extract, read_path

FIXTURES = Path(__file__).parents[1] / "fixtures" / "extract"


@pytest.fixture(scope="module")
def fr_release():
    return extract(read_path(str(FIXTURES / "fr_press_release.md")))


@pytest.fixture(scope="module")
def fr_scraped():
    return extract(read_path(str(FIXTURES / "fr_scraped.txt")))


@pytest.fixture(scope="module")
def en_statement():
    return extract(read_path(str(FIXTURES / "en_statement.md")))


@pytest.fixture(scope="module")
def en_html():
    return extract(read_path(str(FIXTURES / "en_release.html")))


def test_french_release_metadata_and_clean_text(fr_release):
    assert fr_release.title == "Forum de l'alternance : les régions se mobilisent pour l'emploi des jeunes"
    assert fr_release.published == date(2025, 5, 12)
    assert fr_release.language == "fr"
    assert fr_release.lede.startswith("Le ministère de l'Éducation nationale")
    assert "**" not in fr_release.body and "##" not in fr_release.body
    assert "presse@exemple.gouv.fr" not in fr_release.body
    assert fr_release.identity == "fr-forum-alternance"
    assert fr_release.acronyms == {"CEI": "Centre d'études sur l'insertion"}


def test_french_release_quotes_with_speaker_and_role(fr_release):
    speakers = [(q.speaker, q.role) for q in fr_release.quotes]
    assert speakers == [
        ("Élise Martin-Roche", "ministre de l'Éducation nationale, de l'Enseignement supérieur et de la Recherche"),
        ("Karim Belkacem", "ministre délégué chargé de l'Emploi"),
    ]
    first, second = fr_release.quotes
    assert first.text.startswith("Cette mobilisation") and first.text.endswith("Continuons ensemble !")
    assert "« forums de l'alternance »" in second.text
    assert fr_release.tags == ["Cap sur l'alternance", "ALTER-TV"]


def test_french_release_figures(fr_release):
    figures = {(f.raw, f.value, f.unit, f.kind) for f in fr_release.figures}
    assert ("3 200", 3200, None, "count") in figures
    assert ("45 %", 45, "percent", "percent") in figures
    assert ("850 000", 850000, None, "count") in figures
    assert ("12,5 %", 12.5, "percent", "percent") in figures
    assert ("4,5 millions d'euros", 4_500_000, "EUR", "money") in figures
    assert ("deux ans", 2, "years", "duration") in figures
    values = [f.value for f in fr_release.figures]
    assert 2025 not in values and 2024 not in values and 12 not in values
    qualifiers = {f.raw: f.qualifier for f in fr_release.figures}
    assert qualifiers["3 200"] == "plus de"


def test_scraped_footnotes_become_glossary(fr_scraped):
    assert "ARML, OPCO" in fr_scraped.body
    assert "[ 1 ]" not in fr_scraped.body and "Notes" not in fr_scraped.body
    assert fr_scraped.acronyms["ARML"] == "Association régionale des Missions locales"
    assert fr_scraped.acronyms["FAS"] == "Fonds d'action sociale"
    assert fr_scraped.published == date(2025, 4, 3)
    assert fr_scraped.title == "Le programme « Avenir Pro » prolongé pour cinq ans"
    assert fr_scraped.lede.startswith("Huit ans après son lancement")


def test_scraped_fragments_and_document_quotes(fr_scraped):
    quotes = [(q.text, q.speaker, q.role) for q in fr_scraped.quotes]
    assert quotes == [
        ("90 % des structures engagées dans un suivi partagé", None, None),
        ("mobilisation exemplaire", "Nadia Ferreira", "directrice régionale de l'économie et de l'emploi"),
        ("dialogue de terrain constant", "Paul Girardin", "président de l'ARML"),
        ("utilité sociale", "Léa Dumont", "déléguée générale de la Fédération des entreprises d'insertion"),
    ]
    assert fr_scraped.tags == ["Avenir Pro"]


def test_scraped_figures(fr_scraped):
    found = [(f.raw, f.value, f.kind, f.qualifier) for f in fr_scraped.figures]
    assert ("Huit ans", 8, "duration", None) in found
    assert ("cinq ans", 5, "duration", None) in found
    assert ("48 000", 48000, "count", "plus de") in found
    assert ("90 %", 90, "percent", None) in found
    assert all(f.value not in {2017, 2020, 2025, 3, 1} for f in fr_scraped.figures)


def test_english_statement(en_statement):
    assert en_statement.language == "en"
    assert en_statement.published == date(2025, 3, 14)
    speakers = [(q.speaker, q.role) for q in en_statement.quotes]
    assert speakers[0] == ("Helen Carter", "Education Secretary")
    assert speakers[1:3] == [("James Whitfield", "Minister for Skills")] * 2
    assert en_statement.quotes[1].text == "We want employers of all sizes to take part"
    assert en_statement.quotes[3].text == "overwhelmingly welcomed"
    assert en_statement.quotes[3].speaker == "James Whitfield"
    money = [f for f in en_statement.figures if f.kind == "money"]
    assert (money[0].raw, money[0].value, money[0].unit) == ("£2.5 billion", 2.5e9, "GBP")
    assert "Skills Bootcamps" in en_statement.tags
    assert all(f.value != 7946 for f in en_statement.figures)


def test_html_release(en_html):
    assert en_html.title == "Green jobs plan creates 12,000 training places"
    assert en_html.published == date(2025, 6, 2)
    assert "Home" not in en_html.body and "Share this page" not in en_html.body
    assert {q.speaker for q in en_html.quotes} == {"Priya Natarajan"}
    assert len(en_html.quotes) == 3
    ranged = [f for f in en_html.figures if f.value_max is not None]
    assert [(f.value, f.value_max, f.unit) for f in ranged] == [(6, 12, "weeks")]
    assert all(f.value not in {10, 1} for f in en_html.figures)


def test_ranking_prefers_full_quotes_and_clear_counts(fr_release, en_statement):
    assert fr_release.key_quote is not None
    assert fr_release.main_quote.speaker in {"Élise Martin-Roche", "Karim Belkacem"}
    assert en_statement.main_quote.text != "overwhelmingly welcomed"
    best = fr_release.main_figures[0]
    assert best.kind in {"count", "percent", "money"} and best.kind != "duration"


def test_metadata_wins_and_hash_is_of_decoded_text():
    text = "# Guessed title\n\nLe 2 janvier 2025, le plan « Horizon » a aidé 5 000 jeunes."
    raw = RawDocument(
        source="feed",
        identity="guid-1",
        content=text.encode("utf-8"),
        content_type="text/markdown",
        url="https://example.org/a",
        metadata={"title": "**Given** title", "published": "2025-02-03T10:00:00+01:00", "lang": "fr", "tags": ["X"]},
    )
    announcement = extract(raw)
    assert announcement.title == "Given title"
    assert announcement.published == date(2025, 2, 3)
    assert announcement.tags == ["X"]
    assert (announcement.identity, announcement.source, announcement.url) == ("guid-1", "feed", "https://example.org/a")
    assert announcement.content_hash == hashlib.sha256(text.encode("utf-8")).hexdigest()


@pytest.mark.parametrize(
    ("payload", "warning"),
    [
        ("# Été\n\nLe programme « Élan » aide 3 000 jeunes.".encode("cp1252"), "Windows-1252"),
        (b"\xef\xbb\xbf# \xc3\x89t\xc3\xa9\n\nTexte.", None),
        ("# Ã‰tÃ©\n\nTexte.".encode(), "mojibake"),
    ],
)
def test_encodings_are_repaired(payload, warning):
    announcement = extract(RawDocument("s", "i", payload, "text/markdown"))
    assert announcement.title in {"Été"}
    if warning:
        assert any(warning in w for w in announcement.warnings)


def test_figures_inside_a_quote_attributed_to_a_document_are_kept():
    text = "# Mobilités\n\nSelon le rapport, « les trajets de moins de 5 km représentent 60 % des déplacements ».\n"
    announcement = extract(RawDocument("s", "i", text.encode("utf-8"), "text/markdown"))
    assert [(q.speaker, q.text[:10]) for q in announcement.quotes] == [(None, "les trajet")]
    assert [figure.raw for figure in announcement.figures] == ["5 km", "60 %"]
