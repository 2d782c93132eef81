"""Numeric statistics: counts, amounts, percentages and durations, written in digits or words."""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from babel.numbers import parse_decimal
from text_to_num import text2num

from newsletter.core.models import Figure
from newsletter.extract.dates import find_dates
from newsletter.extract.phrases import (
    figure_phrase,
    group_after,
    may_name_group,
    phrase_window,
    ratio_phrase,
    rules_unsure,
)
from newsletter.extract.text import trie_pattern, words
from newsletter.extract.wordclass import french_word_classes

_SP = "[ \u00a0\u202f]"
_NUMBER = (
    rf"\d{{1,3}}(?:{_SP}\d{{3}})+(?:,\d+)?(?!\d)"
    r"|\d{1,3}(?:,\d{3})+(?:\.\d+)?(?!\d)"
    r"|\d{1,3}(?:\.\d{3})+(?:,\d+)?(?![\d,])"
    r"|\d+(?:[.,]\d+)?"
)
_FR_WORDS = (
    "deux trois quatre cinq six sept huit neuf dix onze douze treize quatorze quinze seize "
    "vingt vingts trente quarante cinquante soixante septante huitante octante nonante cent cents mille"
)
_EN_WORDS = (
    "two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety "
    "hundred thousand"
)
_WORD_NUMBER = "|".join(sorted(set((_FR_WORDS + " " + _EN_WORDS).split()), key=len, reverse=True))
_NUMBER_WORDS = rf"(?:{_WORD_NUMBER})(?:(?:[-\s]+(?:et[-\s]+|and[-\s]+)?)(?:{_WORD_NUMBER}))*(?![\w])"
_SCALE_WORDS = {
    "million": 1e6, "millions": 1e6, "milliard": 1e9, "milliards": 1e9, "billion": 1e9,
    "billions": 1e9, "trillion": 1e12, "trillions": 1e12, "mille": 1e3, "thousand": 1e3,
    "md": 1e9, "mds": 1e9, "mrd": 1e9, "bn": 1e9, "m": 1e6, "k": 1e3,
}  # fmt: skip
_SCALE = r"millions?|milliards?|billions?|trillions?|thousand|mille"
_SHORT_SCALE = r"Mds?|Mrd|bn|[mMkK]"
_CURRENCY_SIGN = {
    "€": "EUR", "£": "GBP", "$": "USD", "us$": "USD", "eur": "EUR", "gbp": "GBP", "usd": "USD", "chf": "CHF",
}  # fmt: skip
_CURRENCY_AFTER = (
    r"€|euros?|EUR|£|GBP|\$|USD|dollars?|livres?(?:\s+sterling)?|pounds?(?:\s+sterling)?|CHF|francs?(?:\s+suisses)?"
)
_PERCENT = r"%|pour\s?cent|per\s?cent|percent|points?\s+de\s+pourcentage|percentage\s+points?"
_DURATION = (
    r"ans|années?|an|mois|semaines?|jours?|heures?|minutes?|décennies?|siècles?|"
    r"years?|months?|weeks?|days?|hours?|decades?|centur(?:y|ies)"
)
_OTHER_UNIT = (
    r"km|kilomètres?|kilometres?|kilometers?|miles?|m²|m2|hectares?|ha|tonnes?|tons?|kg|kWh|MWh|"
    r"GWh|TWh|MW|GW|kW|gigawatts?|mégawatts?|megawatts?|térawatt-heures?|terawatt-hours?|litres?|liters?"
)
_MULTIPLIER = re.compile(r"[ \u00a0\u202f]*(?:fois|times)(?![\w])", re.IGNORECASE)
_QUALIFIERS = frozenset(
    " ".join(part.split())
    for part in """
    un peu plus d' | un peu plus de | un peu moins de | pas moins de | près d' | près de | presque |
    environ | plus d' | plus de | moins d' | moins de | au moins | au plus | jusqu'à | quelque |
    autour de | approximativement | seulement | déjà | entre | a little over | just over |
    just under | well over | more than | nearly | almost | about | around | approximately | up to |
    at least | fewer than | less than | some | roughly | close to | over | under | above | below |
    between | an estimated | estimated | only | already
    """.replace("\n", " ").split("|")
)
_QUALIFIER_ENDINGS = frozenset(phrase.split()[-1] for phrase in _QUALIFIERS)
_FIGURE = re.compile(
    rf"(?<![\w.,/–@#:])(?<![^\s(]-)"
    rf"(?:(?P<cur>€|£|\$|US\$|EUR|GBP|USD|CHF){_SP}?)?"
    rf"(?:(?P<num>{_NUMBER})|(?P<words>{_NUMBER_WORDS})|(?P<art>le|la|un|une|the|a|one){_SP}+(?=(?:million|milliard|billion)))"
    rf"(?:{_SP}?(?P<scale>(?:{_SCALE})(?![\w])|(?<=\d)(?:{_SHORT_SCALE})(?![\w])|(?<=[\d\s])(?:{_SHORT_SCALE})(?=€|\$|£)))?"
    rf"(?:{_SP}?(?:(?:d['’]|de{_SP}+|of{_SP}+)?(?P<cur2>{_CURRENCY_AFTER})(?![\w])"
    rf"|(?P<pct>{_PERCENT})(?![\w])"
    rf"|(?P<pts>points?)(?![\w])"
    rf"|-?(?P<dur>{_DURATION})(?![\w])"
    rf"|(?P<unit>{_OTHER_UNIT})(?![\w])))?",
    re.IGNORECASE,
)
_RANGE = re.compile(
    rf"{_SP}*(?:à|a|-|–|—|to|et|and){_SP}*(?:(?P<cur>€|£|\$){_SP}?)?(?P<num>{_NUMBER})"
    rf"(?:{_SP}?(?P<scale>(?:{_SCALE})(?![\w])))?"
    rf"(?:{_SP}?(?:(?:d['’]|de{_SP}+|of{_SP}+)?(?P<cur2>{_CURRENCY_AFTER})(?![\w])|(?P<pct>{_PERCENT})(?![\w])"
    rf"|(?P<dur>{_DURATION})(?![\w])|(?P<unit>{_OTHER_UNIT})(?![\w])))?",
    re.IGNORECASE,
)
_DIGITS = re.compile(r"\d+")
_FRENCH_DECIMAL = re.compile(r"\d{1,3},\d+")
_SIGN = frozenset("-−")
_CURRENCY_LAST_CHARS = frozenset("€£$RPDF")
_RANGE_FIRST_CHARS = frozenset("àaA-–—tTeE")
_CURRENCY_BEFORE = re.compile(r"(?:€|£|\$|US\$|EUR|GBP|USD|CHF)[ \u00a0\u202f]?$")
_ARTICLE_BEFORE = re.compile(r"(?<![\w])(?:le|la|un|une|the|a|one)[ \u00a0\u202f]+$")
_ANCHOR_WORD = re.compile(rf"{trie_pattern(set((_FR_WORDS + ' ' + _EN_WORDS).split()) - {'cents', 'vingts'})}(?![\w])")
_SCALE_WORD = re.compile(r"million|milliard|billion")
_PHONE = re.compile(
    r"(?:\+\d{1,3}[\s.]?(?:\(0\)[\s.]?)?\d{1,4}(?:[\s.-]\d{2,4}){2,5}"
    r"|(?<!\d)0\d(?:[\s.-]\d{2}){4}(?!\d)|(?<!\d)0[\s.]8\d\d(?:[\s.]\d{2}){3}(?!\d)"
    r"|(?<!\d)0\d{2,4}[\s-]\d{3,4}[\s-]\d{3,4}(?!\d)|(?<![\d,.])0\d{1,3}(?:[ .]\d{2,4}){3,4}(?!\d))"
)
_CODE_BEFORE = re.compile(r"(?:(?<![\w])[A-Z]\.|(?<![\w])[A-Z]{2,}[0-9]*)[ \u00a0]$")
_PLACE_AFTER = re.compile(r"[ \u00a0]+(?:[A-ZÀ-Ý]|cedex)", re.IGNORECASE)
_YEAR_AFTER = re.compile(r"[ \u00a0]*(?:-|–|à|au|et|and|to)[ \u00a0]*(?:18|19|20)\d\d(?!\d)")
_TIME_TAIL = re.compile(
    r"(?:[ \u00a0]*(?:à|-|–|to)[ \u00a0]*\d{1,2}(?:[ \u00a0]?h[ \u00a0]?\d{0,2}|:\d{2}|[ \u00a0]?(?:am|pm)))?(?![\w])",
    re.IGNORECASE,
)
_TIME = re.compile(r"(?<!\d)\d{1,2}(?:\s?h\s?\d{0,2}|:\d{2}|\s?(?:am|pm|a\.m\.|p\.m\.))(?![\w])", re.I)
_REFERENCE_WORDS = words(
    """
    n° no. nº numéro number article art. articles loi décret arrêté page pages p. chapitre chapter
    section alinéa point étape step phase version tome volume vol. niveau level rang rank saison
    season édition edition promotion classe class acte bac bac+ semaine week jour day lot zone ligne
    line route road rue avenue bd boulevard salle room bâtiment building porte gate tél. tel. tél
    tel téléphone phone fax code cedex bp aged âgé âgés âgée âgées age ages footnote footnotes
    appendix annex annexe table tableau figure fig. graphique chart encadré box note
    """
)
_YEAR_CONTEXT = words(
    """
    en in since depuis de d' an année year fin début from to à et and entre between by until
    jusqu'en of été printemps automne hiver summer spring autumn winter campagne rentrée horizon
    pour for avant after après before dès au the le la janvier février mars avril mai juin juillet
    août septembre octobre novembre décembre january february march april may june july august
    september october november december
    """
)
_ABOUT_STOP = words(
    """
    en à au aux dans pour par sur avec depuis chaque qui que qu dont ont sont a est été sera
    seront et ou mais entre contre ce cette ces leur leurs son sa ses y ne se sur sous vers
    chez après avant lors selon soit ainsi également aussi déjà encore plus moins très de du
    des d le la les l un une in for by with on at to since who which that have has had were
    was are is and or but will would from into over under after before per each this these
    those their its his her as than it be been being not also already more less
    """
)
_AGE_SUFFIX = re.compile(r"[\s-]+olds?\b")
_SEPARATORS = re.compile(r"[ \u00a0\u202f]")
_COMMA_THOUSANDS_DECIMAL = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_DOT_THOUSANDS = re.compile(r"\d{1,3}(?:\.\d{3})+(?:,\d+)?")
_COMMA_THOUSANDS = re.compile(r"\d{1,3}(?:,\d{3})+")
_SMALL_INTEGER = re.compile(r"\d{1,3}")
_THOUSANDS_GROUPS = re.compile(r"\d{1,3}((?:[ \u00a0\u202f.,]\d{3})+)")
_THOUSANDS_GROUP = re.compile(r"\d{3}")
_NEXT_WORD = re.compile(r"[\s\u00a0\u202f]*([\w’'-]+)")
_FOUR_DIGITS = re.compile(r"\d{4}")
_CLOSING_PUNCTUATION = re.compile(r"[\s\u00a0]*[),.;:]")
_CAPITALISED_BEFORE = re.compile(r"(\S*)[\s\u00a0]+([A-ZÀ-Ý][\w'’-]*)[\s\u00a0]$")
_SENTENCE_PUNCTUATION_END = re.compile(r"[.!?:;]$")
_AGE_GROUP_WORDS = words("des les aux aged âgés âgées")
_AGE_THRESHOLD_BEFORE = words("de des les a ont aged âgés âgées")
_AGE_THRESHOLDS = ("plus de", "moins de")
_ADULT_AGE = 16
_RATIO_WORDS = words("in sur of")
_SENTENCE_END = re.compile(r"(?<!\b[A-Z])[.!?…]+(?=\s|$)")
_STREET_OR_CODE_AFTER = re.compile(
    r"[ \u00a0]*(?<=[ \u00a0])(?:(?:rue|avenue|av\.|boulevard|bd|place|quai|allée|impasse|chemin|route|esplanade|cours|"
    r"square|street|road|lane|drive)(?![\w])|[A-Z]\.[A-Z]\.)|,[ \u00a0]*\d{4,5}[ \u00a0]+[A-Z]",
    re.IGNORECASE,
)
_SERVICE_NUMBER_BEFORE = re.compile(
    r"(?:(?<![\w])(?:le|au)|(?:numéro|number|appelez|composez|call|dial|hotline|helpline|urgence|emergency)"
    r"[ \u00a0]*:?(?:[ \u00a0]+(?:le|the|au))?(?:[ \u00a0]+\d+[ \u00a0]+(?:ou|or))?)[ \u00a0]+$",
    re.IGNORECASE,
)
_NAME_BEFORE_YEAR = re.compile(r"(?:^|[\n.!?:;]\s*)([A-ZÀ-Ý][\w'’-]*)[ \u00a0]$")
_DETERMINERS = words("nos vos leurs tous toutes our your all some quelques")
_SERVICE_HINTS = ("numéro", "number", "appelez", "composez", "call", "dial", "line", "urgence", "emergency")
_POINTS_OF_SOMETHING = re.compile(
    r"[ \u00a0]*(?:d['’]|de[ \u00a0]+|des[ \u00a0]+|of[ \u00a0]+)(?!moins|plus|pourcentage|hausse|baisse|percentage)",
    re.IGNORECASE,
)
_RATE_CONTEXT = re.compile(r"%|(?<![\w])(?:taux|rate|rates|pourcentage|per ?cent|percent)(?![\w])", re.IGNORECASE)
_HOUR_RANGE = re.compile(
    r"\d{1,2}[ \u00a0]?(?:heures?|h)[ \u00a0]*(?:à|-|–|et)[ \u00a0]*\d{1,2}[ \u00a0]?(?:heures?|h)(?![\w])",
    re.IGNORECASE,
)
_TAGGED_BEFORE = 24  # characters of context tagged before a figure, and after the rules' phrase
_TAGGED_AFTER = 40
_NOT_COUNTED = words("demain hier aujourd'hui aujourd’hui ensuite alors tomorrow yesterday today")


