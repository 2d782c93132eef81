"""Speakers across sentences and paragraphs, as a reader would name them."""

from __future__ import annotations

import pytest

from newsletter.core.models import RawDocument
from newsletter.extract import extract
from newsletter.extract.quotes import find_quotes
from newsletter.extract.speakers import fold


def said(text: str, title: str = "") -> list[tuple[str | None, str]]:
    return [(q.speaker, q.text.split()[0]) for q in find_quotes(text, [], title).quotes]


def test_the_interviewee_answers_every_question() -> None:
    text = (
        "Rose Lamarque préside le syndicat des eaux depuis 2021.\n\n"
        "**Pourquoi augmenter le prix ?**\n\n"
        "« Parce que les canalisations ont cinquante ans. Il faut les changer. »\n\n"
        "**Et les ménages modestes ?**\n\n"
        "« Un tarif social sera créé dès janvier pour les protéger. »"
    )
    assert said(text, "Trois questions à Rose Lamarque") == [("Rose Lamarque", "Parce"), ("Rose Lamarque", "Un")]


def test_an_interview_in_english_names_its_subject_once() -> None:
    text = (
        "Tom Fairley runs the county's food bank network.\n\n"
        "**How busy are you?**\n\n"
        "“Busier than ever. We feed twice as many families as in 2022.”\n\n"
        "**What would help?**\n\n"
        "“Steady funding, not one-off grants every winter.”"
    )
    assert [s for s, _ in said(text, "Interview with a food bank manager")] == ["Tom Fairley", "Tom Fairley"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "La ministre des Sports, Amélie Castel, a visité le stade. Le directeur du club, Hugo Lenoir, "
            "l'accompagnait.\n\n« Le sport est une école de la vie », a souligné la ministre.",
            "Amélie Castel",
        ),
        (
            "Le délégué à l'emploi, Karim Saïdi, a ouvert le forum avec la rectrice, Anne Roy.\n\n"
            "« Chaque jeune doit repartir avec un contact », a insisté le délégué.",
            "Karim Saïdi",
        ),
        (
            "Le maire, Paul Ribes, a présenté le budget. « Nous n'augmenterons pas les impôts », a-t-il dit. "
            "Il a ajouté : « La dette baissera dès l'an prochain. »",
            "Paul Ribes",
        ),
        (
            "Health Secretary Emma Ward said the money was welcome. Professor Ian Cole agreed. "
            "“It is overdue,” he said.\n\n"
            "Ms Ward visited a clinic on Monday. “Nurses need support, not paperwork,” she said.",
            "Emma Ward",
        ),
        (
            "Minister for Housing Sarah Collins announced the plan with the mayor, Tom Price.\n\n"
            "Speaking in Leeds, the Minister said: “Every family deserves a safe home.”",
            "Sarah Collins",
        ),
    ],
)
def test_back_references_resolve_to_the_last_compatible_person(text: str, expected: str) -> None:
    assert said(text)[-1][0] == expected


def test_she_said_skips_the_man_named_last() -> None:
    text = (
        "Council leader Margaret Osei announced the plan. Its head of parks, David Brennan, said trees "
        "would be chosen by residents. “We want people to feel these trees are theirs,” he said.\n\n"
        "The leader said 30% would go to the poorest areas. “That is where the need is greatest,” she said."
    )
    assert [s for s, _ in said(text)] == ["David Brennan", "Margaret Osei"]


def test_an_attribution_in_the_previous_paragraph() -> None:
    text = (
        "Le président de la région, Marc Lefèvre, s'est rendu dans les communes sinistrées, puis a pris "
        "la parole devant les habitants.\n\n"
        "« La région sera à vos côtés. Aucune famille ne sera laissée seule. »"
    )
    assert said(text) == [("Marc Lefèvre", "La")]


def test_an_attribution_in_the_next_paragraph() -> None:
    text = (
        "“Every day in school counts. Children who miss school fall behind.”\n\n"
        "That was the message from Schools Minister Oliver Grant on Thursday."
    )
    assert said(text) == [("Oliver Grant", "Every")]


def test_a_place_is_never_a_speaker() -> None:
    text = "“It is a good day for both our peoples,” New Zealand's trade minister, Aroha Ngata, said."
    assert said(text) == [("Aroha Ngata", "It")]


def test_a_place_inside_a_quote_is_not_the_pronoun_referent() -> None:
    text = (
        "La porte-parole du ministère, Julie Vasseur, a justifié la décision. « La situation en Europe du "
        "Nord impose une vigilance maximale », a-t-elle indiqué."
    )
    assert said(text) == [("Julie Vasseur", "La")]


def test_accented_and_unaccented_spellings_are_one_person() -> None:
    text = (
        "La ministre de la Culture, Hélène Garnier, a annoncé un fonds.\n\n"
        "« Les festivals font vivre nos territoires », a déclaré Helene Garnier à Avignon."
    )
    assert said(text) == [("Hélène Garnier", "Les")]
    assert fold("Hélène GARNIER") == fold("helene garnier")


def test_a_role_stays_apart_from_the_name() -> None:
    announcement = extract(RawDocument("t", "t", (
        "# Titre\n\n« Le modèle fonctionne, il faut l'étendre », a déclaré Paul Henry, délégué "
        "interministériel à l'industrie."
    ), "text/markdown"))
    [quote] = announcement.quotes
    assert (quote.speaker, quote.role) == ("Paul Henry", "délégué interministériel à l'industrie")


def test_a_quoted_term_is_not_a_quote() -> None:
    text = "Le ministère relève le niveau de risque à « élevé » sur tout le territoire."
    assert said(text) == []


@pytest.mark.parametrize(
    ("text", "speaker", "role"),
    [
        ("Selon la conseillère fédérale Martine Favre, « les proches aidants accomplissent un travail invisible ».",
         "Martine Favre", "conseillère fédérale"),
        ("Pour la ministre Claire Montaubin, « chaque apprenti compte pour nos petites entreprises ».",
         "Claire Montaubin", "ministre"),
    ],
)
def test_a_role_with_its_article_between_selon_and_the_name_keeps_the_speaker(
    text: str, speaker: str, role: str
) -> None:
    [quote] = extract(RawDocument("t", "x", f"Titre\n\n{text}".encode(), "text/plain")).quotes
    assert (quote.speaker, quote.role) == (speaker, role)


def test_a_compound_role_named_before_is_found_again_by_its_head() -> None:
    text = (
        "Titre\n\nLe maire, Paul Girard, a ouvert la séance. La vice-présidente chargée de la culture, Nadia Roche, "
        "a annoncé deux nouvelles salles. « Les chantiers démarrent en mars », a ajouté la vice-présidente."
    )
    [quote] = extract(RawDocument("t", "x", text.encode(), "text/plain")).quotes
    assert (quote.speaker, quote.role) == ("Nadia Roche", "vice-présidente chargée de la culture")
