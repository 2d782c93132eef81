"""HTML to Markdown-like text with selectolax: block structure kept, chrome and scripts dropped."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from selectolax.lexbor import LexborHTMLParser

BREAK = "\ue000"
_DROPPED = "script, style, noscript, template, svg, nav, footer, aside, form, button, iframe, dialog"
_BLOCK_TAG = re.compile(
    r"<(?=/?(?:p|div|section|article|main|li|ul|ol|dl|dt|dd|blockquote|tr|table|figure|"
    r"figcaption|pre|address|br|hr|header)\b)",
    re.IGNORECASE,
)
_HEADING_TAG = re.compile(r"<h([1-6])\b([^>]{0,500})>", re.IGNORECASE)
_HEADING_END = re.compile(r"</h[1-6]\s*>", re.IGNORECASE)
_FOOTNOTE_SUP = re.compile(r"<sup\b[^>]{0,300}>\s*\[?\s*\d{1,3}\s*\]?\s*</sup>", re.IGNORECASE)
_TAG = re.compile(r"<[A-Za-z!/]")
_SPACES = re.compile(r"[ \t\n\r\f\v]+")
_HTML_SNIFF = re.compile(r"\s*(?:<!doctype\s+html|<html\b|<(?:body|article|div|p)\b)", re.IGNORECASE)


@dataclass
class HtmlText:
    """Text of an HTML page with the hints its markup gives (title, date, language)."""

    text: str
    hints: dict[str, str] = field(default_factory=dict)


def has_tags(text: str) -> bool:
    """Whether text said to be HTML has any markup at all (else it is read as Markdown)."""
    return bool(_TAG.search(text[:20_000]))


def looks_like_html(text: str) -> bool:
    """Tell whether text that claims to be plain is in fact an HTML page."""
    return bool(_HTML_SNIFF.match(text[:2000]))


def html_to_text(html: str) -> HtmlText:
    """Convert HTML to paragraphs separated by blank lines, headings marked with `#`."""
    html = _FOOTNOTE_SUP.sub("", html)
    html = _HEADING_TAG.sub(lambda m: f"{BREAK}{'#' * int(m.group(1))} <h{m.group(1)}{m.group(2)}>", html)
    html = _HEADING_END.sub(lambda m: f"{m.group(0)}{BREAK}", html)
    html = _BLOCK_TAG.sub(BREAK + "<", html)
    tree = LexborHTMLParser(html)
    hints = _hints(tree)
    for node in tree.css(_DROPPED):
        node.decompose()
    root = tree.css_first("article") or tree.css_first("main") or tree.body or tree.root
    raw = root.text(deep=True, separator="") if root is not None else ""
    blocks = (_SPACES.sub(" ", part).strip() for part in raw.split(BREAK))
    return HtmlText("\n\n".join(block for block in blocks if block), hints)


def _hints(tree: LexborHTMLParser) -> dict[str, str]:
    """Read title, publication date and language from the page's markup."""
    hints: dict[str, str] = {}
    selectors = {
        "title": ("meta[property='og:title']", "title"),
        "date": (
            "meta[property='article:published_time']",
            "meta[name='date']",
            "meta[name='dc.date']",
            "time[datetime]",
        ),
    }
    for key, candidates in selectors.items():
        for selector in candidates:
            node = tree.css_first(selector)
            if node is None:
                continue
            value = node.attributes.get("content") or node.attributes.get("datetime") or node.text()
            if value and value.strip():
                hints[key] = _SPACES.sub(" ", value.replace(BREAK, " ")).strip()
                break
    html_node = tree.css_first("html")
    lang = html_node.attributes.get("lang") if html_node is not None else None
    if lang:
        hints["lang"] = lang
    return hints
