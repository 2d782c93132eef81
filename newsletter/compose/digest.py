"""Digest composer: announcements -> one compiled digest issue with per-recipient placeholders.

The MJML is rendered and compiled once per issue. Per-recipient values (name, unsubscribe
link, web copy link) are substituted afterwards by `personalise` / `PreparedPart`: escaped,
inserted by plain string joins, never evaluated as template code.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import css_inline
from babel.numbers import get_currency_symbol
from jinja2 import Environment, TemplateError, TemplateNotFound
from mjml import mjml2html

from newsletter.compose.placeholders import (
    KEY_OF_PLACEHOLDER,
    PLACEHOLDER_PREFIX,
    PLACEHOLDERS,
    clean_header,
    recipient_values,
)
from newsletter.compose.templates import (
    build_environment,
    format_large_number,
    format_number,
    format_percentage,
)
from newsletter.config import Config, DigestConfig
from newsletter.core.errors import ComposeError
from newsletter.core.models import Announcement, Digest, DigestEdits, Figure

URL_DROPPED = re.compile(r"[\t\r\n]")
URL_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
URL_TRIMMED = "".join(map(chr, range(0x21)))  # C0 controls and space
PLACEHOLDER_SPLIT = re.compile("(" + "|".join(re.escape(p) for p in PLACEHOLDERS.values()) + ")")
LABELS = {
    "fr": {
        "hello": "Bonjour",
        "read_more": "Lire la suite",
        "read_more_about": "Lire la suite\u00a0: ",
        "colon": "\u00a0: ",
        "unsubscribe": "Se désabonner",
        "view_online": "Voir dans le navigateur",
        "open_quote": "«\u00a0",
        "close_quote": "\u00a0»",
        "issue_of": "Lettre du ",
        "logo": "Logo\u00a0: ",
    },
    "en": {
        "hello": "Hello",
        "read_more": "Read more",
        "read_more_about": "Read more: ",
        "colon": ": ",
        "unsubscribe": "Unsubscribe",
        "view_online": "View in your browser",
        "open_quote": "“",
        "close_quote": "”",
        "issue_of": "Issue of ",
        "logo": "Logo: ",
    },
}
MAX_CARD_FIGURES = 3
INLINE_STYLE = re.compile(r"<mj-style\s+inline=\"inline\"\s*>(.*?)</mj-style>", re.DOTALL)
MJML_POSITION = re.compile(r"at position (\d+)")


@dataclass(frozen=True)
class FigureView:
    """A key figure as a digest shows it: an optional qualifier, the value set large, its label."""

    prefix: str
    display: str
    label: str


def figure_display(figure: Figure, locale: str) -> str:
    """A figure's value written for the locale: `900 000`, `7,4 %`, `2,5 milliards €`."""
    if figure.kind == "percent":
        low = format_number(figure.value, locale) if figure.value_max is not None else ""
        high = format_percentage(figure.value_max if figure.value_max is not None else figure.value, locale)
        return f"{low}–{high}" if low else high
    number = format_large_number(figure.value, locale)
    if figure.value_max is not None:
        number = f"{number}–{format_large_number(figure.value_max, locale)}"
    if figure.kind == "money" and figure.unit and len(figure.unit) == 3 and figure.unit.isupper():
        symbol = get_currency_symbol(figure.unit, locale=locale)
        return f"{number}\u00a0{symbol}" if locale == "fr" else f"{symbol}{number}"
    return f"{number}\u00a0{figure.unit}" if figure.unit else number


def figure_view(figure: Figure, locale: str) -> FigureView:
    """The three lines of a figure block, with untrusted text neutralised."""
    return FigureView(
        prefix=untrusted(figure.qualifier),
        display=untrusted(figure_display(figure, locale)),
        label=untrusted(figure.about),
    )


def untrusted(text: str | None) -> str:
    """Announcement text on one logical line per paragraph, made inert for our placeholders.

    HTML escaping is left to the templates' autoescaping.
    """
    return (text or "").replace(PLACEHOLDER_PREFIX, "%% NL_")


