"""Figures: normalised values, units, kinds, qualifiers, and what is not a figure."""

from __future__ import annotations

import pytest

from newsletter.extract import figures as figures_module
from newsletter.extract.figures import find_figures
from newsletter.extract.rank import key_figures


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
    expected = (15, 20, "percent", "des entreprises du secteur")
    assert (figure.value, figure.value_max, figure.unit, figure.about) == expected
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


@pytest.mark.parametrize(
    ("text", "language", "value", "kind"),
    [
        ("Aujourd'hui, un jeune sur cinq renonce à un emploi.", "fr", 20, "percent"),
        ("3 Français sur 4 jugent l'accès difficile.", "fr", 75, "percent"),
        ("Around one in four children live in poverty.", "en", 25, "percent"),
        ("Around 1 in 5 adults reported symptoms.", "en", 20, "percent"),
        ("Le chômage progresse de +3,9 % sur le trimestre.", "fr", 3.9, "percent"),
        ("Handover times averaged 51 minutes.", "en", 51, "duration"),
        ("Un dispositif accessible dans les quatre mois.", "fr", 4, "duration"),
        ("The plant adds around 1 gigawatt of capacity.", "en", 1, "other"),
    ],
)
def test_shares_signs_and_units(text: str, language: str, value: float, kind: str) -> None:
    figure = only(text, language)
    assert (figure.value, figure.kind) == (pytest.approx(value), kind)


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Flu cases are four times higher than last year.", "en"),
        ("Le nombre de places a été multiplié par deux fois plus vite.", "fr"),
        ("Le Secours populaire publie la 18e édition de son baromètre.", "fr"),
        ("Vacancies fell for the 24th consecutive period.", "en"),
        ("Please use NHS 111 online for urgent advice.", "en"),
        ("Under Article 107(3)(c) of the Treaty.", "en"),
        ("Selon l'article L. 131-6 du code forestier.", "fr"),
        ("Écrire au 59047 Lille Cedex.", "fr"),
        ("Les chantiers démarrent à Bobigny (93000).", "fr"),
        ("Le 12 août 2024, 18 h 30, à la préfecture.", "fr"),
        ("Spending rose between 2021 and 2024.", "en"),
        ("Appelez le 0 800 06 66 66 (appel gratuit).", "fr"),
    ],
)
def test_labels_codes_and_multipliers_are_not_figures(text: str, language: str) -> None:
    assert find_figures(text, language) == []


def test_digits_inside_a_quoted_name_are_skipped() -> None:
    text = "Le programme « 5 000 terrains de sport » a livré 5 126 équipements."
    start, end = text.index("«"), text.index("»")
    assert [f.value for f in find_figures(text, "fr", skip=[(start, end)])] == [5126]


def test_a_restated_amount_is_kept_once() -> None:
    text = "A €1.2bn scheme was approved. This €1.2 billion scheme will help producers."
    assert [f.value for f in find_figures(text, "en")] == [1.2e9]


@pytest.mark.parametrize(
    ("text", "language", "value", "kind", "qualifier"),
    [
        ("Le taux a reculé de 4,5 points en un an, à 61 %.", "fr", 4.5, "percent", None),
        ("Près de la moitié des communes sont concernées.", "fr", 50, "percent", "près de"),
        ("Around a fifth of pupils walk to school.", "en", 20, "percent", "around"),
        ("Two thirds of the budget goes to roads.", "en", 66.67, "percent", None),
        ("Half of them live alone.", "en", 50, "percent", None),
        ("Septante pour cent des logements sont anciens.", "fr", 70, "percent", None),
        ("Une aide de 800 francs par mois.", "fr", 800, "money", None),
        ("Un plan de 320 M$ pour les hôpitaux.", "fr", 320e6, "money", None),
        ("Grants last for a three-year period.", "en", 3, "duration", None),
    ],
)
def test_points_fractions_and_currencies(
    text: str, language: str, value: float, kind: str, qualifier: str | None
) -> None:
    figure = next(f for f in find_figures(text, language) if f.kind == kind)
    assert (round(figure.value, 2), figure.qualifier) == (value, qualifier)


