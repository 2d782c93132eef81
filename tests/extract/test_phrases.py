"""Which figure phrases the rules settle alone, and which need the French tagger."""

from __future__ import annotations

import pytest

from newsletter.extract.phrases import figure_phrase, rules_unsure


def unsure(text: str, figure: str) -> bool:
    """Whether the rules' phrase after `figure` in `text` needs the tagger."""
    end = text.index(figure) + len(figure)
    kind = "percent" if figure.endswith("%") else "count"
    phrase = figure_phrase(text, text.index(figure), end, kind, 1e3, "fr")
    return rules_unsure(text, end, phrase)


@pytest.mark.parametrize(
    ("text", "figure"),
    [
        ("Le plan prévoit que 50 000 apprentis supplémentaires de signer un contrat.", "50 000"),  # `signer`
        ("Cette année, 1 200 doses commandées par les hôpitaux sont arrivées.", "1 200"),  # participle + `par`
        ("Au total, 12 % de la population adulte est concernée.", "12 %"),  # `adulte` may be an adjective
        ("Le fonds aide 40 000 jeunes d'être suivis en formation.", "40 000"),  # `être`
    ],
)
def test_a_word_the_tagger_may_read_otherwise_needs_it(text: str, figure: str) -> None:
    assert unsure(text, figure)


@pytest.mark.parametrize(
    ("text", "figure"),
    [
        ("Le salon a accueilli 9 500 visiteurs.", "9 500"),  # the phrase ends at a full stop
        ("Selon l'enquête, 58 % des bénéficiaires occupaient un emploi.", "58 %"),  # a conjugated verb ends it
        ("La région compte 2 300 réservations et 800 émissions en direct.", "2 300"),  # -ions nouns, no verbs
        ("Le programme a suivi 310 000 jeunes depuis son lancement.", "310 000"),  # a function word ends it
    ],
)
def test_a_phrase_the_rules_settle_needs_no_tagger(text: str, figure: str) -> None:
    assert not unsure(text, figure)
