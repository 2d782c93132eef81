"""Social composer: announcements -> per-platform posts fitted to each platform's length rule.

Fitting, in order, until the post is within the limit (`measure` counts as the platform does):
1. the full post;
2. a thread, unless the channel says `thread: false`: the first part stands alone (the quote
   cut at a sentence boundary, or between words, marked « […] », with its speaker; or the
   figure with its phrase; and the link), the replies carry the rest of the quote, the other
   figures, the lede and the title, split between paragraphs, then sentences, then words; the
   hashtags the first part drops go at the end of the last reply, never alone;
3. the key quote cut at a sentence boundary, the cut marked « […] » (never inside a URL,
   hashtag, mention or figure: cuts fall only between sentences);
4. a quote post that still does not fit becomes the figure post, unless the channel already
   has a figure variant;
5. the optional parts dropped in `DROP_ORDER`: hashtags (last first), the speaker's role,
   the figures after the first, the lede, the title.
A post that still does not fit is not composed (nothing over the limit is ever posted): the
plan shows it, with `unfit_reason`, in the preview and the review app.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import regex
from jinja2 import Environment

from newsletter.compose.cards import CardBranding, render_card
from newsletter.compose.digest import LABELS, announcement_url, figure_display, render_template
from newsletter.compose.length import find_urls, measure
from newsletter.compose.templates import build_environment, format_day, french_spacing
from newsletter.config import Config
from newsletter.core.models import Announcement, Figure, Media, Post, Quote
from newsletter.publish.base import ChannelConfig

log = logging.getLogger(__name__)

ELLIPSIS = " […]"
DROP_ORDER = ("hashtags", "role", "extra_figures", "lede", "title")
ABBREVIATIONS = frozenset(
    {"m", "mme", "mmes", "mm", "dr", "pr", "st", "ste", "art", "etc", "cf", "n°", "no", "p", "vol", "mr", "mrs", "ms"}
)
SENTENCE_GAP = re.compile(r"(?<=[.!?…])[\u00a0\u202f]?[»”\"]?\s+")
PROTECTED = regex.compile(r"(?<![\w@#])[#@][\w.@-]*\w|\d[\d\s\u00a0\u202f.,]*\d")
PARAGRAPH = re.compile(r"\n\s*\n")
LINE_BREAKS = re.compile(r"[ \t]*[\r\n\x0b\x0c\x85\u2028\u2029]+[ \t]*")
CONTROL = regex.compile(r"[\p{Cc}]")


def platform_of(channel: ChannelConfig) -> str:
    """The length rule a channel follows (its publisher's platform, named by its config model)."""
    return channel.platform


def one_line(text: str) -> str:
    """Untrusted text on one line: line breaks (CR, LF, U+2028…) become a space, other control
    characters go, so that a title with a stray CR/LF never turns a post into three lines."""
    return CONTROL.sub("", LINE_BREAKS.sub(" ", text)).strip()


def one_line_quote(quote: Quote | None) -> Quote | None:
    """The quote with its text, speaker and role each on one line."""
    if quote is None:
        return None
    return replace(quote, text=one_line(quote.text), speaker=quote.speaker and one_line(quote.speaker),
                   role=quote.role and one_line(quote.role))


def post_context(announcement: Announcement, channel: ChannelConfig, config: Config, variant: str) -> dict[str, Any]:
    """Template variables for one post: the announcement, its key quote and figures, URL, tags
    (announcement text put on one line: the template alone decides where lines break)."""
    locale = post_locale(announcement, config)
    return {
        "variant": variant,
        "announcement": announcement,
        "title": one_line(announcement.title),
        "lede": one_line(announcement.lede),
        "url": announcement_url(announcement, config),
        "quote": one_line_quote(announcement.main_quote),
        "figures": [figure_view(f, locale) for f in announcement.main_figures[:3]],
        "hashtags": [tag if tag.startswith("#") else f"#{tag}" for tag in channel.hashtags],
        "open_quote": LABELS[locale]["open_quote"],
        "close_quote": LABELS[locale]["close_quote"],
        "locale": locale,
    }


def figure_view(figure: Figure, locale: str) -> dict[str, str]:
    """A key figure for a post: `display` (`900 000`), `label` and the whole phrase `text`
    (`près de 900 000 jeunes accompagnés`)."""
    display = figure_display(figure, locale)
    label = figure.about or ""
    words = [one_line(figure.qualifier or ""), display, one_line(label)]
    return {"display": display, "label": one_line(label), "text": " ".join(w for w in words if w)}


def post_locale(announcement: Announcement, config: Config) -> str:
    """The announcement's language when we have labels for it, else the config's locale."""
    return announcement.language if announcement.language in LABELS else config.locale


def sentences(text: str) -> list[str]:
    """`text` split between sentences; a gap after an abbreviation (M., Mme, art.) or inside a
    URL, hashtag, mention or figure is not a boundary."""
    protected = [(s, e) for s, e, _ in find_urls(text)] + [m.span() for m in PROTECTED.finditer(text)]
    pieces: list[str] = []
    start = 0
    for gap in SENTENCE_GAP.finditer(text):
        cut = gap.start()
        word = text[:cut].rstrip("»”\"\u00a0\u202f").rsplit(None, 1)[-1].rstrip(".").lower()
        if word in ABBREVIATIONS or (len(word) == 1 and word.isalnum()) or any(s < cut < e for s, e in protected):
            continue
        following = text[gap.end():gap.end() + 1]
        if not (following.isupper() or following.isdigit() or following in "«“\"("):
            continue
        pieces.append(text[start:gap.end()].rstrip())
        start = gap.end()
    pieces.append(text[start:].strip())
    return [p for p in pieces if p]


def shorten_quote(quote_text: str, keep_sentences: int) -> str:
    """The first `keep_sentences` sentences of a quote, marked « […] » when cut."""
    parts = sentences(quote_text)
    if keep_sentences >= len(parts):
        return quote_text
    return " ".join(parts[:keep_sentences]) + ELLIPSIS


class PostComposer:
    """Renders and fits the posts of one channel."""

    def __init__(self, config: Config, channel: ChannelConfig, environment: Environment | None = None):
        self.config = config
        self.channel = channel
        self.platform = platform_of(channel)
        self.template = channel.template or f"social/{self.platform}.txt.j2"
        self.environment = environment or build_environment(
            config.resolve(config.templates_dir) if config.templates_dir else None, config.locale
        )

    def compose(self, announcement: Announcement, variant: str) -> Post | None:
        """One fitted post for `variant`, or None when nothing fits (`unfit_reason` says why)."""
        context = post_context(announcement, self.channel, self.config, variant)
        full = self.render(context)
        if self._fits(full):
            return self._post(announcement, variant, full)
        post = self._thread(announcement, variant, context) if self.channel.thread else None
        if post is None:
            post = self._fit_single(announcement, variant, context)
        if post is None and variant == "quote" and announcement.main_figures and "figure" not in self.channel.variants:
            figure_context = post_context(announcement, self.channel, self.config, "figure")
            post = self._fit_single(announcement, "figure", figure_context)
        if post is None:
            post = self._drop_optional(announcement, variant, context)
        return post

    def unfit_reason(self, announcement: Announcement, variant: str) -> str:
        """Why `variant` of `announcement` cannot be posted on this channel, for the team to read."""
        context = post_context(announcement, self.channel, self.config, variant)
        measured = measure(self.render(context), self.platform, self.channel.limit)
        threading = "even as a thread" if self.channel.thread else "and the channel does not thread (thread: false)"
        return (f"{measured.length} characters as {self.platform} counts them, over the limit of {measured.limit}, "
                f"{threading}, with every optional part dropped")

    def render(self, context: dict[str, Any]) -> str:
        """The template rendered with `context`, blank lines collapsed, ends trimmed."""
        text = render_template(self.environment, self.template, context)
        if context.get("locale") == "fr":
            text = french_spacing(text)  # `Plan jeunes : …`, `« … »` with no-break spaces, as in the digest
        return re.sub(r"\n{3,}", "\n\n", "\n".join(line.rstrip() for line in text.splitlines())).strip()

    def _post(self, announcement: Announcement, variant: str, text: str, thread: list[str] | None = None) -> Post:
        """A Post for `text` (and its thread parts), measured as the platform counts."""
        measured = measure(text, self.platform, self.channel.limit)
        return Post(self.channel.name, self.platform, announcement.id, variant, text, measured.length,
                    measured.limit, thread=thread or [], language=announcement.language or self.config.locale)

    def _fits(self, text: str) -> bool:
        """Whether `text` is within the channel's limit as the platform counts."""
        return measure(text, self.platform, self.channel.limit).valid

    def _fit_single(self, announcement: Announcement, variant: str, context: dict[str, Any]) -> Post | None:
        """The full post, else the quote shortened one sentence at a time."""
        for candidate in self._quote_versions(context):
            text = self.render(candidate)
            if self._fits(text):
                return self._post(announcement, variant, text)
        return None

    def _quote_versions(self, context: dict[str, Any]) -> list[dict[str, Any]]:
        """`context` with the full quote, then with fewer and fewer sentences of it."""
        quote: Quote | None = context["quote"]
        if quote is None or context["variant"] != "quote":
            return [context]
        count = len(sentences(quote.text))
        return [
            {**context, "quote": replace(quote, text=shorten_quote(quote.text, keep))}
            for keep in range(count, 0, -1)
        ]

    def _thread(self, announcement: Announcement, variant: str, context: dict[str, Any]) -> Post | None:
        """A thread whose first part stands alone (the quote with its speaker, or the figure with
        its phrase, and the link) and whose replies carry the rest of the text; None when no
        first part fits. Replies never hold only hashtags or only the link."""
        head = self._standalone(context)
        if head is None:
            return None
        text, kept = head
        rest = _rest_of(context, kept, full_text=self.render(context))
        replies = split_to_fit(rest, self._fits) if rest else []
        if not replies:
            return self._post(announcement, variant, text)
        return self._post(announcement, variant, text, _with_hashtags(replies, context, kept, self._fits))

    def _standalone(self, context: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
        """The first candidate post that fits (fewer sentences of the quote, then optional parts
        dropped, then the first sentence cut between words), with the context it came from."""
        candidates = self._quote_versions(context)
        current = candidates[-1]
        for part in DROP_ORDER:
            for reduced in _without(current, part):
                current = reduced
                candidates.append(reduced)
        candidates += _word_cuts(current)
        for candidate in candidates:
            text = self.render(candidate)
            if self._fits(text):
                return text, candidate
        return None

    def _drop_optional(self, announcement: Announcement, variant: str, context: dict[str, Any]) -> Post | None:
        """Drop optional parts one at a time (DROP_ORDER) with the shortest quote, until it fits."""
        current = self._quote_versions(context)[-1]
        for part in DROP_ORDER:
            for reduced in _without(current, part):
                current = reduced
                text = self.render(current)
                if self._fits(text):
                    return self._post(announcement, variant, text)
        return None


def _word_cuts(context: dict[str, Any]) -> list[dict[str, Any]]:
    """`context` with the quote's first sentence cut shorter and shorter between words (at least
    three kept), marked « […] »: the last resort for a thread's first part."""
    quote: Quote | None = context["quote"]
    if quote is None or context["variant"] != "quote":
        return []
    words = sentences(quote.text.removesuffix(ELLIPSIS))[0].split()
    return [{**context, "quote": replace(quote, text=" ".join(words[:keep]) + ELLIPSIS)}
            for keep in range(len(words) - 1, 2, -1)]


def _rest_of(full: dict[str, Any], kept: dict[str, Any], full_text: str) -> str:
    """What the first part left out of the full post `full_text`, as reply text: the rest of the
    quote, the other figures, the lede and the title (those the template shows)."""
    pieces: list[str] = []
    quote, shown = full["quote"], kept["quote"]
    if full["variant"] == "quote" and quote is not None and shown is not None and shown.text != quote.text:
        said = shown.text.removesuffix(ELLIPSIS).strip()
        remainder = quote.text[len(said):].strip() if quote.text.startswith(said) else ""
        if remainder:
            pieces.append(f"{full['open_quote']}[…] {remainder}{full['close_quote']}")
    if full["variant"] == "figure":
        pieces += [figure["text"] for figure in full["figures"][len(kept["figures"]):]]
    pieces += [full[part] for part in ("lede", "title") if full[part] and not kept[part] and full[part] in full_text]
    return "\n\n".join(pieces)


def _with_hashtags(replies: list[str], full: dict[str, Any], kept: dict[str, Any], fits: Any) -> list[str]:
    """The replies, with the hashtags the first part had to drop added to the last one when they
    fit there (a reply is never hashtags alone)."""
    dropped = [tag for tag in full["hashtags"] if tag not in kept["hashtags"]]
    if not dropped:
        return replies
    tagged = f"{replies[-1]} {' '.join(dropped)}"
    return [*replies[:-1], tagged] if fits(tagged) else replies


def _without(context: dict[str, Any], part: str) -> list[dict[str, Any]]:
    """Successive contexts with `part` removed (hashtags one at a time, last first)."""
    if part == "hashtags":
        tags = context["hashtags"]
        return [{**context, "hashtags": tags[:keep]} for keep in range(len(tags) - 1, -1, -1)]
    if part == "role":
        quote = context["quote"]
        return [{**context, "quote": replace(quote, role=None)}] if quote and quote.role else []
    if part == "extra_figures":
        return [{**context, "figures": context["figures"][:1]}] if len(context["figures"]) > 1 else []
    return [{**context, part: ""}] if context[part] else []


def split_to_fit(text: str, fits: Any) -> list[str] | None:
    """`text` packed greedily into parts that each fit: between paragraphs, then sentences,
    then words (a URL or hashtag is one word, never split). None if a single word is too long."""
    units: list[tuple[str, str]] = []
    for paragraph in PARAGRAPH.split(text):
        for unit in _units(paragraph.strip(), fits):
            if unit is None:
                return None
            units.append(unit)
        if units:
            units[-1] = (units[-1][0], "\n\n")
    parts: list[str] = []
    current = ""
    glue = ""
    for unit, joiner in units:
        candidate = f"{current}{glue}{unit}" if current else unit
        if fits(candidate):
            current = candidate
        else:
            parts.append(current)
            current = unit
        glue = joiner
    if current:
        parts.append(current)
    return [p.strip() for p in parts if p.strip()]


def _units(paragraph: str, fits: Any) -> list[tuple[str, str] | None]:
    """A paragraph's pieces that each fit, with the joiner to the next piece."""
    if fits(paragraph):
        return [(paragraph, " ")]
    pieces: list[tuple[str, str] | None] = []
    for sentence in sentences(paragraph):
        if fits(sentence):
            pieces.append((sentence, " "))
            continue
        for word in sentence.split():
            pieces.append((word, " ") if fits(word) else None)
    return pieces


def render_post_card(announcement: Announcement, post: Post, config: Config, cards_dir: Path) -> Media | None:
    """The PNG card for a quote or figure post (None for other variants or without content)."""
    locale = post_locale(announcement, config)
    quote = announcement.main_quote
    branding = config.branding
    card_branding = CardBranding(
        name=branding.name or branding.organisation,
        primary_color=branding.primary_color,
        background_color=branding.background_color,
        text_color=branding.text_color,
        accent_color=branding.accent_color,
    )
    if post.variant == "quote" and quote is not None:
        headline, attribution, kind = quote.text, _speaker(quote), "quote"
    elif post.variant == "figure" and announcement.main_figures:
        headline = figure_view(announcement.main_figures[0], locale)["text"]
        attribution, kind = announcement.title, "figure"
    else:
        return None
    out_path = cards_dir / post.channel / f"{announcement.id}-{post.variant}.png"
    date_text = format_day(announcement.published, locale) if announcement.published else None
    return render_card(headline=headline, attribution=attribution, date_text=date_text, branding=card_branding,
                       out_path=out_path, kind=kind, language=locale)


def _speaker(quote: Quote) -> str | None:
    """The quote's attribution: `speaker, role`, the speaker alone, or None."""
    if quote.speaker and quote.role:
        return f"{quote.speaker}, {quote.role}"
    return quote.speaker


@dataclass(frozen=True)
class UnfitVariant:
    """A variant the channel asks for that the announcement fills but that fits in no post."""

    channel: str
    announcement_id: str
    title: str
    variant: str
    reason: str


def compose_posts(
    announcement: Announcement, channel: ChannelConfig, config: Config, *, cards_dir: Path | None = None,
    unfit: list[UnfitVariant] | None = None,
) -> list[Post]:
    """Every variant the channel asks for that the announcement can fill and that fits; with
    `cards_dir` and `card: true`, quote and figure posts get their card attached. A variant that
    fits nowhere is added to `unfit` with the reason, so the plan can show it."""
    composer = PostComposer(config, channel)
    posts: list[Post] = []
    for variant in channel.variants:
        if variant == "quote" and announcement.main_quote is None:
            continue
        if variant == "figure" and not announcement.main_figures:
            continue
        post = composer.compose(announcement, variant)
        if post is None and unfit is not None:
            reason = composer.unfit_reason(announcement, variant)
            unfit.append(UnfitVariant(channel.name, announcement.id, announcement.title, variant, reason))
        if post is None or any(p.variant == post.variant for p in posts):
            continue
        if cards_dir is not None and channel.card:
            card = render_post_card(announcement, post, config, cards_dir)
            post.media = [card] if card else []
        posts.append(post)
    return posts