def one_line(text: str | None) -> str:
    """Untrusted text squeezed to a single line (titles, names)."""
    return " ".join(untrusted(text).split())


def add_utm(url: str, utm: dict[str, str]) -> str:
    """The URL with the configured `utm_*` parameters appended (existing ones are kept as they are)."""
    if not utm:
        return url
    parts = urlsplit(url)
    present = {key for key, _ in parse_qsl(parts.query, keep_blank_values=True)}
    extra = [
        (f"utm_{key.removeprefix('utm_')}", value)
        for key, value in utm.items()
        if f"utm_{key.removeprefix('utm_')}" not in present
    ]
    if not extra:
        return url
    query = "&".join(filter(None, [parts.query, urlencode(extra)]))
    return urlunsplit(parts._replace(query=query))


def absolute_url(url: str, config: Config) -> str:
    """A URL made absolute against `public_base_url` (absolute http(s) URLs are kept)."""
    if url.startswith(("http://", "https://")):
        return url
    return urljoin(config.public_base_url + "/", url.lstrip("/"))


def announcement_url(announcement: Announcement, config: Config) -> str:
    """The announcement's own http(s) URL (see `clean_url`, then encoded as a URI), or its page
    on the public site when it has none."""
    url = clean_url(announcement.url or "")
    if url.startswith(("http://", "https://")):
        return iri_to_uri(url)
    return f"{config.public_base_url}/announcements/{announcement.id}"


def iri_to_uri(url: str) -> str:
    """`url` with non-ASCII host and path percent- and IDNA-encoded (httpx's URL rules), so that
    platforms count and link the whole address (`…jobs-d-%C3%A9t%C3%A9`, not `…jobs-d-été`).
    httpx is imported here, on first use: loading it costs every command that composes 70 ms."""
    import httpx

    try:
        return str(httpx.URL(url))
    except httpx.InvalidURL:
        return url


def clean_url(url: str) -> str:
    """An untrusted URL as a browser reads it (WHATWG: tabs and line breaks dropped, leading
    and trailing controls and spaces trimmed, other controls percent-encoded), made inert for
    our placeholders, so that nothing in it can break a message or be personalised."""
    url = URL_DROPPED.sub("", url).strip(URL_TRIMMED)
    url = URL_CONTROL.sub(lambda match: f"%{ord(match.group()):02X}", url)
    return url.replace(PLACEHOLDER_PREFIX, "%25%25NL_")


def card_view(announcement: Announcement, config: Config, digest: DigestConfig, locale: str) -> dict[str, Any]:
    """The data one digest card shows, with untrusted text neutralised."""
    quote = announcement.main_quote
    return {
        "id": announcement.id,
        "title": one_line(announcement.title),
        "url": add_utm(announcement_url(announcement, config), digest.utm),
        "published": announcement.published,
        "lede": untrusted(announcement.lede).strip(),
        "quote": None if quote is None else {
            "text": untrusted(quote.text).strip(),
            "speaker": one_line(quote.speaker),
            "role": one_line(quote.role),
        },
        "figures": [figure_view(f, locale) for f in announcement.main_figures[:MAX_CARD_FIGURES]],
    }


def issue_id(digest: DigestConfig, announcements: list[Announcement], now: datetime) -> str:
    """A readable, unique, path-safe id for one digest issue."""
    digest_of_ids = hashlib.sha256(",".join(a.id for a in announcements).encode()).hexdigest()[:8]
    slug = re.sub(r"[^a-z0-9]+", "-", digest.name.lower()).strip("-") or "digest"
    return f"{slug}-{now:%Y%m%d-%H%M}-{digest_of_ids}"


def tracked_link(config: Config, issue: str, url: str) -> tuple[str, str]:
    """The token of `url` in this issue and the first-party redirect URL that counts its clicks;
    the token is derived from both, so every render of the issue gives the same links."""
    digest = hashlib.sha256(f"{issue}\n{url}".encode()).digest()[:16]
    token = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    return token, f"{config.public_base_url}/r/{token}"


