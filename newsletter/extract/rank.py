"""Rank quotes and figures for posts and digests: best quote, best figures first."""

from __future__ import annotations

import math
import re

from newsletter.core.models import Figure, Quote
from newsletter.extract.people import ROLE_HEADS

_SENIOR = re.compile(
    r"\b(?:ministre|minister|secrétaire d['’]état|secretary of state|premier ministre|prime minister|"
    r"président|présidente|president|préfet|préfète|maire|mayor|secretary|commissaire|commissioner)\b",
    re.IGNORECASE,
)
_POST_LENGTH = (60, 280)
MAX_KEY_FIGURES = 5
_KIND_WEIGHT = {"percent": 3.0, "count": 2.0, "money": 2.5, "duration": 0.0, "other": 0.5}


def quote_score(quote: Quote) -> float:
    """Higher is better: a full sentence by a named senior speaker that fits a post."""
    score = 0.0
    words = quote.text.split()
    if quote.speaker:
        score += 3
    if quote.role and _SENIOR.search(quote.role):
        score += 2
    elif quote.role and any(word.lower() in ROLE_HEADS for word in quote.role.split()):
        score += 1
    if _POST_LENGTH[0] <= len(quote.text) <= _POST_LENGTH[1]:
        score += 2
    elif len(quote.text) > _POST_LENGTH[1]:
        score += 1
    if len(words) < 5:
        score -= 3
    if quote.text[:1].isupper():
        score += 0.5
    return score


def figure_score(figure: Figure) -> float:
    """Higher is better: large counts and percentages with a clear subject beat durations."""
    score = _KIND_WEIGHT.get(figure.kind, 0.0)
    if figure.about:
        score += 2
    if figure.kind in {"count", "money"} and figure.value > 0:
        score += min(math.log10(figure.value), 9) / 3
    return score


def key_quote(quotes: list[Quote]) -> int | None:
    """Index of the best quote, or None when there is none."""
    if not quotes:
        return None
    return max(range(len(quotes)), key=lambda i: (quote_score(quotes[i]), -i))


def key_figures(figures: list[Figure], limit: int = MAX_KEY_FIGURES) -> list[int]:
    """Indexes of the best figures, best first: only figures whose phrase says what they count
    (a bare `35 %` is never a headline); durations and weak figures left out."""
    scores = [figure_score(figure) for figure in figures]
    ranked = sorted(range(len(figures)), key=lambda i: (-scores[i], i))
    return [i for i in ranked if scores[i] >= 2 and figures[i].about][:limit]