@dataclass
class _Parsed:
    value: float
    unit: str | None
    kind: str


def find_figures(text: str, language: str = "fr", skip: list[tuple[int, int]] | None = None) -> list[Figure]:
    """Every numeric statistic in clean text, in document order, outside the `skip` spans (quoted names)."""
    sentences = _Sentences(text)
    fractions = _fractions(text, sentences)
    ratios = _ratios(text, sentences, language) + fractions
    excluded = sorted([(d.start, d.end) for d in find_dates(text)] + list(skip or []) + [r[1] for r in ratios])
    starts = [start for start, _ in excluded]
    figures: list[tuple[int, Figure]] = [(span[0], figure) for figure, span in ratios]
    unphrased: list[tuple[Figure, tuple[int, int]]] = list(fractions)
    covered = 0
    for anchor in _anchors(text):
        if anchor < covered:
            continue
        if text[anchor].isdigit():
            skipped = _phone_or_time_end(text, anchor)
            if skipped:
                covered = skipped
                continue
        match = _FIGURE.match(text, anchor)
        if match is None or match.end() == anchor:
            continue
        covered = match.end()
        if _overlaps(excluded, starts, match.start(), match.end()) or _is_not_statistic(text, match):
            continue
        found = _figure(text, match, language, sentences)
        if found is not None:
            figure, covered = found
            figures.append((match.start(), figure))
            unphrased.append((figure, (match.start(), covered)))
        else:
            covered = _reference_range_end(text, match)
    figures.sort(key=lambda item: item[0])
    kept = _without_repeats([figure for _, figure in figures])
    kept_ids = {id(figure) for figure in kept}
    _add_phrases(text, [item for item in unphrased if id(item[0]) in kept_ids], language)
    return kept


