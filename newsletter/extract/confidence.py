"""How sure extraction is of each quote's speaker and each figure's meaning.

Scores run from 0 to 1; `core.models.Announcement.checks` reads them to flag an announcement
a person should check before it goes out.
"""

from __future__ import annotations

from newsletter.core.models import Figure

NAMED = 1.0  # the speaker is named next to the quote
INTERVIEWEE = 0.85  # an interview answer, given to the person interviewed
REFERENCE = 0.8  # a pronoun or role reference resolved in the same or the previous sentences
CARRIED = 0.8  # a quote going on from the previous one of the same speaker
NEARBY = 0.7  # the speaker is named in the paragraph before or after
FAR_REFERENCE = 0.6  # a reference resolved to someone named further away
NO_SPEAKER = 0.5  # nobody is said to speak
FIGURE_WITH_PHRASE = 1.0
FIGURE_WITHOUT_PHRASE = 0.5


def figure_score(figure: Figure) -> float:
    """A figure is sure when a phrase says what it counts, weaker without one."""
    return FIGURE_WITH_PHRASE if figure.about else FIGURE_WITHOUT_PHRASE


def score_figures(figures: list[Figure]) -> list[Figure]:
    """The figures, each with its score set."""
    for figure in figures:
        figure.score = figure_score(figure)
    return figures
