"""Quote cards: a 1200×675 PNG with the key quote or figure, the speaker, the date and the branding.

Drawn with Pillow using the DejaVu Sans fonts shipped in newsletter/assets/fonts, with installed
fallbacks for emoji and CJK (compose/fonts.py); long text is wrapped by measured width and shrunk
until it fits, with an ellipsis only as a last resort.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw

from newsletter.compose.fonts import BOLD, REGULAR, FontStack, font_stack
from newsletter.core.models import Media

WIDTH, HEIGHT = 1200, 675
MARGIN = 64
ACCENT_BAR_WIDTH = 10
TEXT_LEFT = MARGIN + ACCENT_BAR_WIDTH + 36
TEXT_RIGHT = WIDTH - MARGIN - 8
FOOTER_SIZE = 28
FOOTER_TOP = HEIGHT - MARGIN - round(FOOTER_SIZE * 1.2)
BODY_BOTTOM = FOOTER_TOP - 40
HEADLINE_SIZES = {"quote": (60, 22), "figure": (96, 26)}
LINE_SPACING = 1.25
MAX_PNG_BYTES = 1_000_000
MAX_ALT_TEXT = 1000

NBSP = "\u00a0"
NNBSP = "\u202f"
ELLIPSIS = "…"
CLOSING_MARKS = (f"{NBSP}»", "”")

_BREAKABLE_SPACE = re.compile(r"[ \t\n]+")
_DIGIT_GROUP_SPACE = re.compile(r"(?<=\d)[ \u00a0](?=\d{3}(?!\d))")
_SPACE_BEFORE_HIGH_PUNCT = re.compile(r"[ \u00a0]+(?=[;!?])")
_SPACE_BEFORE_COLON = re.compile(r"[ \u202f]+(?=:)")


@dataclass(frozen=True)
class CardBranding:
    """Who the card speaks for: a name and the colours of its visual identity."""

    name: str
    primary_color: str = "#000091"
    background_color: str = "#ffffff"
    text_color: str = "#161616"
    accent_color: str | None = None


@dataclass(frozen=True)
class _Block:
    """Headline lines fitted at one font size."""

    font: FontStack
    lines: list[str]
    line_height: int

    @property
    def height(self) -> int:
        return self.line_height * len(self.lines)


def render_card(
    *,
    headline: str,
    attribution: str | None,
    date_text: str | None,
    branding: CardBranding,
    out_path: Path,
    kind: str = "quote",
    language: str = "fr",
) -> Media:
    """Draw the card to `out_path` (PNG) and return it as post media with its alt text."""
    if kind not in HEADLINE_SIZES:
        raise ValueError(f"unknown card kind {kind!r}: expected one of {', '.join(HEADLINE_SIZES)}")
    image = Image.new("RGB", (WIDTH, HEIGHT), branding.background_color)
    body = display_headline(headline, kind, language)
    credit = f"— {typeset(attribution, language)}" if attribution else None
    _draw_body(image, body, credit, kind, branding)
    _draw_footer(image, date_text, branding, language)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    _save_png(image, out_path)
    alt_text = card_alt_text(headline, attribution, footer=(branding.name, date_text))
    return Media(path=str(out_path), alt_text=alt_text)


def card_alt_text(headline: str, attribution: str | None, footer: tuple[str | None, ...] = ()) -> str:
    """Alt text saying what the card says: the headline, ' — ' and the speaker when known, then
    the footer's branding name and date."""
    text = " ".join(headline.split())
    if attribution:
        text = f"{text} — {' '.join(attribution.split())}"
    footer_text = ", ".join(" ".join(part.split()) for part in footer if part)
    if footer_text:
        text = f"{text} ({footer_text})"
    if len(text) > MAX_ALT_TEXT:
        text = text[: MAX_ALT_TEXT - 1].rstrip() + ELLIPSIS
    return text


def typeset(text: str, language: str = "fr") -> str:
    """Typographic apostrophes, and for French the no-break spaces before ; ! ? : and in numbers."""
    text = " ".join(text.split()).replace("'", "’")
    if language != "fr":
        return text
    text = _DIGIT_GROUP_SPACE.sub(NNBSP, text)
    text = _SPACE_BEFORE_HIGH_PUNCT.sub(NNBSP, text)
    return _SPACE_BEFORE_COLON.sub(NBSP, text)


def wrap(text: str, font: FontStack, max_width: int) -> list[str]:
    """Greedy line breaking on breakable spaces by measured width; no-break spaces hold."""
    lines: list[str] = []
    current = ""
    for word in _BREAKABLE_SPACE.split(text.strip()):
        candidate = f"{current} {word}" if current else word
        if font.getlength(candidate) <= max_width:
            current = candidate
            continue
        if current:
            lines.append(current)
        pieces = _split_to_width(word, font, max_width)
        lines.extend(pieces[:-1])
        current = pieces[-1]
    if current:
        lines.append(current)
    return lines


def display_headline(headline: str, kind: str, language: str) -> str:
    """The headline as drawn: typeset, and a quote inside the language's quotation marks."""
    text = typeset(headline, language).strip('«»“”"' + NBSP + NNBSP + " ")
    if kind != "quote":
        return text
    if language == "fr":
        return f"«{NBSP}{text}{NBSP}»"
    return f"“{text}”"


