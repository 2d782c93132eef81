"""Word classes (noun, adjective, verb, participle) of French text right after figures, from spaCy's
small French pipeline (`fr_core_news_sm`: tok2vec and morphologizer only, loaded once, when a span is
first tagged; most documents have none, see `phrases.rules_unsure`).

Deciding whether `puissent`, `occupaient` or `signer` ends a figure's phrase is a tagging problem; the
model measured better than hand-written agreement rules on every labelled set (bench/extract_quality.py).
"""

from __future__ import annotations

import bisect
import functools
import logging
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)
MODEL = "fr_core_news_sm"
_UNUSED_COMPONENTS = ["parser", "ner", "senter", "lemmatizer", "attribute_ruler"]


@dataclass(frozen=True)
class WordClass:
    """A word's universal part of speech (`NOUN`, `ADJ`, `VERB`…) and whether it is a participle."""

    pos: str
    participle: bool = False


def french_word_classes(text: str, spans: list[tuple[int, int]]) -> dict[int, WordClass]:
    """The word class of every word in the given spans of `text`, keyed by its offset in `text`, the spans
    tagged together, one per line; empty when the model is not installed (the rules then decide alone)."""
    if not spans:
        return {}
    nlp = _pipeline()
    if nlp is None:
        return {}
    pieces, offsets = [], []
    joined_length = 0
    for start, end in _merged(spans):
        pieces.append(text[start:end])
        offsets.append((joined_length, start - joined_length))
        joined_length += end - start + 1
    starts = [joined for joined, _ in offsets]
    classes: dict[int, WordClass] = {}
    for token in nlp("\n".join(pieces)):  # one document: far cheaper than one per span
        if token.is_space:
            continue
        shift = offsets[bisect.bisect_right(starts, token.idx) - 1][1]
        classes[token.idx + shift] = WordClass(token.pos_, "Part" in token.morph.get("VerbForm"))
    return classes


def model_loaded() -> bool:
    """Whether this process has loaded the tagger: it costs seconds and ~140 MB, so extraction loads it only
    for a document with a figure phrase the rules are unsure of."""
    return _pipeline.cache_info().currsize > 0


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Overlapping spans joined, so that each word is tagged once, with all the context around it."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


@functools.cache
def _pipeline() -> Any:
    """spaCy's French tagger, loaded once; None (logged once) when spaCy or the model is missing.
    BLAS is kept to one thread: on windows this small its threads only spin, halving throughput."""
    try:
        import spacy
        from threadpoolctl import threadpool_limits

        nlp = spacy.load(MODEL, exclude=_UNUSED_COMPONENTS)
    except (ImportError, OSError) as exc:
        log.warning("French word classes unavailable (%s): figure phrases use the hand-written rules", exc)
        return None
    threadpool_limits(limits=1, user_api="blas")
    return nlp
