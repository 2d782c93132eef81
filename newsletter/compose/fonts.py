"""Font stacks for cards: the shipped DejaVu Sans first, then installed fallbacks for what it lacks.

Pillow draws with one font at a time and has no fallback, so a line is cut into runs of grapheme
clusters, each drawn with the first font of the stack whose character map holds it (read with
fontTools). Emoji clusters (flags, ZWJ sequences, keycaps) go to the colour emoji font first,
which is a bitmap font drawn at its one size and scaled. Runs are shaped by libraqm where Pillow
has it (Arabic joining, right-to-left). The fallbacks are Debian's packages (`fonts-noto-color-emoji`,
`fonts-droid-fallback` for CJK); a missing one only means its characters fall back to boxes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import regex
from fontTools.ttLib import TTFont
from PIL import Image, ImageDraw, ImageFont, features

log = logging.getLogger(__name__)

FONTS_DIR = Path(__file__).resolve().parents[1] / "assets" / "fonts"
SYSTEM_FONTS_DIR = Path("/usr/share/fonts")
REGULAR_FONT = FONTS_DIR / "DejaVuSans.ttf"
BOLD_FONT = FONTS_DIR / "DejaVuSans-Bold.ttf"
CJK_FALLBACK = "DroidSansFallbackFull.ttf"
REGULAR: tuple[Path | str, ...] = (REGULAR_FONT, CJK_FALLBACK)
BOLD: tuple[Path | str, ...] = (BOLD_FONT, CJK_FALLBACK)
EMOJI_FONT = "NotoColorEmoji.ttf"
EMOJI_BITMAP_SIZE = 109  # the one strike size of Noto Color Emoji's CBDT bitmaps

# Cards are French or English: a line runs left to right, right-to-left runs inside it reordered
# by libraqm's bidi (direction needs libraqm; without it Pillow lays out left to right anyway).
DIRECTION = "ltr" if features.check("raqm") else None
_CLUSTER = regex.compile(r"\X")
_EMOJI = regex.compile(r"\p{Emoji_Presentation}|\p{Extended_Pictographic}\uFE0F|[0-9#*]\uFE0F?\u20E3")


@dataclass(frozen=True)
class Face:
    """One font file of a stack: its Pillow font at the drawing size, and how to draw it."""

    font: ImageFont.FreeTypeFont
    coverage: frozenset[int]
    bitmap: bool = False  # a colour bitmap font, drawn at its strike size and scaled by `scale`
    scale: float = 1.0

    def covers(self, cluster: str) -> bool:
        """Whether the face has a glyph for every code point of `cluster` but joiners and selectors."""
        return all(ord(char) in self.coverage for char in cluster if char not in "\u200d\ufe0e\ufe0f")


class FontStack:
    """A font at one size with fallbacks: measures and draws text run by run."""

    def __init__(self, paths: tuple[Path | str, ...], size: int):
        self.size = size
        self.faces = tuple(_face(path, size) for path in _installed(paths))
        self.emoji = _emoji_face(size)

    def getmetrics(self) -> tuple[int, int]:
        """Ascent and descent of the primary font (the line's own metrics)."""
        return self.faces[0].font.getmetrics()

    def runs(self, text: str) -> list[tuple[str, Face]]:
        """`text` cut into runs that one face each can draw (the primary when none can)."""
        runs: list[tuple[str, Face]] = []
        for cluster in _CLUSTER.findall(text):
            face = self._face_for(cluster)
            if runs and runs[-1][1] is face:
                runs[-1] = (runs[-1][0] + cluster, face)
            else:
                runs.append((cluster, face))
        return runs

    def getlength(self, text: str) -> float:
        """The advance width of `text` drawn with this stack, in pixels."""
        return sum(face.font.getlength(run, direction=DIRECTION) * face.scale for run, face in self.runs(text))

    def draw(self, image: Image.Image, left: float, baseline: float, text: str, fill: str) -> None:
        """Draw `text` with its left end at `left` and its baseline at `baseline`."""
        draw = ImageDraw.Draw(image)
        for run, face in self.runs(text):
            if face.bitmap:
                _paste_bitmap_run(image, face, run, (left, baseline))
            else:
                draw.text((left, baseline), run, font=face.font, fill=fill, anchor="ls", direction=DIRECTION)
            left += face.font.getlength(run, direction=DIRECTION) * face.scale

    def _face_for(self, cluster: str) -> Face:
        if self.emoji is not None and _EMOJI.match(cluster) and self.emoji.covers(cluster):
            return self.emoji
        return next((face for face in self.faces if face.covers(cluster)), self.faces[0])


@cache
def font_stack(paths: tuple[Path | str, ...], size: int) -> FontStack:
    """The stack of these fonts at `size` (cached: a card draws a few sizes many times)."""
    return FontStack(paths, size)


def _paste_bitmap_run(image: Image.Image, face: Face, run: str, origin: tuple[float, float]) -> None:
    """Draw a colour-bitmap run at the strike size, scale it to the line and paste it on the baseline."""
    ascent, descent = face.font.getmetrics()
    width = max(1, round(face.font.getlength(run)))
    strip = Image.new("RGBA", (width, ascent + descent), (0, 0, 0, 0))
    ImageDraw.Draw(strip).text((0, ascent), run, font=face.font, embedded_color=True, anchor="ls")
    scaled = strip.resize((max(1, round(width * face.scale)), max(1, round((ascent + descent) * face.scale))),
                          Image.Resampling.LANCZOS)
    left, baseline = origin
    image.paste(scaled, (round(left), round(baseline - ascent * face.scale)), scaled)


def _installed(paths: tuple[Path | str, ...]) -> list[Path]:
    """The stack's font files that exist: shipped paths as given, bare names looked up in the system."""
    found = [path for path in (_locate(entry) for entry in paths) if path is not None]
    if not found:
        raise FileNotFoundError(f"no font of {', '.join(map(str, paths))} is installed")
    return found


@cache
def _locate(entry: Path | str) -> Path | None:
    if isinstance(entry, Path):
        return entry if entry.is_file() else None
    found = next(iter(sorted(SYSTEM_FONTS_DIR.rglob(entry))), None) if SYSTEM_FONTS_DIR.is_dir() else None
    if found is None:
        log.info("fallback font %s is not installed: characters only it has are drawn as boxes", entry)
    return found


@cache
def _coverage(path: Path) -> frozenset[int]:
    """The code points the font file has glyphs for."""
    with TTFont(str(path), fontNumber=0, lazy=True) as font:
        return frozenset(font.getBestCmap())


@cache
def _face(path: Path, size: int) -> Face:
    return Face(ImageFont.truetype(str(path), size), _coverage(path))


@cache
def _emoji_face(size: int) -> Face | None:
    path = _locate(EMOJI_FONT)
    if path is None:
        return None
    font = ImageFont.truetype(str(path), EMOJI_BITMAP_SIZE)
    return Face(font, _coverage(path), bitmap=True, scale=size / EMOJI_BITMAP_SIZE)
