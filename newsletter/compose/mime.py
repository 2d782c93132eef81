"""Digest emails built once per issue; each recipient's copy is a few byte substitutions.

The headers, the multipart structure and the bodies are encoded once. Each body is encoded
*around* its placeholders, so a recipient's values (name, unsubscribe link; escaped exactly as
`compose.digest.personalise` does) are encoded on their own and spliced in without re-encoding
the 30 KB of compiled MJML. The web-copy link is the same for every recipient: encoded once.

The text part is quoted-printable: its pieces end with a soft line break. The HTML part is sent
7bit when it can be: every non-ASCII character becomes a numeric character reference (the same
document to any HTML parser) and MJML's lines of thousands of characters are cut where a start
tag's name ends, which is whitespace to HTML. That keeps every line under SMTP's 998 octets,
leaves a 7bit part no relay needs to convert (so a DKIM signature survives), and sends about an
eighth of the lines quoted-printable would: mail servers do per-line work, so each message
costs the receiving server less. When the HTML cannot be carried that way (non-ASCII or a
placeholder inside `<style>`-like elements, CDATA, control characters, a line with no tag to
cut at, an oversized value), that part, or that recipient's copy, falls back to
quoted-printable. Cuts are never made inside `<style>`-like elements, `<title>` or `<textarea>`; an
attribute value holding a literal `<name ` (only a template author could write one:
announcement text is escaped) could be cut.
"""

from __future__ import annotations

import binascii
import hashlib
import re
import secrets
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.header import Header
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from functools import lru_cache
from urllib.parse import quote

from newsletter.compose.placeholders import (
    KEY_OF_PLACEHOLDER,
    PLACEHOLDERS,
    archive_url,
    clean_header,
    html_escaped,
    recipient_values,
)
from newsletter.config import Config, DigestConfig
from newsletter.core.models import Digest
from newsletter.store.tables import utcnow

CRLF = b"\r\n"
MAX_QP_LINE = 76
MAX_LINE = 998
VALUE_RESERVE = 250
TAG_NAME_END = re.compile(r"<[A-Za-z][A-Za-z0-9:-]*( )")
RAW_TEXT_ELEMENT = re.compile(
    r"<(script|style|xmp|iframe|noembed|noframes|plaintext|title|textarea)\b[^>]*>(.*?)(?:</\1(?=[\s/>])|$)",
    re.IGNORECASE | re.DOTALL,
)
NOT_7BIT_SAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
NOT_7BIT_SAFE_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")
SOFT_BREAK = b"=\r\n"
PLACEHOLDER_PATTERN = re.compile("|".join(re.escape(p) for p in PLACEHOLDERS.values()))
MAX_NAME_LENGTH = 200
MAX_HEADER_LINE = 78
ENCODED_NAME_LINE = 76  # email.header.Header then keeps each encoded-word within RFC 2047's 75
PREVIEW_RECIPIENT = "preview@example.invalid"
RECIPIENT_KEYS = ("name", "unsubscribe_url")


def qp_encode(text: str) -> bytes:
    """Quoted-printable bytes of `text` (UTF-8, lines of at most 76; every line break, a lone
    CR included, written CRLF: a bare CR never reaches the wire)."""
    data = text.replace("\r\n", "\n").replace("\r", "\n").encode("utf-8")
    lines = binascii.b2a_qp(data, istext=True).split(b"\n")
    return CRLF.join(_wrapped_qp_line(line) for line in lines)


def _wrapped_qp_line(line: bytes) -> bytes:
    """One encoded line cut by soft breaks to at most 76 characters, never inside an =XX escape.

    binascii.b2a_qp can emit 77 characters when it encodes whitespace before a line break.
    """
    pieces = []
    while len(line) > MAX_QP_LINE:
        cut = MAX_QP_LINE - 1
        escape = line.rfind(b"=", cut - 2, cut)
        if escape != -1:
            cut = escape
        pieces.append(line[:cut] + b"=")
        line = line[cut:]
    pieces.append(line)
    return CRLF.join(pieces)


def with_soft_break(encoded: bytes) -> bytes:
    """`encoded` followed by a soft line break, so what comes next starts on a fresh line."""
    if not encoded or encoded.endswith(CRLF):
        return encoded
    start = encoded.rfind(b"\n") + 1
    last = encoded[start:]
    if len(last) < MAX_QP_LINE:
        return encoded + SOFT_BREAK
    cut = MAX_QP_LINE - 3
    escape = last.rfind(b"=", cut - 2, cut)
    if escape != -1:
        cut = escape
    return encoded[:start] + last[:cut] + SOFT_BREAK + last[cut:] + SOFT_BREAK


