"""Social composer: announcements -> per-platform posts fitted to each platform's length rule."""

from __future__ import annotations

import re
from typing import Any

from jinja2 import Environment

from newsletter.compose.digest import LABELS, announcement_url, figure_display, figure_label, render_template
from newsletter.compose.length import measure
from newsletter.compose.templates import build_environment
from newsletter.config import Config
from newsletter.models import Announcement, Post
from newsletter.publish.base import ChannelConfig
from newsletter.registry import publisher_class

ELLIPSIS = " […]"
SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")


def platform_of(channel: ChannelConfig) -> str:
    """The length rule a channel follows (its publisher's platform)."""
    return publisher_class(channel.type).platform


def post_context(announcement: Announcement, channel: ChannelConfig, config: Config, variant: str) -> dict[str, Any]:
    """Template variables for one post: the announcement, its key quote and figures, URL, tags."""
    locale = announcement.language if announcement.language in LABELS else config.locale
    quote = announcement.main_quote
    return {
        "variant": variant,
        "title": announcement.title,
        "lede": announcement.lede,
        "url": announcement_url(announcement, config),
        "quote": quote,
        "figures": [
            {"display": figure_display(f, locale), "label": figure_label(f)} for f in announcement.main_figures[:3]
        ],
        "hashtags": [tag if tag.startswith("#") else f"#{tag}" for tag in channel.hashtags],
        "open_quote": LABELS[locale]["open_quote"],
        "close_quote": LABELS[locale]["close_quote"],
    }


def shorten_quote(quote_text: str, keep_sentences: int) -> str:
    """The first `keep_sentences` sentences of a quote, marked « […] » when cut."""
    sentences = SENTENCE_END.split(quote_text.strip())
    if keep_sentences >= len(sentences):
        return quote_text
    return " ".join(sentences[:keep_sentences]) + ELLIPSIS


def compose_post(
    environment: Environment, announcement: Announcement, channel: ChannelConfig, config: Config, variant: str
) -> Post | None:
    """One post for one variant, shortened at a sentence boundary if needed; None if it cannot fit."""
    platform = platform_of(channel)
    template = channel.template or f"social/{platform}.txt.j2"
    context = post_context(announcement, channel, config, variant)
    quote = context["quote"]
    sentence_count = len(SENTENCE_END.split(quote.text.strip())) if quote else 1
    for keep in range(sentence_count, 0, -1):
        if quote:
            context["quote"] = type(quote)(shorten_quote(quote.text, keep), quote.speaker, quote.role)
        text = render_template(environment, template, context).strip()
        measured = measure(text, platform, channel.limit)
        if measured.valid:
            return Post(channel.name, platform, announcement.id, variant, text, measured.length, measured.limit)
    return None


def compose_posts(announcement: Announcement, channel: ChannelConfig, config: Config) -> list[Post]:
    """Every variant the channel asks for that the announcement can fill and that fits."""
    environment = build_environment(config.resolve(config.templates_dir) if config.templates_dir else None,
                                    config.locale)
    posts = []
    for variant in channel.variants:
        if variant == "quote" and announcement.main_quote is None:
            continue
        if variant == "figure" and not announcement.main_figures:
            continue
        post = compose_post(environment, announcement, channel, config, variant)
        if post is not None:
            posts.append(post)
    return posts