def _add_phrases(text: str, figures: list[tuple[Figure, tuple[int, int]]], language: str) -> None:
    """Set each figure's `about` phrase. In French, a phrase the rules are unsure of is read again with the
    words' classes (tagged in one batch for the document), which decide where it ends."""
    phrased = []
    for figure, (start, end) in figures:
        if figure.kind != "duration":
            figure.about = figure_phrase(text, start, end, figure.kind, abs(figure.value), language)
            if language != "en" and (figure.about or may_name_group(text, end, figure.kind)) and rules_unsure(
                text, end, figure.about
            ):
                phrased.append((figure, (start, end)))
    spans = [
        (_context_start(text, start), phrase_window(text, end, len(figure.about or "") + _TAGGED_AFTER))
        for figure, (start, end) in phrased
    ]
    classes = french_word_classes(text, spans)
    for figure, (start, end) in phrased:
        figure.about = figure_phrase(text, start, end, figure.kind, abs(figure.value), language, classes)


def _context_start(text: str, start: int) -> int:
    """Where the words tagged with a figure's phrase start: a few words before the figure, on its line."""
    floor = max(text.rfind("\n", 0, start) + 1, start - _TAGGED_BEFORE)
    space = text.find(" ", floor, start)
    return space + 1 if space != -1 and floor > 0 and text[floor - 1] not in " \n" else floor