def test_points_outside_a_rate_are_counts() -> None:
    figure = only("L'association gère 2 400 points d'accueil.")
    assert (figure.value, figure.kind) == (2400, "count")


def test_a_range_of_millions_in_francs_scales_both_ends() -> None:
    figure = only("Le coût est estimé entre 18 et 22 millions de francs par an.")
    assert (figure.value, figure.value_max, figure.unit, figure.kind) == (18e6, 22e6, "CHF", "money")


def test_a_percent_then_an_amount_is_not_a_range() -> None:
    figures = find_figures("Average hourly earnings rose by 0.3 percent to $35.93.", "en")
    assert [(f.value, f.value_max, f.kind) for f in figures] == [(0.3, None, "percent"), (35.93, None, "money")]


def test_table_rows_keep_their_counts() -> None:
    from newsletter.extract.clean import clean_markdown

    table = "| Région | Inscrits |\n|---|---|\n| Nord | 141 200 |\n| Somme | 31 900 |\n"
    body = clean_markdown(table, plain=False).body
    assert [f.value for f in find_figures(body, "fr")] == [141200, 31900]


@pytest.mark.parametrize(
    "text",
    [
        "Contact : 126 rue de la Paix, 75002 Paris.",
        "Adresse : Effingerstrasse 20, 3003 Berne.",
        "Voir l'annexe 2 et la note 3.",
        "See Appendix 4 and footnote 3.",
        "Pursuant to 29 U.S.C. 201, the rule applies.",
        "Les prélèvements sont interdits de 8 heures à 20 heures.",
        "Numéro d'urgence : 15 ou 112.",
        "Pour un conseil, appelez le 116 117.",
        "Renseignements : T. 022 546 54 00",
        "France 2030 soutient les usines.",
    ],
)
def test_addresses_references_services_and_hours_are_not_figures(text: str) -> None:
    assert find_figures(text, "fr") == []


@pytest.mark.parametrize(
    ("text", "about"),
    [
        ("On recense 500 demandeurs d'emploi.", "demandeurs d'emploi"),
        ("Il touche 500 lecteurs.", "lecteurs"),
        ("Avec 30 laboratoires.", "laboratoires"),
        ("Elle expose 12 dessins.", "dessins"),
        ("Il reste 40 theatres.", "theatres"),
        ("Il reste 40 des theatres.", "des theatres"),
    ],
)
def test_about_keeps_words_that_start_like_an_article(text, about):
    assert only(text).about == about


def test_about_does_not_borrow_a_scale_word_from_an_earlier_figure():
    figures = find_figures("L'État engage 1 milliard d'euros, soit 3 500 € par commune.")
    assert [(f.raw, f.about) for f in figures][-1] == ("3 500 €", "par commune")


@pytest.mark.parametrize(
    ("text", "language", "value", "value_max"),
    [
        ("Il y a 15 à 20 000 enfants concernés.", "fr", 15000, 20000),
        ("Il y a 15 à 20 millions de personnes.", "fr", 15e6, 20e6),
        ("From 15 to 20 million people.", "en", 15e6, 20e6),
        ("De 15 à 20 enfants par classe.", "fr", 15, 20),
        ("Entre 15 000 et 20 000 enfants.", "fr", 15000, 20000),
    ],
)
def test_range_shares_the_upper_bound_multiplier(text, language, value, value_max):
    figure = only(text, language)
    assert (figure.value, figure.value_max) == (pytest.approx(value), pytest.approx(value_max))


