"""Digest composer: announcements -> one compiled digest issue with per-recipient placeholders.

The MJML is rendered and compiled once per issue; per-recipient values (unsubscribe link,
web copy link) are substituted afterwards by `personalise`, escaped, never as template code.
"""

from __future__ import annotations

import hashlib
import html
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from jinja2 import Environment, TemplateError
from mjml import mjml2html

from newsletter.compose.templates import build_environment, format_number, format_percentage
from newsletter.config import Config, DigestConfig
from newsletter.errors import ComposeError
from newsletter.models import Announcement, Digest, Figure

PLACEHOLDER_PREFIX = "%%NL_"
PLACEHOLDERS = {
    "unsubscribe_url": "%%NL_UNSUBSCRIBE_URL%%",
    "browser_url": "%%NL_BROWSER_URL%%",
}
LABELS = {
    "fr": {
        "read_more": "Lire la suite",
        "unsubscribe": "Se désabonner",
        "view_online": "Voir dans le navigateur",
        "open_quote": "«\u00a0",
        "close_quote": "\u00a0»",
    },
    "en": {
        "read_more": "Read more",
        "unsubscribe": "Unsubscribe",
        "view_online": "View in your browser",
        "open_quote": "“",
        "close_quote": "”",
    },
}
HEADER_UNSAFE = re.compile(r"[\x00-\x1f\x7f]+")


@dataclass(frozen=True)
class FigureView:
    """A key figure as a digest shows it: the value set large and what it counts."""

    display: str
    label: str


def figure_display(figure: Figure, locale: str) -> str:
    """A figure's value written for the locale: `900 000`, `7,4 %`, `2,5 Md£`."""
    if figure.kind == "percent":
        return format_percentage(figure.value, locale)
    number = format_number(figure.value, locale)
    if figure.value_max is not None:
        number = f"{number}–{format_number(figure.value_max, locale)}"
    if figure.kind == "money" and figure.unit:
        return f"{number}\u00a0{figure.unit}"
    return number


def figure_label(figure: Figure) -> str:
    """What a figure counts, falling back to its unit."""
    words = [figure.qualifier or "", figure.unit if figure.kind == "duration" else "", figure.about or ""]
    return " ".join(w for w in words if w).strip()


def untrusted(text: str | None) -> str:
    """Announcement text made inert for our placeholders (escaping is left to the templates)."""
    return (text or "").replace(PLACEHOLDER_PREFIX, "%% NL_")


def add_utm(url: str, utm: dict[str, str]) -> str:
    """The URL with the configured `utm_*` parameters added (existing ones are kept)."""
    if not utm:
        return url
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    for key, value in utm.items():
        query.setdefault(f"utm_{key.removeprefix('utm_')}", value)
    return urlunsplit(parts._replace(query=urlencode(query)))


def announcement_url(announcement: Announcement, config: Config) -> str:
    """The announcement's own URL, or its page on the public site when it has none."""
    if announcement.url and announcement.url.startswith(("http://", "https://")):
        return announcement.url
    return f"{config.public_base_url}/announcements/{announcement.id}"


def card_view(announcement: Announcement, config: Config, digest: DigestConfig, locale: str) -> dict[str, Any]:
    """The data one digest card shows, with untrusted text neutralised."""
    quote = announcement.main_quote
    figures = announcement.main_figures[:3]
    return {
        "id": announcement.id,
        "title": untrusted(announcement.title),
        "url": add_utm(announcement_url(announcement, config), digest.utm),
        "published": announcement.published,
        "lede": untrusted(announcement.lede),
        "quote": None if quote is None else {
            "text": untrusted(quote.text),
            "speaker": untrusted(quote.speaker),
            "role": untrusted(quote.role),
        },
        "figures": [FigureView(figure_display(f, locale), untrusted(figure_label(f))) for f in figures],
    }


def clean_header(text: str) -> str:
    """A header value that no untrusted text can break: control characters become spaces."""
    return re.sub(r"\s{2,}", " ", HEADER_UNSAFE.sub(" ", text)).strip()


def issue_id(digest: DigestConfig, announcements: list[Announcement], now: datetime) -> str:
    """A readable, unique id for one digest issue."""
    digest_of_ids = hashlib.sha256(",".join(a.id for a in announcements).encode()).hexdigest()[:8]
    return f"{digest.name}-{now:%Y%m%d-%H%M}-{digest_of_ids}"


def render_digest(
    config: Config, digest: DigestConfig, announcements: list[Announcement], now: datetime
) -> Digest:
    """Render and compile one digest issue (HTML and text keep per-recipient placeholders)."""
    locale = digest.locale or config.locale
    environment = build_environment(config.resolve(config.templates_dir) if config.templates_dir else None, locale)
    cards = [card_view(a, config, digest, locale) for a in announcements]
    subject = render_subject(environment, digest, config, announcements, now)
    context = {
        "lang": locale,
        "subject": subject,
        "preheader": preheader(cards),
        "intro": digest.intro,
        "branding": config.branding,
        "public_base_url": config.public_base_url,
        "announcements": cards,
        "labels": LABELS.get(locale, LABELS["fr"]),
        "now": now,
        **PLACEHOLDERS,
    }
    mjml_source = render_template(environment, f"{digest.template}.mjml.j2", context)
    text = render_template(environment, f"{digest.template}.txt.j2", context)
    return Digest(
        name=digest.name,
        issue_id=issue_id(digest, announcements, now),
        subject=subject,
        list_name=digest.list,
        announcement_ids=[a.id for a in announcements],
        html=compile_mjml(mjml_source, digest.template),
        text=text,
        preheader=context["preheader"],
        scheduled_for=now,
    )


def render_subject(
    environment: Environment, digest: DigestConfig, config: Config, announcements: list[Announcement], now: datetime
) -> str:
    """The subject line from the config's template, safe to put in a header."""
    context = {
        "count": len(announcements),
        "organisation": config.branding.organisation,
        "first_title": untrusted(announcements[0].title) if announcements else "",
        "date": now,
    }
    try:
        subject = environment.from_string(digest.subject).render(context)
    except TemplateError as error:
        raise ComposeError(f"digests[{digest.name}].subject: {error}") from None
    return clean_header(subject)


def preheader(cards: list[dict[str, Any]]) -> str:
    """The inbox preview text: the titles of the first announcements."""
    return " · ".join(card["title"] for card in cards[:3])[:140]


def render_template(environment: Environment, name: str, context: dict[str, Any]) -> str:
    """Render one template; errors name the template and line."""
    try:
        return environment.get_template(name).render(context)
    except TemplateError as error:
        line = getattr(error, "lineno", None)
        where = f"{name}, line {line}" if line else name
        raise ComposeError(f"template {where}: {error}") from None


def compile_mjml(source: str, template: str) -> str:
    """MJML -> HTML with mjml-python, never linking external fonts."""
    try:
        return mjml2html(source, disable_comments=True, fonts={})
    except Exception as error:  # mjml-python raises bare exceptions for invalid MJML
        raise ComposeError(f"template {template}.mjml.j2: MJML does not compile ({error})") from None


def personalise(part: str, values: dict[str, str], *, is_html: bool) -> str:
    """Substitute per-recipient values into a compiled part, escaped for HTML parts."""
    for key, placeholder in PLACEHOLDERS.items():
        value = values.get(key, "")
        part = part.replace(placeholder, html.escape(value, quote=True) if is_html else value)
    return part