def ascii_html_lines(html: str) -> list[str] | None:
    """`html` as 7bit lines: non-ASCII as character references, long lines cut at tag names so
    that each stays under 998 octets with every placeholder counted as VALUE_RESERVE; None
    when that cannot be done without changing what an HTML parser reads (control characters:
    a reference to U+0080-U+009F reads as a Windows-1252 character)."""
    text = html.replace("\r\n", "\n").replace("\r", "\n")
    if NOT_7BIT_SAFE.search(text) or "<![CDATA[" in text or any(map(_unsafe_raw_text, RAW_TEXT_ELEMENT.finditer(text))):
        return None
    lines: list[str] = []
    for line in text.encode("ascii", "xmlcharrefreplace").decode("ascii").split("\n"):
        pieces = _cut_at_tag_names(line)
        if pieces is None:
            return None
        lines.extend(pieces)
    return lines


def _unsafe_raw_text(element: re.Match[str]) -> bool:
    """Whether the content of a `<style>`-like element (or `<title>`, `<textarea>`) would
    change: a cut inside it would land in CSS, script or shown text, and outside the last two
    character references are not decoded, so a non-ASCII character or value would show as one."""
    name, content = element.group(1).lower(), element.group(2)
    if TAG_NAME_END.search(content):
        return True
    decodes_references = name in ("title", "textarea")
    return not decodes_references and (not content.isascii() or PLACEHOLDER_PATTERN.search(content) is not None)


def _cut_at_tag_names(line: str) -> list[str] | None:
    """`line` cut (greedily, latest cut first) at the space ending a start tag's name."""
    placeholder_starts = [m.start() for m in PLACEHOLDER_PATTERN.finditer(line)]

    def weight(start: int, end: int) -> int:
        placeholders = bisect_left(placeholder_starts, end) - bisect_left(placeholder_starts, start)
        return end - start + VALUE_RESERVE * placeholders

    pieces, start, last_cut = [], 0, None
    for cut in [m.start(1) for m in TAG_NAME_END.finditer(line)] + [len(line)]:
        if weight(start, cut) > MAX_LINE:
            if last_cut is None:
                return None
            pieces.append(line[start:last_cut])
            start = last_cut + 1
            if weight(start, cut) > MAX_LINE:
                return None
        last_cut = cut
    pieces.append(line[start:])
    return pieces


@dataclass(frozen=True)
class RecipientValues:
    """One recipient's placeholder values, cleaned and escaped once for both parts."""

    text: dict[str, str]
    html: dict[str, str]

    @classmethod
    def of(cls, values: dict[str, str | None], keys: Iterable[str]) -> RecipientValues:
        """The values of `keys` as `placeholders.recipient_values` gives them, plain and HTML-escaped."""
        text = recipient_values(values, is_html=False, keys=keys)
        return cls(text, html_escaped(text))


@dataclass(frozen=True)
class EncodedPart:
    """One part quoted-printable encoded once around its per-recipient placeholders."""

    segments: tuple[bytes, ...]
    keys: tuple[str, ...]
    is_html: bool

    @classmethod
    def encode(cls, text: str, *, is_html: bool, fixed: dict[str, str] | None = None) -> EncodedPart:
        """Split `text` at the placeholders and pre-encode every piece between them, the `fixed`
        values (the same for every recipient) spliced in once."""
        pieces = PLACEHOLDER_PATTERN.split(text)
        segments = [with_soft_break(qp_encode(piece)) for piece in pieces[:-1]]
        segments.append(qp_encode(pieces[-1]))
        ready = recipient_values(fixed or {}, is_html=is_html, keys=fixed or ())
        encoded = {key: with_soft_break(qp_encode(value)) for key, value in ready.items()}
        return cls(*_merge_fixed(tuple(segments), _placeholder_keys(text), encoded), is_html)

    def pieces(self, values: RecipientValues) -> list[bytes]:
        """The encoded part for one recipient, as pieces to join."""
        ready = values.html if self.is_html else values.text
        return _splice(self.segments, self.keys, {key: with_soft_break(qp_encode(ready[key])) for key in ready})


@dataclass(frozen=True)
class SevenBitHtml:
    """The HTML part as 7bit ASCII lines (see the module docstring), split at its placeholders."""

    segments: tuple[bytes, ...]
    keys: tuple[str, ...]

    @classmethod
    def encode(cls, html: str, *, fixed: dict[str, str] | None = None) -> SevenBitHtml | None:
        """The 7bit form of `html` with the `fixed` values spliced in, or None when it cannot be
        carried that way."""
        lines = ascii_html_lines(html)
        if lines is None:
            return None
        segments = tuple(piece.encode("ascii") for piece in PLACEHOLDER_PATTERN.split("\r\n".join(lines)))
        encoded = _seven_bit_values(recipient_values(fixed or {}, is_html=True, keys=fixed or ()))
        if encoded is None:
            return None
        return cls(*_merge_fixed(segments, _placeholder_keys(html), encoded))

    def pieces(self, values: RecipientValues) -> list[bytes] | None:
        """The part for one recipient as pieces to join; None when a value is too long or holds
        a line break or another control character."""
        encoded = _seven_bit_values(values.html)
        return None if encoded is None else _splice(self.segments, self.keys, encoded)