@pytest.mark.parametrize(
    ("text", "language", "value", "about"),
    [
        ("Le plan prévoit que 50 000 jeunes supplémentaires puissent passer le permis.", "fr", 50000,
         "jeunes supplémentaires"),
        ("Selon l'étude, 58 % des bénéficiaires occupaient un emploi.", "fr", 58, "des bénéficiaires"),
        ("Fin 2024, près de 1,1 million d'apprentis étaient en formation.", "fr", 1.1e6, "d'apprentis"),
        ("Le fonds mobilise 1,2 milliard d'euros pour l'embauche des seniors.", "fr", 1.2e9,
         "pour l'embauche des seniors"),
        ("Une prime de 4 000 euros est versée à l'employeur.", "fr", 4000, "de prime"),
        ("Les musées ont accueilli 250 000 visiteurs, un record.", "fr", 250000, "visiteurs"),
        ("La région ouvre 14 nouvelles lignes de car express à la rentrée.", "fr", 14,
         "nouvelles lignes de car express"),
        ("The scheme offers 45,000 young people aged 16 to 24 a placement.", "en", 45000, "young people"),
        ("Around 62% of participants found a job.", "en", 62, "of participants"),
        ("Ministers confirmed £75 million for port upgrades.", "en", 75e6, "for port upgrades"),
        ("From September, 750 more primary schools will join.", "en", 750, "more primary schools"),
    ],
)
def test_the_phrase_after_a_figure_is_one_a_person_would_print(
    text: str, language: str, value: float, about: str
) -> None:
    figure = only(text, language)
    assert (figure.value, figure.about) == (pytest.approx(value), about)


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Le montant de l'aide atteint 500 €.", "fr"),
        ("Le fonds est doté de 150 millions d'euros.", "fr"),
        ("Le taux d'emploi atteint 38,9 %, contre 35 % il y a cinq ans.", "fr"),
        ("Le nombre d'inscrits a reculé de 4 200 en un an.", "fr"),
        ("House prices fell by 1.2% in January.", "en"),
    ],
)
def test_a_figure_naming_nothing_has_no_phrase_and_is_no_headline(text: str, language: str) -> None:
    figures = [f for f in find_figures(text, language) if f.kind != "duration"]
    assert figures and all(f.about is None for f in figures)
    assert key_figures(figures) == []


@pytest.mark.parametrize(
    ("text", "value", "value_max", "raw"),
    [
        ("Une enveloppe de 3,377 millions d'euros est engagée.", 3_377_000, None, "3,377 millions d'euros"),
        ("Le coût atteint 1,2 milliard d'euros.", 1.2e9, None, "1,2 milliard d'euros"),
        ("L'emploi recule de -0,7 % au trimestre.", -0.7, None, "-0,7 %"),
        ("Soit -113 000 postes sur un an.", -113000, None, "-113 000"),
        ("Entre 10 000 et 15 000 recrutements sont attendus.", 10000, 15000, "10 000 et 15 000"),
        ("La facture baisse de 5 à 8 % par an.", 5, 8, "5 à 8 %"),
    ],
)
def test_french_decimals_signs_and_ranges(text: str, value: float, value_max: float | None, raw: str) -> None:
    figure = only(text)
    assert (figure.value, figure.value_max, figure.raw) == (pytest.approx(value), value_max, raw)


def test_opening_hours_are_not_figures() -> None:
    text = "Les visites ont lieu de 15 h à 20 h, et les guichets ouvrent de 7 h 30 à 19 h."
    assert find_figures(text, "fr") == []


@pytest.mark.parametrize(
    ("text", "language", "about"),
    [
        ("Le fonds versera 120 M€ par an aux communes.", "fr", None),  # a rate names nothing counted
        ("Le déficit recule de 2,3 Md€ par rapport à 2024.", "fr", None),
        ("Près de 9 000 personnes inscrites sur les listes communales.", "fr", "personnes"),
        ("La région compte 1 020 000 élèves cette année.", "fr", "élèves"),  # digits need no « de »
        ("La région compte 1,1 million d'élèves.", "fr", "d'élèves"),
        ("About 1 in 4 of them reported symptoms.", "en", None),  # a pronoun is no group
        ("Nearly 1 in 5 of early childhood educators left.", "en", "of early childhood educators"),
        ("Some 3,000 new licensed child care spaces open.", "en", "new licensed child care spaces"),
        ("Emissions reached 1.9% of GDP last year.", "en", "of GDP"),
        ("Nearly 600,000 Australians enrolled.", "en", "Australians"),
        ("Around 150,000 children live in temporary homes.", "en", "children"),
        ("Some 3,000 police officers joined.", "en", "police officers"),
    ],
)
def test_figure_phrases_end_where_a_person_would_end_them(text: str, language: str, about: str | None) -> None:
    assert only(text, language).about == about