def track_links(config: Config, context: dict[str, Any], issue: str) -> list[tuple[str, str]]:
    """Point the context's home and announcement links at their redirects; the (token, url) pairs
    in order (the unsubscribe and web copy links are never tracked)."""
    links: dict[str, str] = {}

    def tracked(url: str) -> str:
        token, redirect = tracked_link(config, issue, url)
        links[token] = url
        return redirect

    context["home_url"] = tracked(context["home_url"])
    for card in context["announcements"]:
        card["url"] = tracked(card["url"])
    return list(links.items())


def digest_locale(config: Config, digest: DigestConfig) -> str:
    """The locale a digest is written in: its own, else the config's."""
    return digest.locale or config.locale


def digest_environment(config: Config, digest: DigestConfig) -> Environment:
    """The (cached) Jinja2 environment for this digest's templates and locale."""
    folder = config.resolve(config.templates_dir) if config.templates_dir else None
    return build_environment(folder, digest_locale(config, digest))


def digest_context(
    config: Config, digest: DigestConfig, announcements: list[Announcement], now: datetime
) -> dict[str, Any]:
    """Everything the digest templates may use (announcement text neutralised, not escaped)."""
    locale = digest_locale(config, digest)
    cards = [card_view(a, config, digest, locale) for a in announcements]
    branding = config.branding
    home = add_utm(absolute_url(branding.website_url or config.public_base_url, config), digest.utm)
    return {
        "lang": locale,
        "preheader": preheader(cards),
        "intro": digest.intro,
        "branding": branding,
        "logo_url": absolute_url(branding.logo_url, config) if branding.logo_url else None,
        "home_url": home,
        "public_base_url": config.public_base_url,
        "announcements": cards,
        "labels": LABELS.get(locale, LABELS["fr"]),
        "issue_date": now.astimezone(config.tz).date(),
        "now": now,
        **PLACEHOLDERS,
    }


def render_digest(
    config: Config, digest: DigestConfig, announcements: list[Announcement], now: datetime,
    edits: DigestEdits | None = None,
) -> Digest:
    """Render and compile one digest issue (HTML and text keep per-recipient placeholders); a
    person's `edits` replace the config's subject and intro, as plain text made inert for the
    placeholders (a typed `%%NL_NAME%%` never takes a recipient's value)."""
    edits = edits or DigestEdits()
    environment = digest_environment(config, digest)
    context = digest_context(config, digest, announcements, now)
    the_issue = issue_id(digest, announcements, now)
    links = track_links(config, context, the_issue) if config.tracking.clicks else []
    if edits.intro is not None:
        context["intro"] = untrusted(edits.intro)
    context["subject"] = (clean_header(untrusted(edits.subject)) if edits.subject is not None
                          else render_subject(environment, digest, config, announcements, now))
    mjml_source = render_template(environment, f"{digest.template}.mjml.j2", context)
    text = render_template(environment, f"{digest.template}.txt.j2", context)
    return Digest(
        name=digest.name,
        issue_id=the_issue,
        subject=context["subject"],
        list_name=digest.list,
        announcement_ids=[a.id for a in announcements],
        html=compile_mjml(mjml_source, f"{digest.template}.mjml.j2"),
        text=text,
        preheader=context["preheader"],
        scheduled_for=now,
        edits=edits,
        tracked_links=links,
    )


def subject_context(config: Config, announcements: list[Announcement], now: datetime) -> dict[str, Any]:
    """The variables a subject template may use: count, organisation, newsletter (its name),
    first_title and date."""
    return {
        "count": len(announcements),
        "organisation": config.branding.organisation,
        "newsletter": config.branding.name or config.branding.organisation,
        "first_title": one_line(announcements[0].title) if announcements else "",
        "date": now.astimezone(config.tz).date(),
    }


def render_subject(
    environment: Environment, digest: DigestConfig, config: Config, announcements: list[Announcement], now: datetime
) -> str:
    """The subject line from the config's template, safe to put in a header."""
    try:
        subject = environment.from_string(digest.subject).render(subject_context(config, announcements, now))
    except TemplateError as error:
        raise ComposeError(f"subject: {error.message}") from None
    return clean_header(subject)