def _phone_or_time_end(text: str, anchor: int) -> int:
    """Where a phone number or a clock time starting at `anchor` ends, or 0."""
    phone = (text[anchor - 1 : anchor] == "+" and _PHONE.match(text, anchor - 1)) or _PHONE.match(text, anchor)
    if phone:
        return phone.end()
    clock = _TIME.match(text, anchor) or _HOUR_RANGE.match(text, anchor)
    if clock:
        return _TIME_TAIL.match(text, clock.end()).end()  # type: ignore[union-attr]
    return 0


def _without_repeats(figures: list[Figure]) -> list[Figure]:
    """Drop a restated amount or large count (same value, unit and kind as an earlier figure)."""
    seen: set[tuple[float, str | None, str]] = set()
    kept = []
    for figure in figures:
        key = (figure.value, figure.unit, figure.kind)
        if key in seen and (figure.kind == "money" or figure.value >= 1000):
            continue
        seen.add(key)
        kept.append(figure)
    return kept


_RATIO = re.compile(
    rf"(?<![\w.,])(?P<part>\d{{1,3}}|un|une|one|{_WORD_NUMBER})"
    rf"(?P<noun>(?:{_SP}+(?!sur\b|in\b|out\b)[\w’'-]+){{0,2}}?)"
    rf"{_SP}+(?:sur|in|out{_SP}+of){_SP}+(?P<whole>\d{{1,4}}|deux|trois|quatre|cinq|six|sept|huit|neuf|dix|"
    rf"vingt|cent|mille|two|three|four|five|six|seven|eight|nine|ten|twenty|hundred|thousand)(?![\w])"
    rf"(?!{_SP}*(?:%|{_DURATION}|{_CURRENCY_AFTER}|{_SCALE})(?![\w]))",
    re.IGNORECASE,
)
_RATIO_CONNECTOR = re.compile(
    r"[ \u00a0\u202f](?:sur|in|out[ \u00a0\u202f]of)[ \u00a0\u202f]+"
    r"(?=\d|deux|trois|quatre|cinq|six|sept|huit|neuf|dix|vingt|cent|mille|two|three|four|five|seven|eight|nine|ten|twenty|hundred|thousand)",
    re.IGNORECASE,
)
_SMALL_WORDS = {"un": 1, "une": 1, "one": 1}


def _ratios(text: str, sentences: _Sentences, language: str) -> list[tuple[Figure, tuple[int, int]]]:
    """`un jeune sur cinq`, `3 Français sur 4`, `one in four`: a share, as a percentage."""
    found: list[tuple[Figure, tuple[int, int]]] = []
    floor = 0
    for connector in _RATIO_CONNECTOR.finditer(text):
        match = _RATIO.search(text, max(floor, connector.start() - 48), connector.end() + 12)
        if match is None or match.end() <= connector.start():
            continue
        floor = match.end()
        part = _SMALL_WORDS.get(match.group("part").lower()) or _parse_number_or_words(match.group("part"))
        whole = _parse_number_or_words(match.group("whole"))
        if not part or not whole or part >= whole or (whole >= 1800 and _FOUR_DIGITS.fullmatch(match.group("whole"))):
            continue
        noun = match.group("noun").split()
        if any(word[:1].isdigit() or word.lower() in _ABOUT_STOP for word in noun):
            continue
        figure = Figure(
            raw=match.group(0),
            value=100 * part / whole,
            unit="percent",
            kind="percent",
            about=ratio_phrase(" ".join(noun), language) if noun else group_after(text, match.end(), language),
            sentence=sentences.around(match.start()),
        )
        found.append((figure, (match.start(), match.end())))
    return found