def _seven_bit_values(ready: dict[str, str]) -> dict[str, bytes] | None:
    """HTML-escaped values as 7bit bytes, None if one is too long or holds a control character."""
    encoded = {key: value.encode("ascii", "xmlcharrefreplace") for key, value in ready.items()}
    if any(len(value) > VALUE_RESERVE or NOT_7BIT_SAFE_VALUE.search(ready[key]) for key, value in encoded.items()):
        return None
    return encoded


def _merge_fixed(segments: tuple[bytes, ...], keys: tuple[str, ...], fixed: dict[str, bytes]
                 ) -> tuple[tuple[bytes, ...], tuple[str, ...]]:
    """Segments and keys with the `fixed` values joined into the segments around them."""
    merged, kept = [segments[0]], []
    for key, segment in zip(keys, segments[1:], strict=True):
        if key in fixed:
            merged[-1] += fixed[key] + segment
        else:
            kept.append(key)
            merged.append(segment)
    return tuple(merged), tuple(kept)


def _splice(segments: tuple[bytes, ...], keys: tuple[str, ...], encoded: dict[str, bytes]) -> list[bytes]:
    """Segments with each placeholder's encoded value between them."""
    out = [segments[0]]
    for key, segment in zip(keys, segments[1:], strict=True):
        out.extend((encoded[key], segment))
    return out


def _placeholder_keys(text: str) -> tuple[str, ...]:
    """The value keys of the placeholders in `text`, in order."""
    return tuple(KEY_OF_PLACEHOLDER[m] for m in PLACEHOLDER_PATTERN.findall(text))


class RenderedMessage(bytes):
    """A recipient's message: its bytes, and the pieces they were joined from (most of them the
    same objects for every recipient), so that framing for the wire (SMTP's dot-stuffing) can
    reuse the work it did on the shared pieces instead of scanning every copy."""

    pieces: tuple[bytes, ...]

    @classmethod
    def of_pieces(cls, pieces: Iterable[bytes]) -> RenderedMessage:
        """The message made of `pieces`, in order."""
        kept = tuple(pieces)
        message = cls(b"".join(kept))
        message.pieces = kept
        return message


@dataclass(frozen=True)
class MessageTemplate:
    """A digest issue's message, encoded once; `render` gives one recipient's copy."""

    head: bytes
    domain: str
    issue_id: str
    boundary: bytes
    text: EncodedPart
    html: EncodedPart
    html_7bit: SevenBitHtml | None
    mailto: str | None
    browser_url: str

    def render(self, recipient_email: str, name: str | None, unsubscribe_url: str) -> RenderedMessage:
        """The complete MIME message (CRLF line breaks) for one recipient, greeted by `name` and
        linking to the issue's web copy (`placeholders.archive_url`); transports do their own framing."""
        values = RecipientValues.of({"name": name, "unsubscribe_url": unsubscribe_url}, RECIPIENT_KEYS)
        headers = (
            f"To: {recipient_header(recipient_email, name)}\r\n"
            f"Message-ID: {message_id(self.issue_id, recipient_email, self.domain)}\r\n"
            f"List-Unsubscribe: {list_unsubscribe(unsubscribe_url, self.mailto)}\r\n"
        ).encode("ascii")
        delimiter = b"\r\n--" + self.boundary
        html_encoding, html = self._html_part(values)
        return RenderedMessage.of_pieces(
            (
                self.head,
                headers,
                delimiter,
                b"\r\nContent-Type: text/plain; charset=\"utf-8\"\r\n"
                b"Content-Transfer-Encoding: quoted-printable\r\n\r\n",
                *self.text.pieces(values),
                delimiter,
                b"\r\nContent-Type: text/html; charset=\"utf-8\"\r\nContent-Transfer-Encoding: ",
                html_encoding,
                *html,
                delimiter,
                b"--\r\n",
            )
        )

    def _html_part(self, values: RecipientValues) -> tuple[bytes, list[bytes]]:
        """The HTML part's transfer encoding (and header end) and body pieces: 7bit when it can
        carry this recipient's values, quoted-printable otherwise."""
        if self.html_7bit is not None:
            pieces = self.html_7bit.pieces(values)
            if pieces is not None:
                return b"7bit\r\n\r\n", pieces
        return b"quoted-printable\r\n\r\n", self.html.pieces(values)


