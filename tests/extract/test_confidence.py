"""Scores on quotes and figures, and the announcements a person should check."""

from __future__ import annotations

from newsletter.core.models import Announcement, Figure, Quote, RawDocument
from newsletter.extract import extract

UNSAID = "# Titre\n\n« Personne ne doit rester sans solution cet hiver, quelle que soit sa situation. »"


def announcement_of(text: str) -> Announcement:
    return extract(RawDocument("t", "t", text, "text/markdown"))


def test_a_quote_named_next_to_its_speaker_is_sure_and_a_far_reference_is_not() -> None:
    found = announcement_of(
        "# Titre\n\n« Nous ouvrirons 40 centres », a déclaré Lucie Brun, ministre de la Santé.\n\n"
        "Le plan est financé.\n\nLes centres ouvriront en juin.\n\n« Les délais seront tenus », a-t-elle promis."
    )
    sure, far = found.quotes
    assert (sure.speaker, sure.score) == ("Lucie Brun", 1.0)
    assert far.speaker == "Lucie Brun" and far.score < 1.0


def test_a_quote_nobody_is_said_to_say_needs_a_check() -> None:
    found = announcement_of(UNSAID)
    [quote] = found.quotes
    assert quote.speaker is None and quote.score == 0.5
    assert found.checks == ["ambiguous_speaker"] and found.needs_check


def test_no_quote_and_a_figure_without_a_phrase_are_checks() -> None:
    bare = Announcement("i", "s", "Titre", figures=[Figure("42 000", 42000, score=0.5)], key_figures=[0])
    assert bare.checks == ["no_quote", "figure_without_phrase"]
    sure = Announcement("i", "s", "Titre", quotes=[Quote("Un texte.", "Ana Roy")], key_quote=0,
                        figures=[Figure("42 000", 42000, about="bénéficiaires")], key_figures=[0])
    assert sure.checks == [] and not sure.needs_check


def test_figures_carry_a_score_lower_without_an_about_phrase() -> None:
    found = announcement_of("# Titre\n\nLe dispositif compte 42 000 bénéficiaires. Le total atteint 12 %.")
    assert found.figures and all(f.score == (1.0 if f.about else 0.5) for f in found.figures)


def test_scores_survive_storage_round_trip() -> None:
    found = announcement_of(UNSAID)
    stored = found.extracted()
    assert stored["quotes"][0]["score"] == 0.5
    assert Quote(**stored["quotes"][0]).score == 0.5