@pytest.mark.parametrize(
    ("text", "language", "about"),
    [
        # a verb, an infinitive or a participle taking a complement ends the phrase (French word classes)
        ("Le plan doit permettre à 30 000 stagiaires supplémentaires de trouver un employeur.", "fr",
         "stagiaires supplémentaires"),
        ("Selon l'enquête, 58 % bénéficiaires occupaient un emploi six mois plus tard.", "fr", "des bénéficiaires"),
        ("Un fonds de 80 millions d'euros pour les familles touchées par les inondations.", "fr", "pour les familles"),
        ("Le département a recruté 600 médiateurs numériques dans les collèges.", "fr", "médiateurs numériques"),
        ("Cette année, 4 000 inscrits aux ateliers ont obtenu un diplôme.", "fr", "inscrits aux ateliers"),
        # coordinations, noun complements and a programme's name stay in the phrase
        ("Près de 2 300 écoles et collèges participent à l'opération.", "fr", "écoles et collèges"),
        ("L'hôpital a compté 1 500 passages aux urgences en une nuit.", "fr", "passages aux urgences"),
        ("Le réseau ouvre 12 nouveaux « Cafés de l'emploi » cet hiver.", "fr", "nouveaux « Cafés de l'emploi »"),
        ("L'association gère 2 400 points d'accueil en France.", "fr", "points d'accueil"),
        # an amount's own noun, before it or after it
        ("Tout contrevenant s'expose à une amende de 135 euros.", "fr", "d'amende"),
        ("The agency announced an investment of more than $78 million in the region.", "en", "investment"),
        ("States will share $850 million in grants for clinics.", "en", "in grants"),
        ("The fare cap stays at £3 until the end of the year.", "en", None),
        ("One in three unpaid carers had skipped meals.", "en", "of unpaid carers"),
    ],
)
def test_figure_phrases_follow_the_words_classes(text: str, language: str, about: str | None) -> None:
    figure = next(f for f in find_figures(text, language) if f.kind != "duration")
    assert figure.about == about


def test_without_the_french_tagger_the_rules_still_give_a_phrase(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(figures_module, "french_word_classes", lambda text, spans: {})
    text = "Le plan prévoit que 50 000 jeunes supplémentaires puissent passer le permis."
    assert only(text).about == "jeunes supplémentaires"
    assert only("Selon l'enquête, 58 % bénéficiaires occupaient un emploi.").about is None


def test_a_bare_share_is_no_headline_but_a_share_of_a_group_is() -> None:
    bare = find_figures("Le chômage des jeunes a reculé de 35 % en un an.", "fr")
    assert [f.about for f in bare if f.kind == "percent"] == [None]
    assert key_figures(bare) == []
    named = find_figures("Au total, 1 200 000 jeunes ont signé, et 58 % bénéficiaires occupaient un emploi.", "fr")
    assert [named[i].about for i in key_figures(named)] == ["jeunes", "des bénéficiaires"]


@pytest.mark.parametrize(
    ("text", "durations"),
    [
        ("Seuls 54 % des personnes de plus de 65 ans étaient vaccinées.", []),
        ("Un bénévole sur quatre a plus de 70 ans.", []),
        ("Le forum est consacré à l'emploi des plus de 55 ans.", []),
        ("Le chantier a duré plus de 20 ans.", [20]),
        ("Le projet a mis plus de 30 ans à aboutir.", [30]),
    ],
)
def test_an_age_threshold_is_no_duration(text: str, durations: list[float]) -> None:
    assert [f.value for f in find_figures(text, "fr") if f.kind == "duration"] == durations


@pytest.mark.parametrize(
    ("text", "first"),
    [
        ("Le délai moyen est passé de 14 à 9 mois.", (14, "duration", "months")),
        ("Le taux de chômage passe de 12 à 9 %.", (12, "percent", "percent")),
    ],
)
def test_a_fall_from_one_level_to_another_gives_both_the_unit(text: str, first: tuple) -> None:
    figures = find_figures(text, "fr")
    assert (figures[0].value, figures[0].kind, figures[0].unit) == first
    assert len(figures) == 2 and figures[0].value_max is None
