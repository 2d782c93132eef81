"""Quote cards: size, weight, margins, French typography and glyph coverage of the shipped font."""

from __future__ import annotations

from pathlib import Path

import pytest
import regex
from PIL import Image, ImageChops, ImageDraw, ImageFont

from newsletter.compose import cards, fonts
from newsletter.compose.cards import (
    CardBranding,
    card_alt_text,
    display_headline,
    render_card,
    typeset,
    wrap,
)
from tests.conftest import require_or_skip

BRANDING = CardBranding("Ministère de l'Économie, des Finances et de la Souveraineté industrielle et numérique")
QUOTE = "Avec ce plan, près de 900 000 ménages verront leur facture baisser dès l'été !"
LONG_QUOTE = " ".join(
    [
        "Nous allons investir massivement dans la transition écologique, l'école et la santé,"
        " parce que c'est ce qu'attendent les Françaises et les Français ; chacun le sait."
    ]
    * 12
)
FRENCH_GLYPHS = "«»’éèêëàâçîïôûùüœÉÈÀÇŒ€\u00a0\u202f—…"


def _render(tmp_path: Path, headline: str, **overrides: object) -> Image.Image:
    options: dict[str, object] = {
        "headline": headline,
        "attribution": "Éric Lombard, ministre de l'Économie",
        "date_text": "12 mars 2025",
        "branding": BRANDING,
        "out_path": tmp_path / "card.png",
    }
    options.update(overrides)
    media = render_card(**options)  # type: ignore[arg-type]
    return Image.open(media.path).convert("RGB")


def _margin_is_blank(image: Image.Image, background: str) -> bool:
    """True when every pixel within MARGIN of an edge is the background colour."""
    plain = Image.new("RGB", image.size, background)
    diff = ImageChops.difference(image, plain)
    inner = (cards.MARGIN, cards.MARGIN, image.width - cards.MARGIN, image.height - cards.MARGIN)
    diff.paste((0, 0, 0), inner)
    return diff.getbbox() is None


def test_card_is_a_1200x675_png_under_one_megabyte(tmp_path: Path) -> None:
    media = render_card(
        headline=QUOTE,
        attribution="Éric Lombard",
        date_text="12 mars 2025",
        branding=BRANDING,
        out_path=tmp_path / "out" / "card.png",
    )
    path = Path(media.path)
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert image.size == (1200, 675)
    assert 0 < path.stat().st_size < 1_000_000
    assert media.mime_type == "image/png"


def test_card_alt_text_says_what_the_card_says(tmp_path: Path) -> None:
    media = render_card(
        headline=QUOTE,
        attribution="Éric Lombard, ministre",
        date_text="12 mars 2025",
        branding=CardBranding("Ministère du Travail"),
        out_path=tmp_path / "card.png",
    )
    assert media.alt_text == f"{QUOTE} — Éric Lombard, ministre (Ministère du Travail, 12 mars 2025)"
    assert card_alt_text("900 000 foyers", None) == "900 000 foyers"


def test_card_draws_text_inside_the_margins(tmp_path: Path) -> None:
    image = _render(tmp_path, QUOTE)
    assert _margin_is_blank(image, BRANDING.background_color)
    inner = image.crop((cards.TEXT_LEFT, cards.MARGIN, cards.TEXT_RIGHT, cards.BODY_BOTTOM))
    assert ImageChops.difference(inner, Image.new("RGB", inner.size, "#ffffff")).getbbox()


def test_long_quote_is_drawn_smaller(tmp_path: Path) -> None:
    short = _render(tmp_path, QUOTE)
    long = _render(tmp_path, LONG_QUOTE, out_path=tmp_path / "long.png")
    assert _margin_is_blank(long, BRANDING.background_color)
    assert _first_line_height(long) < _first_line_height(short) * 0.6


def test_huge_quote_still_fits_the_card(tmp_path: Path) -> None:
    image = _render(tmp_path, LONG_QUOTE * 2, out_path=tmp_path / "huge.png")
    assert _margin_is_blank(image, BRANDING.background_color)
    assert (tmp_path / "huge.png").stat().st_size < 1_000_000