def _draw_body(
    image: Image.Image,
    body: str,
    credit: str | None,
    kind: str,
    branding: CardBranding,
) -> None:
    """Draw headline and credit centred vertically in the body box, beside the accent bar."""
    block, credit_block = _fit_body(body, credit, kind)
    credit_height = _stacked_height(credit_block)
    top = MARGIN + (BODY_BOTTOM - MARGIN - block.height - credit_height) // 2
    accent = branding.accent_color or branding.primary_color
    ImageDraw.Draw(image).rectangle(
        (MARGIN, top, MARGIN + ACCENT_BAR_WIDTH - 1, top + block.height + credit_height),
        fill=accent,
    )
    headline_color = branding.primary_color if kind == "figure" else branding.text_color
    top = _draw_lines(image, block, top, headline_color)
    if credit_block:
        _draw_lines(image, credit_block, top + credit_block.line_height // 2, branding.primary_color)


def _fit_body(body: str, credit: str | None, kind: str) -> tuple[_Block, _Block | None]:
    """The largest headline size (step 2) at which headline and credit fit the body box together."""
    box_width, box_height = TEXT_RIGHT - TEXT_LEFT, BODY_BOTTOM - MARGIN
    fonts = BOLD if kind == "figure" else REGULAR
    largest, smallest = HEADLINE_SIZES[kind]
    for size in range(largest, smallest - 1, -2):
        block = _wrapped(body, font_stack(fonts, size), box_width)
        credit_block = _credit_block(credit, size, box_width)
        if block.height + _stacked_height(credit_block) <= box_height:
            return block, credit_block
    credit_block = _credit_block(credit, smallest, box_width)
    room = box_height - _stacked_height(credit_block)
    closing = next((mark for mark in CLOSING_MARKS if body.endswith(mark)), "")
    return _truncated(block, room, box_width, closing), credit_block


def _credit_block(credit: str | None, headline_size: int, max_width: int) -> _Block | None:
    """The credit at about half the headline size (20 to 30 px), on two lines at most."""
    if not credit:
        return None
    size = min(30, max(20, round(headline_size * 0.5)))
    block = _wrapped(credit, font_stack(BOLD, size), max_width)
    return _truncated(block, 2 * block.line_height, max_width)


def _stacked_height(credit_block: _Block | None) -> int:
    """Height the credit adds below the headline, gap included."""
    return credit_block.height + credit_block.line_height // 2 if credit_block else 0


def _draw_footer(image: Image.Image, date_text: str | None, branding: CardBranding, language: str) -> None:
    """Date at the bottom right, branding name in the room left of it, each on one line."""
    name_room = TEXT_RIGHT - MARGIN
    if date_text:
        date = _one_line(typeset(date_text, language), REGULAR, name_room // 2)
        date_width = date.font.getlength(date.lines[0])
        _draw_on_baseline(image, TEXT_RIGHT - date_width, date, branding.text_color)
        name_room -= round(date_width) + 40
    name = _one_line(typeset(branding.name, language), BOLD, name_room)
    _draw_on_baseline(image, MARGIN, name, branding.primary_color)


def _one_line(text: str, fonts: tuple[Path | str, ...], max_width: int) -> _Block:
    """`text` fitted on a single footer line."""
    return _fit(text, fonts, (FOOTER_SIZE, 16), max_width, round(FOOTER_SIZE * LINE_SPACING))


def _draw_on_baseline(image: Image.Image, x: float, block: _Block, color: str) -> None:
    """Draw a footer line so that its descenders stop at the bottom margin."""
    descent = block.font.getmetrics()[1]
    block.font.draw(image, x, HEIGHT - MARGIN - descent, block.lines[0], color)


def _fit(text: str, fonts: tuple[Path | str, ...], sizes: tuple[int, int], max_width: int, max_height: int) -> _Block:
    """The largest size (step 2) whose wrapped lines fit; at the smallest, cut with an ellipsis."""
    largest, smallest = sizes
    for size in range(largest, smallest - 1, -2):
        block = _wrapped(text, font_stack(fonts, size), max_width)
        if block.height <= max_height:
            return block
    return _truncated(block, max_height, max_width)


def _truncated(block: _Block, max_height: int, max_width: int, closing: str = "") -> _Block:
    """`block` cut to the lines that fit in `max_height`, the last one ending in an ellipsis
    followed by `closing` (the closing quotation mark of a cut quote)."""
    keep = max(1, max_height // block.line_height)
    if len(block.lines) <= keep:
        return block
    last = _with_ellipsis(block.lines[keep - 1], block.font, max_width, closing)
    return _Block(block.font, [*block.lines[: keep - 1], last], block.line_height)


def _wrapped(text: str, font: FontStack, max_width: int) -> _Block:
    return _Block(font, wrap(text, font, max_width), round(font.size * LINE_SPACING))


def _draw_lines(image: Image.Image, block: _Block, top: int, color: str) -> int:
    """Draw each line from `top`; return the y below the block."""
    ascent = block.font.getmetrics()[0]
    for line in block.lines:
        block.font.draw(image, TEXT_LEFT, top + ascent, line, color)
        top += block.line_height
    return top


def _split_to_width(word: str, font: FontStack, max_width: int) -> list[str]:
    """A word wider than the line, cut into pieces that fit (URLs, very long compounds)."""
    pieces = [""]
    for char in word:
        if pieces[-1] and font.getlength(pieces[-1] + char) > max_width:
            pieces.append("")
        pieces[-1] += char
    return pieces


def _with_ellipsis(line: str, font: FontStack, max_width: int, closing: str = "") -> str:
    """`line` shortened until it, an ellipsis and `closing` fit."""
    tail = ELLIPSIS + closing
    while line and font.getlength(line + tail) > max_width:
        line = line[:-1]
    return line.rstrip(" ,;:" + NBSP + NNBSP) + tail


def _save_png(image: Image.Image, out_path: Path) -> None:
    """Save as optimised PNG; fall back to a 256-colour palette if over the 1 MB limit."""
    image.save(out_path, format="PNG", optimize=True)
    if out_path.stat().st_size > MAX_PNG_BYTES:
        image.quantize(colors=256).save(out_path, format="PNG", optimize=True)
