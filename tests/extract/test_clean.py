"""Cleaning: boilerplate such as contact-press sections is dropped from the body."""

from __future__ import annotations

import pytest

from newsletter.extract.clean import clean_markdown

PRESS_SECTION = (
    "# Le plan vélo\n\nLe plan avance bien dans toutes les régions.\n\nContact presse\n\n"
    "Délégation à l'information et à la communication : presse@interieur.gouv.fr\n\n"
    "Service de presse du ministère 01 40 00 00 00\n"
)


@pytest.mark.parametrize("plain", [True, False])
def test_contact_lines_after_a_contact_press_heading_are_dropped(plain):
    body = clean_markdown(PRESS_SECTION, plain=plain).body
    assert "Le plan avance bien" in body
    assert "presse@" not in body and "Délégation" not in body and "01 40" not in body


def test_a_real_heading_after_the_contact_section_comes_back():
    text = PRESS_SECTION + "\n## Calendrier\n\nLes travaux commencent en mai.\n"
    body = clean_markdown(text, plain=False).body
    assert "Calendrier" in body and "Les travaux commencent en mai." in body and "presse@" not in body
