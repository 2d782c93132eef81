"""Acronyms defined in the text, as in « Service d'information du Gouvernement (SIG) »."""

from __future__ import annotations

import re
import unicodedata

from newsletter.extract.text import words

_PAREN_ACRONYM = re.compile(r"\(([A-Z][A-Za-z0-9&]{1,9})\)")
_ACRONYM_PAREN = re.compile(r"\b([A-Z][A-Z0-9&]{1,9})\s+\(([^()\n]{5,160})\)")
_WORD = re.compile(r"[\w'’-]+")
_MINOR = words(
    """
    de du des d l la le les et à au aux en pour sur par of the and for in on to a an
    """
)
_MAX_SKIPS = 2
_WINDOW = 200


_APOSTROPHE = re.compile(r"['’]")


def find_defined_acronyms(text: str) -> dict[str, str]:
    """Map each acronym defined in the text to its expansion."""
    found: dict[str, str] = {}
    if "(" not in text:
        return found
    for match in _PAREN_ACRONYM.finditer(text):
        letters = _letters(match.group(1))
        if len(letters) < 2:
            continue
        before = text[max(0, match.start() - _WINDOW) : match.start()].rstrip()
        expansion = _expansion_before(before, letters)
        if expansion:
            found.setdefault(match.group(1), expansion)
    for match in _ACRONYM_PAREN.finditer(text):
        letters = _letters(match.group(1))
        inside = match.group(2).strip()
        if _expansion_before(inside, letters) == inside:
            found.setdefault(match.group(1), inside)
    return found


def _letters(acronym: str) -> str:
    """The capital letters an expansion's words must start with."""
    return "".join(ch for ch in acronym if ch.isupper())


def _expansion_before(before: str, letters: str) -> str | None:
    """Walk back over the words before an acronym matching its letters to their initials."""
    words = list(_WORD.finditer(before))
    position = len(letters) - 1
    skips = 0
    for word in reversed(words):
        token = _APOSTROPHE.split(word.group(0))[-1]
        if not token:
            continue
        initial = unicodedata.normalize("NFKD", token[0])[0].upper()
        if initial == letters[position]:
            position -= 1
            if position < 0:
                return before[word.start() :].strip()
            continue
        if token.lower() in _MINOR:
            continue
        skips += 1
        if skips > _MAX_SKIPS or position == len(letters) - 1:
            return None
    return None