_FRACTION = re.compile(
    r"(?<![\w'’])(?:(?P<count>deux|trois|quatre|two|three|four)[ \u00a0\u202f-]+"
    r"|(?P<art>la|une|un|a|one)[ \u00a0\u202f]+)?"
    r"(?P<part>moitiés?|half|tiers|thirds?|quarts?|quarters?|cinquièmes?|fifths?|dixièmes?|tenths?)"
    r"(?P<of>[ \u00a0\u202f]+(?:de|des|du|d['’]|of|the|all)(?![\w]))?",
    re.IGNORECASE,
)
_FRACTION_PARTS = {
    "moiti": 2, "half": 2, "tiers": 3, "third": 3, "quart": 4, "cinqui": 5, "fifth": 5, "dixi": 10, "tenth": 10,
}  # fmt: skip
_FRACTION_STEMS = (*_FRACTION_PARTS, "quarter")
_ORDINAL_BEFORE = re.compile(
    r"(?:première|premier|seconde?|deuxième|dernière|dernier|first|second|last|latter|the)[ \u00a0\u202f]+$",
    re.IGNORECASE,
)
_TIME_OF = re.compile(
    r"[ \u00a0\u202f]+(?:of[ \u00a0\u202f]+|the[ \u00a0\u202f]+|d['’]|l['’]|de[ \u00a0\u202f]+l['’]?)?[ \u00a0\u202f]*"
    r"(?:(?:heures?|hours?|ans?|années?|years?|mois|months?|siècles?|centur(?:y|ies)|décennies?|decades?)(?![\w])"
    r"|\d{4})",
    re.IGNORECASE,
)


def _fractions(text: str, sentences: _Sentences) -> list[tuple[Figure, tuple[int, int]]]:
    """`la moitié des`, `a fifth of`, `two thirds of`: a share, as a percentage (its phrase added later)."""
    found: list[tuple[Figure, tuple[int, int]]] = []
    lower = text.lower()
    if not any(stem in lower for stem in _FRACTION_STEMS):
        return found
    for match in _FRACTION.finditer(text):
        part = match.group("part").lower()
        whole = next((n for key, n in _FRACTION_PARTS.items() if part.startswith(key)), None)
        count = _parse_words(match.group("count")) if match.group("count") else 1.0
        if whole is None or not count or count >= whole or (part.endswith("s") and count == 1 and whole != 3):
            continue
        if whole != 2 and not (match.group("art") or match.group("count")):
            continue
        if not match.group("of") and (match.group("art") or "").lower() != "la":
            continue
        if _ORDINAL_BEFORE.search(text, max(0, match.start() - 12), match.start()) or _TIME_OF.match(text, match.end()):
            continue
        before = text[max(0, match.start() - 40) : match.start()]
        figure = Figure(
            raw=text[match.start() : match.end("part")],
            value=round(100 * count / whole, 2),
            unit="percent",
            kind="percent",
            qualifier=_qualifier(before),
            sentence=sentences.around(match.start()),
        )
        found.append((figure, (match.start(), match.end("part"))))
    return found


def _parse_number_or_words(raw: str) -> float | None:
    """A small number written in digits or words."""
    return float(raw) if raw.isdigit() else _parse_words(raw)


def _anchors(text: str) -> list[int]:
    """Where a figure may start: digit runs (with a currency sign before) and number words."""
    anchors = []
    for run in _DIGITS.finditer(text):
        start = run.start()
        prefix = None
        if text[max(0, start - 2) : start].strip(" \u00a0\u202f")[-1:] in _CURRENCY_LAST_CHARS:
            prefix = _CURRENCY_BEFORE.search(text, max(0, start - 5), start)
        anchors.append(prefix.start() if prefix else start)
    lower = text.lower()
    if len(lower) == len(text):
        anchors.extend(
            match.start() for match in _ANCHOR_WORD.finditer(lower) if not _word_char_before(lower, match.start())
        )
        for scale in _SCALE_WORD.finditer(lower):
            if _word_char_before(lower, scale.start(), "_"):
                continue
            article = _ARTICLE_BEFORE.search(lower, max(0, scale.start() - 6), scale.start())
            if article:
                anchors.append(article.start())
    return sorted(set(anchors))


def _word_char_before(text: str, pos: int, joiners: str = "_-") -> bool:
    """Whether a letter, digit or joiner (`_`, `-`) comes right before `pos` (a word does not start there)."""
    if not pos:
        return False
    previous = text[pos - 1]
    return previous.isalnum() or previous in joiners


def _is_not_statistic(text: str, match: re.Match[str]) -> bool:
    """Links, e-mail addresses and slashed pairs (`15/30`) are not statistics (phones and times are skipped before)."""
    start = match.start()
    end = match.end("num") if match.group("num") else match.end()
    if text[end : end + 1] == "/" and text[end + 1 : end + 2].isdigit():
        return True
    floor = max(0, start - 200)
    nearby = text[floor : start + 200]
    if "@" not in nearby and "://" not in nearby and "www." not in nearby:
        return False
    token_start = max(text.rfind(" ", floor, start), text.rfind("\n", floor, start), floor - 1) + 1
    token_end = text.find(" ", start, start + 200)
    token = text[token_start : token_end if token_end != -1 else start + 200]
    return "@" in token or "://" in token or token.startswith("www.")


def _overlaps(spans: list[tuple[int, int]], starts: list[int], start: int, end: int) -> bool:
    """Whether [start, end) overlaps one of the sorted excluded spans."""
    index = bisect.bisect_right(starts, end - 1) - 1
    return index >= 0 and spans[index][1] > start


