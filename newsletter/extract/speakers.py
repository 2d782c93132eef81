"""Speakers across a whole document: genders for pronouns, one spelling per person, interviewees."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from newsletter.core.models import Quote
from newsletter.extract import people
from newsletter.extract.text import words

FEMININE = "f"
MASCULINE = "m"
_PRONOUN_GENDER = {"elle": FEMININE, "elles": FEMININE, "she": FEMININE, "il": MASCULINE, "ils": MASCULINE,
                   "he": MASCULINE}
_HONORIFIC_GENDER = {
    **dict.fromkeys(("mme", "mmes", "madame", "mrs", "ms", "miss", "lady", "dame", "baroness"), FEMININE),
    **dict.fromkeys(("m.", "mm.", "monsieur", "mr", "sir", "lord", "baron"), MASCULINE),
}
_ARTICLE_GENDER = {"la": FEMININE, "une": FEMININE, "le": MASCULINE, "un": MASCULINE}
_FEMININE_HEADS = words(
    """
    déléguée directrice présidente vice-présidente préfète adjointe députée sénatrice haute-commissaire
    cheffe fondatrice cofondatrice co-fondatrice conseillère coordinatrice administratrice gérante
    chargée ambassadrice rectrice doyenne professeure chercheuse experte représentante élue trésorière
    patronne dirigeante directrice-générale chairwoman spokeswoman
    """
)
_MASCULINE_HEADS = words(
    """
    délégué directeur président vice-président préfet adjoint député sénateur haut-commissaire chef
    fondateur cofondateur co-fondateur conseiller coordinateur administrateur gérant chargé ambassadeur
    recteur doyen professeur chercheur expert représentant élu trésorier patron dirigeant
    directeur-général chairman spokesman
    """
)
_WORD = re.compile(r"[\w.'’-]+")
_INTERVIEW = re.compile(
    r"\b(?:entretien|interview|questions?\s+à|propos recueillis|q\s*&\s*a)\b", re.IGNORECASE
)
_INTERVIEWEE_INTRO = re.compile(
    r"(?:entretien avec|interview with|questions?\s+à|with)\s+(?:(?:la|le|l['’]|the)\s+)?(?:[\w'’-]+\s+){0,3}?$",
    re.IGNORECASE,
)
_QUESTION = re.compile(r"(?:\?\W*$|^\W*(?:question|q)\s*[:.)-])", re.IGNORECASE)
_MIN_QUESTIONS = 2
_LEAD_PARAGRAPHS = 2


def pronoun_gender(pronoun: str) -> str | None:
    """The gender a pronoun (`elle`, `he`) refers to, or None."""
    return _PRONOUN_GENDER.get(pronoun.strip().lower().removeprefix("-t-"))


def gender_near(text: str, start: int, role: str | None) -> str | None:
    """A person's gender from the honorific just before their name (`Mme`, `Mr`) or from their
    role as written (`la ministre`, `directrice`), or None."""
    before = _WORD.findall(text[max(0, start - 12) : start])
    if before and before[-1].lower().rstrip(".") in _HONORIFIC_GENDER:
        return _HONORIFIC_GENDER[before[-1].lower().rstrip(".")]
    if before and before[-1].lower() in _HONORIFIC_GENDER:
        return _HONORIFIC_GENDER[before[-1].lower()]
    return role_gender(role, text[max(0, start - 200) : start]) if role else None


def role_gender(role: str, context: str = "") -> str | None:
    """The gender a role implies: its article (`la ministre`) or a gendered head (`directrice`)."""
    written = context.rfind(role) if context else -1
    article = _WORD.findall(context[:written])[-1:] if written > 0 else []
    words = [w.lower() for w in _WORD.findall(role)]
    for word in [*article, *words[:1]]:
        word = word.lower().split("'")[0].split("’")[0]
        if word in _ARTICLE_GENDER:
            return _ARTICLE_GENDER[word]
    head = next((w for w in words if w.split("'")[-1].split("’")[-1] in people.ROLE_HEADS), "")
    head = head.split("'")[-1].split("’")[-1]
    if head in _FEMININE_HEADS:
        return FEMININE
    if head in _MASCULINE_HEADS:
        return MASCULINE
    return None


def fold(name: str) -> str:
    """A name without accents or case: `Hélène Garnier` and `Helene GARNIER` fold alike."""
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    return " ".join("".join(ch for ch in decomposed if not unicodedata.combining(ch)).split())


def one_spelling(quotes: Iterable[Quote], names: Iterable[str]) -> None:
    """Give every speaker the fullest spelling of their name found in the text (accents kept)."""
    best: dict[str, str] = {}
    for name in names:
        key = fold(name)
        if _accents(name) > _accents(best.get(key, "")):
            best[key] = name
        best.setdefault(key, name)
    for quote in quotes:
        if quote.speaker:
            quote.speaker = best.get(fold(quote.speaker), quote.speaker)


def _accents(name: str) -> int:
    """How many non-ASCII letters a spelling keeps."""
    return sum(not ch.isascii() for ch in name)


def interviewee(text: str, paragraphs: list[int], title: str) -> str | None:
    """The person an interview is with: named in the title after `entretien avec` / `questions à`,
    else the first person named in the opening paragraphs; None when the text is not an interview."""
    ends = [*paragraphs[1:], len(text)]
    blocks = [text[start:end].strip() for start, end in zip(paragraphs, ends, strict=True)]
    questions = sum(1 for block in blocks if _QUESTION.search(block) and not block.startswith(("«", "“", '"')))
    if questions < _MIN_QUESTIONS:
        return None
    for mention in people.find_people(title):
        if _INTERVIEWEE_INTRO.search(title[: mention.start]):
            return mention.name
    lead = text[: ends[min(_LEAD_PARAGRAPHS, len(ends)) - 1]]
    mentions = people.find_people(lead)
    if mentions and (_INTERVIEW.search(title) or _INTERVIEW.search(lead) or questions >= _MIN_QUESTIONS):
        return mentions[0].name
    named = people.find_people(title)
    return named[0].name if named else None


def is_answer(text: str, paragraphs: list[int], open_pos: int, close_pos: int) -> bool:
    """Whether a quote fills its whole paragraph (an interview answer)."""
    index = max(i for i, start in enumerate(paragraphs) if start <= open_pos)
    end = paragraphs[index + 1] if index + 1 < len(paragraphs) else len(text)
    return not text[paragraphs[index] : open_pos].strip(" *_>-") and not text[close_pos + 1 : end].strip(" \t\n*_.")