def recipient_header(email: str, name: str | None) -> str:
    """The To: value, the display name cleaned and RFC 2047 encoded when not ASCII; a long
    encoded name is folded into encoded-words of whole characters (RFC 2047's 75 and RFC
    5322's 78 characters)."""
    display = clean_header(name or "")[:MAX_NAME_LENGTH]
    if not display:
        return email
    value = formataddr((display, email), charset="utf-8")
    if display.isascii() or len("To: ") + len(value) <= MAX_HEADER_LINE:
        return value
    folded = Header(display, "utf-8", maxlinelen=ENCODED_NAME_LINE, header_name="To").encode(linesep="\r\n")
    return f"{folded}\r\n <{email}>"


def message_id(issue_id: str, recipient_email: str, domain: str) -> str:
    """A Message-ID that is the same for every copy of an issue sent to one recipient."""
    digest = hashlib.sha256(f"{issue_id}\0{recipient_email.lower()}".encode()).hexdigest()[:32]
    return f"<{digest}@{domain}>"


def list_unsubscribe(unsubscribe_url: str, mailto: str | None) -> str:
    """The List-Unsubscribe value: the one-click URL, then (folded) a mailto when configured."""
    value = f"<{unsubscribe_url}>"
    if mailto:
        value += f",\r\n <mailto:{mailto}?subject=unsubscribe&body={_quoted_url(unsubscribe_url)}>"
    return value


def _quoted_url(url: str) -> str:
    """`quote(url, safe="")`, the part up to the last slash (the same in every copy of an issue)
    quoted once: quoting is per character, and urllib quotes character by character in Python."""
    head, slash, tail = url.rpartition("/")
    return _quoted_head(head + slash) + quote(tail, safe="")


@lru_cache(maxsize=64)
def _quoted_head(head: str) -> str:
    return quote(head, safe="")


def list_id(digest_config: DigestConfig, domain: str) -> str:
    """A List-Id header value: `Name <list.domain>`."""
    label = re.sub(r"[^a-z0-9-]+", "-", digest_config.list.lower()).strip("-") or "list"
    return f"{clean_header(digest_config.name)} <{label}.{domain}>"


def sender_domain(address: str) -> str:
    """The domain part of an address (for Message-ID, List-Id, VERP)."""
    return address.rpartition("@")[2].lower() or "localhost"


def build_message_template(
    digest: Digest, digest_config: DigestConfig, config: Config, *, now: datetime | None = None
) -> MessageTemplate:
    """Encode an issue's headers and parts once, ready for `MessageTemplate.render`."""
    fixed = {"browser_url": archive_url(config, digest.issue_id)}
    domain = sender_domain(digest_config.from_address)
    boundary = f"=_nl_{secrets.token_hex(12)}"
    head = EmailMessage(policy=policy.SMTP)
    head["From"] = Address(
        display_name=clean_header(digest_config.from_name or config.branding.organisation),
        addr_spec=digest_config.from_address,
    )
    if digest_config.reply_to:
        head["Reply-To"] = digest_config.reply_to
    head["Subject"] = clean_header(digest.subject)
    head["Date"] = format_datetime(now or utcnow())
    head["List-Id"] = list_id(digest_config, domain)
    head["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    head["MIME-Version"] = "1.0"
    head["Content-Type"] = f'multipart/alternative; boundary="{boundary}"'
    head_bytes = b"".join(policy.SMTP.fold_binary(name, value) for name, value in head.items())
    return MessageTemplate(
        head=head_bytes,
        domain=domain,
        issue_id=digest.issue_id,
        boundary=boundary.encode("ascii"),
        text=EncodedPart.encode(digest.text, is_html=False, fixed=fixed),
        html=EncodedPart.encode(digest.html, is_html=True, fixed=fixed),
        html_7bit=SevenBitHtml.encode(digest.html, fixed=fixed),
        mailto=config.unsubscribe.mailto,
        browser_url=fixed["browser_url"],
    )


def preview_unsubscribe_url(config: Config) -> str:
    """A working-looking unsubscribe link for previews, needing no secret."""
    return f"{config.public_base_url}/unsubscribe/preview"


def placeholder_message(
    digest: Digest,
    digest_config: DigestConfig,
    config: Config,
    *,
    recipient: str = PREVIEW_RECIPIENT,
    name: str | None = None,
    now: datetime | None = None,
) -> bytes:
    """The issue's message as a placeholder recipient would get it (for `digest.eml` previews)."""
    template = build_message_template(digest, digest_config, config, now=now)
    return template.render(recipient, name, preview_unsubscribe_url(config))