def _figure(text: str, match: re.Match[str], language: str, sentences: _Sentences) -> tuple[Figure, int] | None:
    """Build a Figure (and where it ends) from a match, or None when it is not a statistic."""
    groups = match.groupdict()
    match_end = match.end()
    if groups["pts"] and not _is_percentage_points(text, match, sentences):
        groups = groups | {"pts": None}
        match_end = len(text[: match.start("pts")].rstrip(" \u00a0\u202f"))  # `2 400 points d'accueil`
    has_unit = bool(
        groups["cur"]
        or groups["cur2"]
        or groups["pct"]
        or groups["pts"]
        or groups["dur"]
        or groups["unit"]
        or groups["scale"]
    )
    before = text[max(0, match.start() - 40) : match.start()]
    if not has_unit and (_last_word(before) in _REFERENCE_WORDS or _is_label(text, match, before)):
        return None
    if _next_char(text, match_end) in "ftFT" and _MULTIPLIER.match(text, match_end):
        return None
    base = _base_value(groups, language)
    if base is None:
        return None
    parsed = _parse_unit(groups, base)
    qualifier = _qualifier(before)
    if not has_unit and not _is_count(text, match, base, qualifier, groups):
        return None
    end = match_end
    value_max = None
    if groups["num"] or groups["words"]:
        ranged = _RANGE.match(text, end) if _next_char(text, end) in _RANGE_FIRST_CHARS else None
        if ranged and _is_range(ranged, qualifier, before):
            second = _parse_number(ranged.group("num"), language)
            upper = _parse_unit(ranged.groupdict() | {"words": None, "art": None}, second or 0.0)
            if second is not None and second > base and (parsed.unit is None or upper.unit in (None, parsed.unit)):
                factor = _shared_factor(groups, ranged, base, second) if parsed.unit is None else 1.0
                if base * factor <= upper.value:
                    unit, kind = (upper.unit, upper.kind) if upper.unit else (parsed.unit, parsed.kind)
                    parsed = _Parsed(parsed.value * factor, unit, kind)
                    value_max, end = upper.value, ranged.end()
            elif second is not None and second < base and parsed.unit is None and upper.unit:
                parsed = _Parsed(parsed.value, upper.unit, upper.kind)  # `passé de 14 à 9 mois`: 14 months
    if parsed.unit == "years" and (_last_word(before) in _AGE_GROUP_WORDS or _age_threshold(before, qualifier, base)):
        return None
    if parsed.kind == "duration" and _AGE_SUFFIX.match(text[end : end + 6]):
        return None
    raw = text[match.start() : end].strip()
    if groups["art"] and groups["art"].lower() in {"le", "la", "the"}:
        raw = raw[len(groups["art"]) :].strip()
    sign = _sign(text, match.start())
    figure = Figure(
        raw=raw if sign > 0 else f"-{raw}",
        value=parsed.value * sign,
        value_max=value_max,
        unit=parsed.unit,
        kind=parsed.kind,
        qualifier=None if qualifier in {"entre", "between"} and value_max is None else qualifier,
        sentence=sentences.around(match.start()),
    )
    return figure, end


def _age_threshold(before: str, qualifier: str | None, years: float) -> bool:
    """`personnes de plus de 65 ans`, `a plus de 70 ans`, `des moins de 25 ans`: an age, not a duration."""
    if qualifier not in _AGE_THRESHOLDS or years < _ADULT_AGE:
        return False
    words_before = before.lower().replace("’", "'").split()
    return len(words_before) > 2 and words_before[-3].rsplit("'", 1)[-1] in _AGE_THRESHOLD_BEFORE


def _reference_range_end(text: str, match: re.Match[str]) -> int:
    """Where a labelled range ends (`aged 16 to 24`: the upper bound is no figure either)."""
    if _last_word(text[max(0, match.start() - 40) : match.start()]) not in _REFERENCE_WORDS:
        return match.end()
    ranged = _RANGE.match(text, match.end())
    return ranged.end() if ranged else match.end()


def _sign(text: str, start: int) -> float:
    """-1 for a signed change (`-113 000`, `−0,7 %`): a minus sign right before, after a space or bracket."""
    if start and text[start - 1] in _SIGN and (start == 1 or text[start - 2] in " \u00a0\u202f(\n"):
        return -1.0
    return 1.0


def _next_char(text: str, pos: int) -> str:
    """The first character after `pos` that is not a space ("" at the end)."""
    return text[pos : pos + 8].lstrip(" \u00a0\u202f")[:1] or " "


def _is_label(text: str, match: re.Match[str], before: str) -> bool:
    """Digits that name or number something: `18e`, `(3)`, `NHS 111`, `L. 131-6`, `59047 Lille`, `12 rue …`."""
    end = match.end()
    following = text[end : end + 1]
    if following.isalnum() or (following == "-" and text[end + 1 : end + 2].isdigit()):
        return True
    if _STREET_OR_CODE_AFTER.match(text, end) or _is_service_number(before):
        return True
    if text[match.start() - 1 : match.start()] == "(" and following == ")":
        return True
    if _CODE_BEFORE.search(before, max(0, len(before) - 16)):
        return True
    raw = match.group("num") or ""
    if len(raw) == 4 and raw.isdigit() and before.rstrip(" \u00a0").endswith(","):
        return bool(_PLACE_AFTER.match(text, end))
    return len(raw) == 5 and raw.isdigit() and bool(_PLACE_AFTER.match(text, end))


