"""Repair footnotes: drop markers and notes blocks, keep expansions as an acronym glossary."""

from __future__ import annotations

import re

_NOTES_HEADER = re.compile(
    r"^[^\S\n#*]*(?:notes?|footnotes?|notes de bas de page)[^\S\n*]*(?:\[\s*\+\s*\])?[^\S\n*:]*$",
    re.IGNORECASE | re.MULTILINE,
)
_NOTE_LINE = re.compile(r"^[^\S\n]*\[?\s*(\d{1,3})\s*\]?[.)]?[^\S\n]+(\S.*)$")
_MD_NOTE_DEF = re.compile(r"^\[\^([^\]\n]{1,20})\]:[ \t]*(.*)$", re.MULTILINE)
_MARKER = re.compile(r"\[\s*(\d{1,3}|\^[^\]\s]{1,20})\s*\](?:\(#[^)\s]{0,100}\))?")
_WORD_BEFORE = re.compile(r"[\w'’&-]{1,40}$")
_ORPHAN_PLUS = re.compile(r"\[\s*\+\s*\]")
_GUESSED_EXPANSION = re.compile(r"[A-ZÀ-Ý][^\[\]\n]{2,200}?\.(?=[\s,;:)]|$)")


def repair_footnotes(text: str) -> tuple[str, dict[str, str]]:
    """Return the text without footnote markers or notes and the glossary the notes define."""
    notes: dict[str, str] = {}
    text = _cut_notes_block(text, notes)
    if "[^" in text:
        text = _MD_NOTE_DEF.sub(lambda m: _keep_note(notes, m.group(1), m.group(2)), text)
    glossary: dict[str, str] = {}
    if "[" in text:
        text = _replace_markers(text, notes, glossary)
        text = _ORPHAN_PLUS.sub("", text)
    return text, glossary


def _keep_note(notes: dict[str, str], key: str, value: str) -> str:
    """Record a Markdown footnote definition and drop it from the text."""
    notes[key.lstrip("^")] = value.strip()
    return ""


def _cut_notes_block(text: str, notes: dict[str, str]) -> str:
    """Remove a trailing "Notes [ + ]" block, recording its numbered notes."""
    headers = list(_NOTES_HEADER.finditer(text))
    if not headers:
        return text
    header = headers[-1]
    lines = text[header.end() :].split("\n")
    consumed = 0
    for consumed, line in enumerate(lines):  # noqa: B007  (index used after the loop)
        if not line.strip():
            continue
        match = _NOTE_LINE.match(line)
        if not match:
            break
        notes[match.group(1)] = match.group(2).strip()
    else:
        consumed = len(lines)
    if not notes:
        return text
    return text[: header.start()] + "\n".join(lines[consumed:])


def _replace_markers(text: str, notes: dict[str, str], glossary: dict[str, str]) -> str:
    """Drop each `[ n ]` marker and the inline expansion a scraper glued after it."""
    pieces: list[str] = []
    cursor = 0
    for marker in _MARKER.finditer(text):
        if marker.start() < cursor:
            continue
        key = marker.group(1).lstrip("^")
        glued = _WORD_BEFORE.search(text, max(cursor, marker.start() - 40), marker.start())
        word = glued.group(0) if glued else ""
        pieces.append(text[cursor : marker.start()])
        cursor = marker.end()
        expansion = _inline_expansion(text, cursor, notes.get(key))
        if expansion:
            cursor += len(expansion)
        meaning = (expansion or notes.get(key) or "").strip().rstrip(".").strip()
        if word and meaning and any(ch.isupper() for ch in word[:1]) and len(meaning) <= 200:
            glossary.setdefault(word, meaning)
    pieces.append(text[cursor:])
    return "".join(pieces)


def _inline_expansion(text: str, start: int, note: str | None) -> str:
    """The note text glued right after a marker, if any (exact note, else a capitalised phrase)."""
    if note:
        for candidate in (note, note.rstrip(".")):
            if candidate and text.startswith(candidate, start):
                return candidate
        return ""
    match = _GUESSED_EXPANSION.match(text, start)
    return match.group(0) if match else ""
