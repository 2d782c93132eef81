"""The per-recipient placeholders of a compiled digest and how a recipient's values replace them.

Kept apart from `digest.py` (Jinja2, MJML, CSS inlining) so that the sender processes, which
only splice values into a message built once per issue, import nothing heavy.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from newsletter.config import Config

PLACEHOLDER_PREFIX = "%%NL_"
PLACEHOLDERS = {
    "name": "%%NL_NAME%%",
    "unsubscribe_url": "%%NL_UNSUBSCRIBE_URL%%",
    "browser_url": "%%NL_BROWSER_URL%%",
}
KEY_OF_PLACEHOLDER = {placeholder: key for key, placeholder in PLACEHOLDERS.items()}
MAX_SUBJECT_LENGTH = 200
HEADER_UNSAFE = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]+")


def clean_header(text: str) -> str:
    """A header value that no untrusted text can break: one line, no encoded-word syntax."""
    line = " ".join(HEADER_UNSAFE.sub(" ", text).split()).replace("=?", "= ?")
    if len(line) > MAX_SUBJECT_LENGTH:
        line = line[: MAX_SUBJECT_LENGTH - 1].rstrip() + "…"
    return line


def archive_url(config: Config, issue_id: str) -> str:
    """The public address of an issue's web copy (« Voir dans le navigateur »), the value of `browser_url`."""
    return f"{config.public_base_url}/archive/{issue_id}"


def placeholder_text(key: str, value: str | None) -> str:
    """One per-recipient value as it replaces its placeholder, before escaping: on one line,
    and for `name` with its own leading space (`Bonjour{{ name }},` reads `Bonjour Ana,` or `Bonjour,`)."""
    text = " ".join(HEADER_UNSAFE.sub(" ", value or "").split())
    return " " + text if key == "name" and text else text


def recipient_values(values: Mapping[str, str | None], *, is_html: bool,
                     keys: Iterable[str] = PLACEHOLDERS) -> dict[str, str]:
    """The replacements of the placeholders `keys` (default: all) for one recipient, escaped for HTML parts."""
    ready = {key: placeholder_text(key, values.get(key)) for key in keys}
    return html_escaped(ready) if is_html else ready


def html_escaped(ready: Mapping[str, str]) -> dict[str, str]:
    """Plain replacements (`recipient_values`) as they go into an HTML part."""
    return {key: html.escape(text, quote=True) for key, text in ready.items()}