def _is_service_number(before: str) -> bool:
    """`appelez le 15`, `Numéro d'urgence : 15 ou 112`: a service number, not a count."""
    if before[-1:].isspace() and _last_word(before) in {"le", "au"}:
        return True
    lowered = before.lower()
    if not any(hint in lowered for hint in _SERVICE_HINTS):
        return False
    return bool(_SERVICE_NUMBER_BEFORE.search(before))


def _is_percentage_points(text: str, match: re.Match[str], sentences: _Sentences) -> bool:
    """`4,5 points de moins`, `up 2 points`: a change in a rate, when the sentence speaks of rates."""
    if _POINTS_OF_SOMETHING.match(text, match.end()):
        return False
    return bool(_RATE_CONTEXT.search(sentences.around(match.start())))


def _last_word(before: str) -> str:
    """The last word before a position, lowercased, with typographic apostrophes normalised."""
    parts = before[-30:].lower().replace("’", "'").split()
    return parts[-1].rsplit("'", 1)[-1] if parts else ""


def _qualifier(before: str) -> str | None:
    """The qualifier right before a number (`près de`, `more than`), lowercased."""
    parts = before[-40:].lower().replace("’", "'").split()
    if not parts or parts[-1] not in _QUALIFIER_ENDINGS:
        return None
    for size in (4, 3, 2, 1):
        phrase = " ".join(parts[-size:])
        if len(parts) >= size and phrase in _QUALIFIERS:
            return phrase
    return None


def _shared_factor(groups: dict[str, str | None], ranged: re.Match[str], base: float, second: float) -> float:
    """The scale a bare lower bound shares with its upper bound: `15 à 20 millions`, `15 à 20 000` (×1000)."""
    if groups["scale"]:
        return 1.0
    scale = ranged.group("scale")
    if scale:
        return _SCALE_WORDS.get(scale.lower(), 1.0)
    lower = groups["num"] or ""
    thousands = _THOUSANDS_GROUPS.fullmatch(ranged.group("num"))
    if not (_SMALL_INTEGER.fullmatch(lower) and thousands):
        return 1.0
    factor = 1000.0 ** len(_THOUSANDS_GROUP.findall(thousands.group(1)))
    return factor if base * factor <= second < base * factor * 10 else 1.0


def _is_range(ranged: re.Match[str], qualifier: str | None, before: str) -> bool:
    """`15 à 20`, `15-20` and `between 15 and 20` are ranges; `15 et 20` alone is not."""
    connector = ranged.group(0).split()[0].lower() if ranged.group(0).split() else ""
    if connector in {"et", "and"}:
        return qualifier in {"entre", "between"}
    return connector != "a"


def _base_value(groups: dict[str, str | None], language: str) -> float | None:
    """The number itself, before any scale: digits, number words or an article before million."""
    if groups["num"] and groups["scale"] and language != "en" and _FRENCH_DECIMAL.fullmatch(groups["num"]):
        return float(parse_decimal(groups["num"], locale="fr"))
    if groups["num"]:
        return _parse_number(groups["num"], language)
    if groups["words"]:
        return _parse_words(groups["words"])
    if groups["art"]:
        return 1.0
    return None


def _parse_number(raw: str, language: str) -> float | None:
    """Parse `900 000`, `7,4`, `1,000.5`, `1.000` into a float."""
    if raw.isdigit():
        return float(raw)
    compact = _SEPARATORS.sub("", raw)
    if _COMMA_THOUSANDS_DECIMAL.fullmatch(compact) and (language == "en" or "." in compact):
        compact = compact.replace(",", "")
    elif _DOT_THOUSANDS.fullmatch(compact) and language != "en":
        compact = compact.replace(".", "").replace(",", ".")
    elif _COMMA_THOUSANDS.fullmatch(compact):
        compact = compact.replace(",", "")
    else:
        compact = compact.replace(",", ".")
    try:
        return float(compact)
    except ValueError:
        return None


def _parse_words(words: str) -> float | None:
    """Parse French or English number words with text2num."""
    cleaned = " ".join(words.lower().replace("-", " ").split())
    for lang in ("fr", "en"):
        try:
            return float(text2num(cleaned, lang))
        except (ValueError, IndexError, KeyError, TypeError):
            continue
    return None


def _parse_unit(groups: dict[str, str | None], base: float) -> _Parsed:
    """Apply the scale and read the unit and kind."""
    value = base
    scale = groups.get("scale")
    if scale:
        value *= _SCALE_WORDS.get(scale.lower(), 1.0)
    currency = groups.get("cur") or groups.get("cur2")
    if currency:
        return _Parsed(value, _currency_code(currency), "money")
    if groups.get("pct") or groups.get("pts"):
        return _Parsed(value, "percent", "percent")
    if groups.get("dur"):
        return _Parsed(value, _duration_unit(groups["dur"] or ""), "duration")
    if groups.get("unit"):
        return _Parsed(value, (groups["unit"] or "").lower(), "other")
    return _Parsed(value, None, "count")