def test_figure_card_on_dark_branding_keeps_margins(tmp_path: Path) -> None:
    dark = CardBranding("Gouvernement", "#ffffff", "#000091", "#ffffff", accent_color="#e1000f")
    image = _render(tmp_path, "près de 900 000 bénéficiaires", branding=dark, kind="figure")
    assert _margin_is_blank(image, dark.background_color)
    assert image.getpixel((cards.MARGIN + 2, cards.HEIGHT // 2)) == (0xE1, 0x00, 0x0F)


def test_unknown_card_kind_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="quote, figure"):
        render_card(
            headline="x",
            attribution=None,
            date_text=None,
            branding=BRANDING,
            out_path=tmp_path / "c.png",
            kind="poster",
        )


def test_french_typography() -> None:
    text = typeset("Près de 900 000 aides ; c'est fait : bravo !")
    assert text == "Près de 900\u202f000 aides\u202f; c’est fait\u00a0: bravo\u202f!"
    assert typeset("It's 900 000", language="en") == "It’s 900 000"


def test_quote_headline_gets_french_or_english_quotation_marks() -> None:
    assert display_headline("C'est fait !", "quote", "fr") == "«\u00a0C’est fait\u202f!\u00a0»"
    assert display_headline("« Déjà cité »", "quote", "fr") == "«\u00a0Déjà cité\u00a0»"
    assert display_headline("It's done", "quote", "en") == "“It’s done”"
    assert display_headline("900 000 foyers", "figure", "fr") == "900\u202f000 foyers"


def test_wrap_never_breaks_at_no_break_spaces() -> None:
    font = fonts.font_stack(fonts.REGULAR, 40)
    text = display_headline("Près de 900 000 ménages aidés ; c'est beaucoup !", "quote", "fr")
    for width in range(300, 900, 50):
        lines = wrap(text, font, width)
        assert " ".join(lines) == text
        assert not any(line.startswith(("!", ";", "»", "000")) for line in lines)
        assert all(font.getlength(line) <= width for line in lines)


def test_wrap_splits_a_word_wider_than_the_line() -> None:
    font = fonts.font_stack(fonts.REGULAR, 40)
    url = "https://www.economie.gouv.fr/" + "tres-long-chemin/" * 10
    lines = wrap(url, font, 400)
    assert "".join(lines) == url
    assert all(font.getlength(line) <= 400 for line in lines)


@pytest.mark.parametrize("font_path", [fonts.REGULAR_FONT, fonts.BOLD_FONT], ids=["regular", "bold"])
def test_shipped_font_has_french_glyphs(font_path: Path) -> None:
    font = ImageFont.truetype(str(font_path), 48)
    missing = _glyph_pixels(font, "\U0010fffd")
    assert missing.strip(b"\x00"), "the missing-glyph box should have ink"
    assert _glyph_pixels(font, "\u4e00") == missing, "a CJK ideograph should show as tofu here"
    for char in FRENCH_GLYPHS:
        if char.isspace():
            assert _glyph_pixels(font, char) != missing
            assert 0 < font.getlength(char) < font.getlength("M")
        else:
            assert _glyph_pixels(font, char) != missing, f"tofu for {char!r}"


def test_font_licence_ships_with_the_fonts() -> None:
    licence = fonts.FONTS_DIR / "LICENSE-DejaVu.txt"
    assert "Bitstream" in licence.read_text(encoding="utf-8")


def _first_line_height(image: Image.Image) -> int:
    """Height in pixels of the first run of inked rows in the body box (the first text line)."""
    body = image.crop((cards.TEXT_LEFT, cards.MARGIN, cards.TEXT_RIGHT, cards.BODY_BOTTOM))
    diff = ImageChops.difference(body, Image.new("RGB", body.size, "#ffffff")).convert("L")
    inked = [bool(diff.crop((0, y, diff.width, y + 1)).getbbox()) for y in range(diff.height)]
    start = inked.index(True)
    return inked[start:].index(False)


def _glyph_pixels(font: ImageFont.FreeTypeFont, char: str) -> bytes:
    """The pixels of `char` drawn alone, to compare with the missing-glyph box."""
    image = Image.new("L", (96, 96))
    ImageDraw.Draw(image).text((16, 8), char, font=font, fill=255)
    return image.tobytes()


SCRIPTS = {
    "emoji": "Bravo 🎉 aux lauréats 👩🏽‍🎓",
    "flag": "Le programme s'ouvre 🇫🇷 🇪🇺",
    "japanese": "日本の若者の雇用",
    "chinese": "青年就业计划",
    "arabic": "برنامج تشغيل الشباب",
}


@pytest.fixture(scope="module")
def fallback_fonts() -> None:
    """Debian's fallback fonts the cards use for emoji and CJK (`.ci/system-deps.sh` installs them)."""
    for name in (fonts.EMOJI_FONT, fonts.CJK_FALLBACK):
        if not list(fonts.SYSTEM_FONTS_DIR.rglob(name)):
            require_or_skip(f"fallback font {name} is not installed (fonts-noto-color-emoji, fonts-droid-fallback)")


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_every_script_is_drawn_without_missing_glyph_boxes(script: str, fallback_fonts: None) -> None:
    stack = fonts.font_stack(fonts.REGULAR, 48)
    tofu = _glyph_pixels(ImageFont.truetype(str(fonts.REGULAR_FONT), 48), "\U0010fffd")
    for cluster in regex.findall(r"\X", SCRIPTS[script]):
        if cluster.isspace():
            continue
        ((_, face),) = stack.runs(cluster)
        assert face.covers(cluster), f"no font of the stack has {cluster!r}"
        drawn = _stack_pixels(stack, cluster)
        assert drawn.getbbox() is not None, f"nothing drawn for {cluster!r}"
        assert drawn.convert("L").tobytes() != tofu, f"missing-glyph box for {cluster!r}"


def test_emoji_and_flags_are_drawn_in_colour(tmp_path: Path, fallback_fonts: None) -> None:
    image = _render(tmp_path, SCRIPTS["flag"], attribution=None, date_text=None)
    palette = {(255, 255, 255), (0, 0, 145), (22, 22, 22)}
    colours = {pixel for _, pixel in image.getcolors(maxcolors=1_000_000) or []}
    reds = [c for c in colours - palette if c[0] > 180 and c[1] < 80 and c[2] < 80]
    assert reds, "the French flag's red should be on the card"


def test_a_flag_is_one_glyph_not_two_letters(fallback_fonts: None) -> None:
    stack = fonts.font_stack(fonts.REGULAR, 48)
    ((_, face),) = stack.runs("🇫🇷")
    assert face.bitmap
    assert stack.getlength("🇫🇷") < 1.5 * stack.getlength("🎉")


def test_arabic_letters_are_joined(fallback_fonts: None) -> None:
    stack = fonts.font_stack(fonts.REGULAR, 48)
    word = "الشباب"
    isolated = sum(stack.getlength(letter) for letter in word)
    assert stack.getlength(word) < isolated, "joined (shaped) Arabic is narrower than isolated letters"


def _stack_pixels(stack: fonts.FontStack, text: str) -> Image.Image:
    """`text` drawn alone with the stack on a black square, as the missing-glyph comparison needs."""
    image = Image.new("RGB", (96, 96))
    stack.draw(image, 16, 8 + stack.getmetrics()[0], text, "#ffffff")
    return image
