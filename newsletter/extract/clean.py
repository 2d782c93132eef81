"""Markdown or plain text to clean blocks: markup stripped, boilerplate dropped, footnotes repaired."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

from newsletter.extract.acronyms import find_defined_acronyms
from newsletter.extract.footnotes import repair_footnotes
from newsletter.extract.text import words


@dataclass
class Block:
    """One paragraph or heading of clean text."""

    text: str
    heading: bool = False


@dataclass
class CleanDocument:
    """Clean text split into blocks, its title and the acronym glossary found on the way."""

    title: str
    blocks: list[Block]
    acronyms: dict[str, str] = field(default_factory=dict)

    @property
    def body(self) -> str:
        """The clean body: blocks separated by blank lines."""
        return "\n\n".join(block.text for block in self.blocks)


_MD_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)[ \t#]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_RULE = re.compile(r"^ {0,3}(?:(?:\*[ \t]*){3,}|(?:-[ \t]*){3,}|(?:_[ \t]*){3,})$")
_LIST_ITEM = re.compile(r"^[ \t]*(?:[-*+•▪►]|\d{1,3}[.)])[ \t]+")
_BLOCKQUOTE = re.compile(r"^[ \t]*(?:>[ \t]?)+")
_REF_DEF = re.compile(r"^ {0,3}\[[^\]\n]{1,200}\]:[ \t]+\S+.*$")
_IMAGE = re.compile(r"!\[[^\]\n]{0,500}\]\([^)\n]{0,2000}\)")
_LINK = re.compile(r"\[([^\]\n]{1,500})\]\((?:[^()\n]|\([^()\n]{0,500}\)){0,2000}\)")
_REF_LINK = re.compile(r"\[([^\]\n]{1,500})\]\[[^\]\n]{0,200}\]")
_AUTOLINK = re.compile(r"<((?:https?://|mailto:)[^>\s]{1,2000})>")
_INLINE_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9-]{0,20}(?:\s[^<>\n]{0,500})?/?>")
_EMPHASIS = re.compile(r"(?<![\w*])[*_]{1,3}(?=[^\s*_])|(?<=[^\s*_])[*_]{1,3}(?![\w*])")
_CODE = re.compile(r"`{1,3}([^`\n]{0,1000})`{1,3}")
_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|>])")
_MARKUP_STARTS = frozenset("*-_[|:#=+•▪►>")
_TABLE_RULE = re.compile(r"^[ \t]*\|?[ \t:|-]{3,}$")
_SPACES = re.compile(r"[ \t]+")
_TERMINAL = re.compile(r"[.!?:;,»\"”)]$")
_CONTACT = re.compile(
    r"^(?:contacts?[\s-]*(?:presse|press|médias?|media)|press\s+contacts?|media\s+(?:contacts?|"
    r"enquiries|inquiries)|relations?\s+(?:presse|médias)|service\s+de\s+presse|press\s+office|"
    r"notes?\s+to\s+editors|pour\s+(?:plus\s+d'|en\s+savoir\s+plus)|for\s+more\s+information)\b",
    re.IGNORECASE,
)
_CONTACT_DETAIL = re.compile(
    r"@|(?<![\w])(?:t[ée]l|tél[ée]phone|phone|fax|mobile|portable|presse|press)(?![\w])|(?:\d[\s.]?){8,}",
    re.IGNORECASE,
)
_SHARE_WORDS = words(
    """
    partager share facebook twitter x linkedin email e-mail mail imprimer print copier copy
    le la lien link whatsapp bluesky mastodon tweet sur on this page cette article envoyer
    send par by to à un ami friend ce cet
    """
)
_SHARE_REQUIRED = words(
    """
    partager share imprimer print tweet copier copy facebook linkedin
    """
)
_SEE_ALSO = re.compile(r"^(?:lire aussi|voir aussi|à lire aussi|read more|see also|related)\b", re.I)


_SHARE_TOKEN = re.compile(r"[\w-]+")


def clean_markdown(text: str, plain: bool, given_title: str = "") -> CleanDocument:
    """Strip Markdown markup and boilerplate; `plain` text treats short lone lines as headings.

    The first block becomes the title only when it is one: a heading or title-like line, or the
    `given_title` (from the source's metadata) repeated; otherwise it stays in the body."""
    if "&" in text:
        text = html.unescape(text)
    text, acronyms = repair_footnotes(text)
    blocks = _drop_boilerplate(_split_blocks(text, plain))
    title, blocks = _take_title(blocks, given_title)
    for block in blocks:
        for short, long in find_defined_acronyms(block.text).items():
            acronyms.setdefault(short, long)
    return CleanDocument(title=title, blocks=blocks, acronyms=acronyms)


def strip_inline(text: str) -> str:
    """Remove inline Markdown/HTML markup from one line of text."""
    if "[" in text:
        text = _IMAGE.sub("", text)
        text = _LINK.sub(r"\1", text)
        text = _REF_LINK.sub(r"\1", text)
    if "<" in text:
        text = _AUTOLINK.sub(r"\1", text)
        text = _INLINE_TAG.sub("", text)
    if "`" in text:
        text = _CODE.sub(r"\1", text)
    if "*" in text or "_" in text:
        text = _EMPHASIS.sub("", text)
    if "\\" in text:
        text = _ESCAPE.sub(r"\1", text)
    return " ".join(text.split())


def _split_blocks(text: str, plain: bool) -> list[Block]:
    """Group lines into blocks: blank lines, headings and list items start a new block."""
    blocks: list[Block] = []
    current: list[str] = []

    def flush() -> None:
        if current:
            joined = strip_inline(" ".join(current))
            if joined:
                blocks.append(Block(joined, plain and _looks_like_heading(joined)))
            current.clear()

    lines = text.split("\n")
    for index, line in enumerate(lines):
        stripped = line.strip()
        if not stripped:
            flush()
            continue
        markup = stripped[0] in _MARKUP_STARTS or stripped[0].isdigit()
        if markup and (_RULE.match(line) or _REF_DEF.match(line) or _TABLE_RULE.match(line)):
            flush()
            continue
        heading = _MD_HEADING.match(line) if markup else None
        if heading:
            flush()
            _add_heading(blocks, heading.group(2))
            continue
        if index + 1 < len(lines) and current == [] and _is_setext_underline(lines[index + 1]):
            _add_heading(blocks, stripped)
            continue
        if markup and _SETEXT.match(line) and blocks and blocks[-1].heading:
            continue
        item = _LIST_ITEM.match(line) if markup else None
        if item:
            flush()
            line = line[item.end() :]
        line = _BLOCKQUOTE.sub("", line).strip() if markup else stripped
        row = line.startswith("|") and line.endswith("|") and len(line) > 1
        if row:
            flush()
            line = "; ".join(cell.strip() for cell in line.strip("|").split("|") if cell.strip())
        else:
            line = line.strip("|").replace("|", " ")
        if current and _ends_paragraph(current[-1], line, plain):
            flush()
        current.append(line)
        if item or row:
            flush()
    flush()
    return blocks


def _is_setext_underline(line: str) -> bool:
    """`====` or `----` under a line makes it a heading."""
    return line.lstrip(" ")[:1] in ("=", "-") and bool(_SETEXT.match(line))


def _add_heading(blocks: list[Block], raw: str) -> None:
    """Append a heading block if it has any text left once markup is gone."""
    text = strip_inline(raw)
    if text:
        blocks.append(Block(text, heading=True))


def _ends_paragraph(previous: str, line: str, plain: bool) -> bool:
    """In plain text a line break ends a paragraph unless the previous line looks hard-wrapped."""
    if not plain:
        return False
    return len(previous) < 60 or bool(_TERMINAL.search(previous.rstrip()))


def _looks_like_heading(text: str) -> bool:
    """A short line without sentence punctuation, standing alone, reads as a heading."""
    words = text.split()
    return 0 < len(words) <= 12 and len(text) < 100 and not _TERMINAL.search(text)


def _drop_boilerplate(blocks: list[Block]) -> list[Block]:
    """Drop contact-press sections, share buttons and "see also" lines."""
    kept: list[Block] = []
    in_contact = False
    for block in blocks:
        if _CONTACT.match(block.text):
            in_contact = True
            continue
        if in_contact and (not block.heading or _CONTACT_DETAIL.search(block.text)):
            continue
        in_contact = False
        if _is_share_line(block.text) or (_SEE_ALSO.match(block.text) and len(block.text) < 120):
            continue
        kept.append(block)
    return kept


def _is_share_line(text: str) -> bool:
    """Tell whether a block is only share/print buttons."""
    if len(text) > 200:
        return False
    lowered = text.lower()
    if not any(word in lowered for word in _SHARE_REQUIRED):
        return False
    words = _SHARE_TOKEN.findall(lowered)
    return 0 < len(words) <= 12 and set(words) <= _SHARE_WORDS and bool(set(words) & _SHARE_REQUIRED)


def _take_title(blocks: list[Block], given: str) -> tuple[str, list[Block]]:
    """Take the first block as the title, removing it from the body, only when it is a title."""
    if not blocks:
        return "", blocks
    first = blocks[0]
    if given:
        return ("", blocks[1:]) if _same_text(first.text, given) else ("", blocks)
    if first.heading or _looks_like_title(first.text):
        return _tidy_title(first.text), blocks[1:]
    return "", blocks


def _looks_like_title(text: str) -> bool:
    """A short line with no sentence inside it (at most a final full stop) reads as a title."""
    if len(text) > 250 or _SENTENCE_INSIDE.search(text):
        return False
    return not _TITLE_END.search(text) or (text.endswith(".") and len(text.split()) <= 15)


_SENTENCE_INSIDE = re.compile(r"[.!?…]\s+\S")
_TITLE_END = re.compile(r"[.!?…:;,]$")
_NOT_ALNUM = re.compile(r"\W+")


def _same_text(text: str, title: str) -> bool:
    """Whether a block only repeats the title (case, punctuation and spacing aside)."""
    return _NOT_ALNUM.sub("", text.casefold()) == _NOT_ALNUM.sub("", title.casefold())


def _tidy_title(text: str) -> str:
    """Drop a trailing full stop from a title."""
    text = text.strip()
    return text[:-1].rstrip() if text.endswith(".") and not text.endswith("..") else text