def _currency_code(currency: str) -> str:
    """ISO code for a currency sign or word."""
    lowered = currency.lower()
    if lowered in _CURRENCY_SIGN:
        return _CURRENCY_SIGN[lowered]
    if lowered.startswith("euro"):
        return "EUR"
    if lowered.startswith(("livre", "pound")):
        return "GBP"
    if lowered.startswith(("franc", "chf")):
        return "CHF"
    return "USD"


def _duration_unit(word: str) -> str:
    """Normalised duration unit name."""
    lowered = word.lower()
    table = (
        (("an", "ans", "année", "années", "year", "years"), "years"),
        (("mois", "month", "months"), "months"),
        (("semaine", "semaines", "week", "weeks"), "weeks"),
        (("jour", "jours", "day", "days"), "days"),
        (("heure", "heures", "hour", "hours"), "hours"),
        (("minute", "minutes"), "minutes"),
        (("décennie", "décennies", "decade", "decades"), "decades"),
    )
    for names, unit in table:
        if lowered in names:
            return unit
    return "centuries"


def _is_count(
    text: str, match: re.Match[str], value: float, qualifier: str | None, groups: dict[str, str | None]
) -> bool:
    """A bare number counts only when it is a plausible statistic (not a year, 1, or a name)."""
    if groups["art"]:
        return False
    after = text[match.end() : match.end() + 40]
    before = text[max(0, match.start() - 30) : match.start()]
    next_word = _NEXT_WORD.match(after)
    following = next_word.group(1) if next_word else ""
    if groups["words"]:
        return value >= 3 and _is_noun(following) and _last_word(before) not in _RATIO_WORDS
    if value == 1 and not qualifier:
        return False
    raw = groups["num"] or ""
    named = _after_proper_name(before)
    if _FOUR_DIGITS.fullmatch(raw) and 1800 <= value <= 2100:
        if _YEAR_AFTER.match(after) or (not qualifier and _named_at_sentence_start(before)):
            return False
        return bool(qualifier) or (_is_noun(following) and not named and _last_word(before) not in _YEAR_CONTEXT)
    if named and not _is_noun(following):
        return False
    if following or qualifier or _CLOSING_PUNCTUATION.match(after):
        return True
    return not after.split("\n", 1)[0].strip() and before.rstrip(" \u00a0").endswith(";")


def _named_at_sentence_start(before: str) -> bool:
    """A capitalised name opening the sentence right before a year-like number (`France 2030 soutient`)."""
    name = _NAME_BEFORE_YEAR.search(before)
    if name is None:
        return False
    word = name.group(1).lower()
    return word not in _ABOUT_STOP and word not in _DETERMINERS and word not in _QUALIFIER_ENDINGS


def _after_proper_name(before: str) -> bool:
    """Whether the number follows a capitalised word inside a sentence (`France 2030`, `Ligue 1`)."""
    words_before = before.split()
    if not words_before or not words_before[-1][:1].isupper():
        return False
    previous = _CAPITALISED_BEFORE.search(before)
    return bool(previous) and not _SENTENCE_PUNCTUATION_END.search(previous.group(1))  # type: ignore[union-attr]


def _is_noun(word: str) -> bool:
    """Whether a word after a number reads as what is counted (lowercase, not a function word)."""
    return bool(word) and word[:1].islower() and word.lower() not in _ABOUT_STOP and word.lower() not in _NOT_COUNTED


_NEWLINE = re.compile("\n")
_PUNCTUATION_RUN = re.compile(r"[.!?…]+(?=\s|$)")


class _Sentences:
    """Sentence boundaries of a text, found once, to give the sentence around any position quickly."""

    def __init__(self, text: str) -> None:
        self.text = text
        marks = [mark.span() for mark in _PUNCTUATION_RUN.finditer(text) if not _after_initial(text, mark.start())]
        self.starts = [start for start, _ in marks]
        self.ends = [end for _, end in marks]
        self.newlines = [match.start() for match in _NEWLINE.finditer(text)]
        self.cache: dict[tuple[int, int], str] = {}

    def around(self, pos: int) -> str:
        """The sentence around a position, within its paragraph (at most 600 characters each side)."""
        line = bisect.bisect_left(self.newlines, pos)
        previous_newline = self.newlines[line - 1] if line else -1
        lo = max(previous_newline + 1, pos - 600, 0)
        index = bisect.bisect_right(self.ends, pos) - 1
        start = self.ends[index] if index >= 0 and self.starts[index] >= lo else lo
        next_newline = self.newlines[line] if line < len(self.newlines) else -1
        hi_limit = min(len(self.text), pos + 600) if next_newline < 0 or next_newline > pos + 600 else next_newline
        following = bisect.bisect_left(self.starts, pos)
        end = hi_limit
        if following < len(self.starts) and self.ends[following] <= min(hi_limit, pos + 600):
            end = self.ends[following]
        sentence = self.cache.get((start, end))
        if sentence is None:
            sentence = self.cache[(start, end)] = " ".join(self.text[start:end].split())
        return sentence


def _after_initial(text: str, pos: int) -> bool:
    """Whether the punctuation at `pos` follows a lone capital (`J. Smith`), which ends no sentence."""
    previous = text[pos - 1 : pos] if pos else ""
    if not ("A" <= previous <= "Z"):
        return False
    return pos < 2 or not (text[pos - 2].isalnum() or text[pos - 2] == "_")
