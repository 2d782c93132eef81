"""Quotation finding and attribution on short French and English passages."""

from __future__ import annotations

import pytest

from newsletter.extract.quotes import find_quotes


def quotes(text: str) -> list[tuple[str, str | None, str | None]]:
    return [(q.text, q.speaker, q.role) for q in find_quotes(text, []).quotes]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Pour Marie Lenoir, ministre des Sports, de la Jeunesse et de la Vie associative : « Nous tenons parole. »",
            [("Nous tenons parole.", "Marie Lenoir", "ministre des Sports, de la Jeunesse et de la Vie associative")],
        ),
        (
            "Jean Moreau, préfet de la région Bretagne, a déclaré : « Le dispositif fonctionne très bien. »",
            [("Le dispositif fonctionne très bien.", "Jean Moreau", "préfet de la région Bretagne")],
        ),
        (
            "« Nous irons plus loin dès cette année », a déclaré Sophie Arnaud, présidente de la région.",
            [("Nous irons plus loin dès cette année", "Sophie Arnaud", "présidente de la région")],
        ),
        (
            "Ruth Owens said: “The results speak for themselves and we will keep going.”",
            [("The results speak for themselves and we will keep going.", "Ruth Owens", None)],
        ),
        (
            "“We are proud of this work,” said Tom Baker, Chief Executive of the Trust.",
            [("We are proud of this work", "Tom Baker", "Chief Executive of the Trust")],
        ),
        (
            "Le directeur, Luc Perrin, se félicite d'une « coopération exemplaire » entre les acteurs.",
            [("coopération exemplaire", "Luc Perrin", "directeur")],
        ),
        (
            "L'importance d'un « accompagnement durable » est soulignée par Anne Roux, vice-présidente du réseau.",
            [("accompagnement durable", "Anne Roux", "vice-présidente du réseau")],
        ),
    ],
)
def test_attribution_patterns(text, expected):
    assert quotes(text) == expected


def test_document_attribution_gives_no_speaker():
    text = "La clé : « 80 % des agences sont signataires de la charte », souligne le communiqué."
    assert quotes(text) == [("80 % des agences sont signataires de la charte", None, None)]


def test_pronoun_and_role_reference_resolve_to_person_named_before():
    text = (
        "Claire Dubois, ministre du Logement, était à Nantes.\n\n"
        "« Ce chantier est une priorité pour nous tous », a-t-elle affirmé.\n\n"
        "« Nous tiendrons les délais annoncés », a ajouté la ministre."
    )
    found = quotes(text)
    assert [speaker for _, speaker, _ in found] == ["Claire Dubois", "Claire Dubois"]
    assert found[0][2] == "ministre du Logement"


def test_programme_names_and_titles_are_not_quotes():
    text = (
        "Le ministère lance le dispositif « Cap Emploi Jeunes » et l'événement « Les journées de l'orientation ». "
        "La chaîne « ORIENT-TV » diffusera le programme. The “Skills for Life” campaign starts today."
    )
    found = find_quotes(text, [])
    assert found.quotes == []
    assert found.names == ["Cap Emploi Jeunes", "Les journées de l'orientation", "ORIENT-TV", "Skills for Life"]


def test_multi_paragraph_and_nested_quotes():
    text = (
        "Paul Lemaire, président de l'association, a déclaré : « Nous avons beaucoup appris cette année.\n\n"
        "« Les « ateliers du samedi » ont trouvé leur public et nous continuerons. »"
    )
    found = quotes(text)
    assert len(found) == 1
    quote, speaker, role = found[0]
    assert quote.startswith("Nous avons beaucoup appris") and quote.endswith("nous continuerons.")
    assert "« ateliers du samedi »" in quote
    assert (speaker, role) == ("Paul Lemaire", "président de l'association")


def test_english_quote_continued_by_same_speaker():
    text = "“We listened to employers,” she said. “This plan answers them.”"
    text = "Maria Lopez, Director of Skills, opened the event. " + text
    assert [speaker for _, speaker, _ in quotes(text)] == ["Maria Lopez", "Maria Lopez"]


def test_unattributed_scare_quotes_are_ignored_and_unbalanced_marks_warn():
    warnings: list[str] = []
    found = find_quotes("Ce « petit » plan a un effet « boule de neige ». Puis « rien", warnings)
    assert found.quotes == []
    assert warnings and "unbalanced" in warnings[0]


