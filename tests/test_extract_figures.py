"""Figures: normalised values, units, kinds, qualifiers, and what is not a figure."""

from __future__ import annotations

import pytest

from newsletter.extract.figures import find_figures


def only(text: str, language: str = "fr"):
    figures = find_figures(text, language)
    assert len(figures) == 1, figures
    return figures[0]


@pytest.mark.parametrize(
    ("text", "language", "raw", "value", "unit", "kind", "qualifier"),
    [
        ("Il y a près de 900 000 nouveaux contrats.", "fr", "900 000", 900000, None, "count", "près de"),
        ("Il y a près de 900\u202f000 nouveaux contrats.", "fr", "900\u202f000", 900000, None, "count", "près de"),
        ("Soit 7,4% des jeunes.", "fr", "7,4%", 7.4, "percent", "percent", None),
        ("Soit 7,4\u00a0% des jeunes.", "fr", "7,4\u00a0%", 7.4, "percent", "percent", None),
        ("Elle compte 4 millions de visiteurs.", "fr", "4 millions", 4e6, None, "count", None),
        ("En dépassant le million d'apprentis.", "fr", "million", 1e6, None, "count", None),
        ("A £2.5 billion fund opens.", "en", "£2.5 billion", 2.5e9, "GBP", "money", None),
        ("Un budget de 12 millions d'euros.", "fr", "12 millions d'euros", 12e6, "EUR", "money", None),
        ("Reconduit pour trois ans.", "fr", "trois ans", 3, "years", "duration", None),
        ("Dix ans après sa création.", "fr", "Dix ans", 10, "years", "duration", None),
        ("It helped more than 1,200 families.", "en", "1,200", 1200, None, "count", "more than"),
        ("Twenty-five schools joined.", "en", "Twenty-five", 25, None, "count", None),
    ],
)
def test_normalisation(text, language, raw, value, unit, kind, qualifier):
    figure = only(text, language)
    assert (figure.raw, figure.value, figure.unit, figure.kind, figure.qualifier) == (
        raw, pytest.approx(value), unit, kind, qualifier,
    )  # fmt: skip
    assert figure.sentence == " ".join(text.split())


def test_ranges_and_about():
    figure = only("Entre 15 et 20 % des entreprises du secteur.")
    assert (figure.value, figure.value_max, figure.unit, figure.about) == (15, 20, "percent", "entreprises")
    figure = only("Elles accueillent de 15 à 20 stagiaires.")
    assert (figure.raw, figure.value, figure.value_max) == ("15 à 20", 15, 20)
    assert only("Près de 360 000 missions d'intérim.").about == "missions d'intérim"


@pytest.mark.parametrize(
    "text",
    [
        "Le 24 février 2025, la démarche initiée en 2014 a été reconduite en 2018 et 2021.",
        "On March 3, 2025 at 10:30, the plan was published.",
        "Appelez le 01 23 45 67 89 ou le +33 1 23 45 67 89.",
        "La plateforme 1 jeune 1 solution et le site 1jeune1solution, avec France 2030.",
        "Elle est destinée aux 15/30 ans, selon l'article 12 de la loi n° 2024-15.",
        "Contact : presse2025@exemple.fr ou https://exemple.fr/2025/03.",
    ],
)
def test_not_figures(text):
    assert find_figures(text, "fr") == []
