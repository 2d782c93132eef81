"""HTML to Markdown-like text with selectolax: block structure kept, chrome and scripts dropped."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from selectolax.lexbor import LexborHTMLParser

from newsletter.extract.text import words

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
_ANY_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)[^<>]*>")
_RAW_TEXT_ELEMENT = re.compile(r"<(script|style|noscript|template|svg)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_KEPT_WHEN_FLAT = frozenset({"html", "head", "body", "title", "meta"})
# Elements that never stay open (void) or that the next sibling closes, so they add no nesting.
_NOT_NESTING = words(
    "area base br col embed hr img input link meta source track wbr p li dt dd tr td th option optgroup "
    "thead tbody tfoot colgroup caption rb rt rp"
)
MAX_NESTING = 1000


@dataclass
class HtmlText:
    """Text of an HTML page with the hints its markup gives (title, date, language)."""

    text: str
    hints: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


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
    warnings: list[str] = []
    if _nesting_depth(html) > MAX_NESTING:
        warnings.append(f"HTML nests elements more than {MAX_NESTING} deep; read as flat text")
        html = _flatten(html)
    tree = LexborHTMLParser(html)
    hints = _hints(tree)
    for node in tree.css(_DROPPED):
        node.decompose()
    root = tree.css_first("article") or tree.css_first("main") or tree.body or tree.root
    raw = root.text(deep=True, separator="") if root is not None else ""
    blocks = (_SPACES.sub(" ", part).strip() for part in raw.split(BREAK))
    return HtmlText("\n\n".join(block for block in blocks if block), hints, warnings)


def _nesting_depth(html: str) -> int:
    """How deep elements nest, counted from tags (stops counting past MAX_NESTING)."""
    depth = deepest = 0
    for tag in _ANY_TAG.finditer(html):
        if tag.group(2).lower() in _NOT_NESTING or tag.group(0).endswith("/>"):
            continue
        depth = max(0, depth - 1) if tag.group(1) else depth + 1
        deepest = max(deepest, depth)
        if deepest > MAX_NESTING:
            break
    return deepest


def _flatten(html: str) -> str:
    """Drop scripts and styles, then every tag but the head's, so a pathologically deep page parses in linear time."""
    html = _RAW_TEXT_ELEMENT.sub(" ", html)
    return _ANY_TAG.sub(lambda tag: tag.group(0) if tag.group(2).lower() in _KEPT_WHEN_FLAT else "", html)


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