def speakers(text: str) -> list[tuple[str, str | None]]:
    return [(q.text, q.speaker) for q in find_quotes(text, []).quotes]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (  # a surname alone names a speaker already named in full
            "Paul Girard, maire de Lens, ouvre le site. Girard a ajouté que ce serait « un lieu pour tous ».",
            [("un lieu pour tous", "Paul Girard")],
        ),
        (
            'Helen Ward, the council leader, opened the centre. Ms Ward said: "It is a great day for the town."',
            [("It is a great day for the town.", "Helen Ward")],
        ),
        (  # several titles and a multi-word role before the name
            'Deputy First Minister Alan McLeod said: "We will keep every promise we made to the islands."',
            [("We will keep every promise we made to the islands.", "Alan McLeod")],
        ),
        (
            'According to Professor Sir John Hale, chief adviser, "the evidence is now clear".',
            [("the evidence is now clear", "John Hale")],
        ),
        (  # names inside the speaker's role are not the speaker
            'Commissioner Eva Lind, in charge of Trade and Economic Security, said: "Our markets stay open to all."',
            [("Our markets stay open to all.", "Eva Lind")],
        ),
        (  # an attribution inside the quote
            "Anne Roux, présidente du Département, lance le plan. "
            "« C'est un tournant, ajoute-t-elle. Il était attendu. »",
            [("C'est un tournant, ajoute-t-elle. Il était attendu.", "Anne Roux")],
        ),
        (  # two quotes sharing one subject
            "Luc Perrin, ministre de l'Industrie, estime que « la filière est prête » "
            "et salue une « mobilisation forte ».",
            [("la filière est prête", "Luc Perrin"), ("mobilisation forte", "Luc Perrin")],
        ),
        (  # an organisation or a source introduced by `selon` gives no speaker
            "Selon l'agence, « les premiers retours sont bons » dans les territoires.",
            [("les premiers retours sont bons", None)],
        ),
        (
            "The British Medical Association said the offer was “a step in the right direction”.",
            [("a step in the right direction", None)],
        ),
        (
            '"We welcome the decision," said the Federation of Small Businesses.',
            [("We welcome the decision", None)],
        ),
        (  # a statement introduced by a paragraph ending with a colon
            "The Home Secretary, Mark Lowe, has made the following statement:\n\n"
            '"My thoughts are with everyone affected today."',
            [("My thoughts are with everyone affected today.", "Mark Lowe")],
        ),
        (  # particles in names
            'President Karl von der Berg said: "Europe must act now and act together."',
            [("Europe must act now and act together.", "Karl von der Berg")],
        ),
    ],
)
def test_general_attribution_patterns(text: str, expected: list[tuple[str, str | None]]) -> None:
    assert speakers(text) == expected


def test_role_reference_resolves_to_the_speaker_not_an_organisation() -> None:
    text = (
        "« Nos élèves méritent mieux », a déclaré Claire Ody, présidente de la Région Grand Est.\n\n"
        "La présidente a rappelé que « la Région investit chaque année davantage »."
    )
    assert [q.speaker for q in find_quotes(text, []).quotes] == ["Claire Ody", "Claire Ody"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "« Rien n'est encore gagné, a admis Paul Girard. Nous devons tenir la distance. »",
            [("Rien n'est encore gagné, a admis Paul Girard. Nous devons tenir la distance.", "Paul Girard")],
        ),
        (
            "« Il reste du travail, a reconnu Anne Morel. Les équipes sont prêtes. »",
            [("Il reste du travail, a reconnu Anne Morel. Les équipes sont prêtes.", "Anne Morel")],
        ),
        (
            "Comme le disait Louise Michel, « l'avenir se construit ensemble ».",
            [("l'avenir se construit ensemble", "Louise Michel")],
        ),
        (
            "Léa Fontaine a présenté le texte. Selon elle, « chaque commune y gagnera ».",
            [("chaque commune y gagnera", "Léa Fontaine")],
        ),
        (
            "Yves Le Bihan, maire de Quimper, a déclaré : « Le port sera rénové cet hiver. »",
            [("Le port sera rénové cet hiver.", "Yves Le Bihan")],
        ),
        (
            "Citation :\n\n« Nos agents tiennent le service à bout de bras depuis des mois. »\n\n"
            "Sylvie Gagnon, ministre des Transports",
            [("Nos agents tiennent le service à bout de bras depuis des mois.", "Sylvie Gagnon")],
        ),
        (
            "“Rural clinics will finally get the staff they need.” – The Honourable Mark Ellis, Minister of Health",
            [("Rural clinics will finally get the staff they need.", "Mark Ellis")],
        ),
        (
            '"This ruling protects every worker," Deputy Administrator Nina Brooks told reporters.',
            [("This ruling protects every worker", "Nina Brooks")],
        ),
        (
            "The Hon. Grace Kelly MP\n\nMinister for Roads\n\nGrace Kelly said the bridge would open soon.\n\n"
            '"The bridge opens in spring," Minister Kelly said.',
            [("The bridge opens in spring", "Grace Kelly")],
        ),
        (
            "The Minister for Energy, Ciara Nolan TD, spoke today. “Homes will be warmer,” Ms Nolan said.",
            [("Homes will be warmer", "Ciara Nolan")],
        ),
        (
            "Un bénévole nous l'a confié : « on tient le coup ».",
            [("on tient le coup", None)],
        ),
    ],
)
def test_attribution_in_incises_signatures_and_titles(text: str, expected: list[tuple[str, str | None]]) -> None:
    assert [(q.text, q.speaker) for q in find_quotes(text, []).quotes] == expected


def test_a_signature_line_does_not_capture_a_following_sentence() -> None:
    text = "« Nous serons au rendez-vous de la rentrée prochaine. »\n\nMarc Petit a ensuite visité le chantier."
    assert [(q.text, q.speaker) for q in find_quotes(text, []).quotes] == [
        ("Nous serons au rendez-vous de la rentrée prochaine.", None)
    ]


@pytest.mark.parametrize(
    "text",
    [
        "Selon le rapport, « les trajets de moins de 5 km représentent 60 % des déplacements ».",
        "Selon le rapport : « les trajets courts dominent encore ».",
        "Le rapport, « la demande de formation augmente dans toutes les régions ».",
    ],
)
def test_clause_set_off_after_a_document_is_a_quote_without_speaker(text):
    found = find_quotes(text, [])
    assert [(q.speaker, q.role) for q in found.quotes] == [(None, None)]
    assert found.names == [] and found.name_spans == []


def test_name_after_a_naming_word_is_still_a_name():
    found = find_quotes("Le programme, « 1 jeune 1 solution », continue. Le rapport « Mobilités 2030 » sort.", [])
    assert found.quotes == [] and found.names == ["1 jeune 1 solution", "Mobilités 2030"]