def preheader(cards: list[dict[str, Any]]) -> str:
    """The inbox preview text: the titles of the first announcements."""
    text = " · ".join(card["title"] for card in cards[:3])
    return text if len(text) <= 140 else text[:139].rstrip() + "…"


def template_line(error: BaseException, name: str) -> int | None:
    """The line of template `name` where a rendering error happened, from Jinja's traceback."""
    line = getattr(error, "lineno", None)
    traceback = error.__traceback__
    while traceback is not None:
        if Path(traceback.tb_frame.f_code.co_filename).name == Path(name).name:
            line = traceback.tb_lineno
        traceback = traceback.tb_next
    return line


def render_template(environment: Environment, name: str, context: dict[str, Any]) -> str:
    """Render one template; errors name the template and line."""
    try:
        template = environment.get_template(name)
    except TemplateNotFound as error:
        raise ComposeError(f"template {error.name} not found (looked in {template_folders(environment)})") from None
    except TemplateError as error:
        raise ComposeError(f"template {template_location(error, name)}: {error.message}") from None
    try:
        return template.render(context)
    except Exception as error:  # any failure while rendering is a problem of this template
        message = getattr(error, "message", None) or f"{type(error).__name__}: {error}"
        raise ComposeError(f"template {template_location(error, name)}: {message}") from None


def template_location(error: BaseException, name: str) -> str:
    """`name, line N` for an error raised in (or included from) template `name`."""
    where = getattr(error, "name", None) or name
    line = template_line(error, where)
    return f"{where}, line {line}" if line else where


def template_folders(environment: Environment) -> str:
    """The folders templates are looked up in, in order."""
    loaders = getattr(environment.loader, "loaders", [environment.loader])
    return ", ".join(str(path) for loader in loaders for path in getattr(loader, "searchpath", []))


def compile_mjml(source: str, template: str) -> str:
    """MJML -> HTML with mjml-python (no external fonts), then `<mj-style inline>` CSS inlined."""
    inline_css = "\n".join(INLINE_STYLE.findall(source))
    source = INLINE_STYLE.sub(lambda match: "\n" * match.group(0).count("\n"), source)
    try:
        compiled = mjml2html(source, disable_comments=True, fonts={})
    except Exception as error:  # mjml-python raises bare exceptions for invalid MJML
        raise ComposeError(f"template {template}: MJML does not compile ({mjml_problem(error, source)})") from None
    if not inline_css.strip():
        return compiled
    return css_inline.inline(
        compiled,
        inline_style_tags=False,
        keep_style_tags=True,
        load_remote_stylesheets=False,
        extra_css=inline_css,
    )


def mjml_problem(error: Exception, source: str) -> str:
    """mjml-python's message, with its character position turned into a line of the rendered MJML."""
    message = str(error)
    match = MJML_POSITION.search(message)
    if match:
        line = source.count("\n", 0, int(match.group(1))) + 1
        message = f"{message}; rendered MJML line {line}: {source.splitlines()[line - 1].strip()[:80]}"
    return message


@dataclass(frozen=True)
class PreparedPart:
    """A compiled part split at its placeholders once, so each recipient costs one join."""

    pieces: tuple[str, ...]
    is_html: bool

    @classmethod
    def of(cls, part: str, *, is_html: bool) -> PreparedPart:
        """Split `part` into literal text (even indexes) and placeholder keys (odd indexes)."""
        pieces = PLACEHOLDER_SPLIT.split(part)
        pieces[1::2] = [KEY_OF_PLACEHOLDER[p] for p in pieces[1::2]]
        return cls(tuple(pieces), is_html)

    def fill(self, values: dict[str, str | None]) -> str:
        """The part for one recipient."""
        ready = recipient_values(values, is_html=self.is_html)
        pieces = list(self.pieces)
        pieces[1::2] = [ready[key] for key in self.pieces[1::2]]
        return "".join(pieces)


def personalise(part: str, values: dict[str, str | None], *, is_html: bool) -> str:
    """Substitute per-recipient values into a compiled part, escaped for HTML parts."""
    return PreparedPart.of(part, is_html=is_html).fill(values)
