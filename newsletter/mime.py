"""Digest emails built once per issue; each recipient's copy is a few byte substitutions.

The headers, the multipart structure and the quoted-printable bodies are encoded once.
Each body is encoded *around* its placeholders: the pieces between them are pre-encoded and
end with a soft line break, so a recipient's values (name, unsubscribe link; escaped exactly as
`compose.digest.personalise` does) are encoded on their own and spliced in without re-encoding
the 30 KB of compiled MJML. The web-copy link is the same for every recipient: encoded once.
"""

from __future__ import annotations

import binascii
import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from urllib.parse import quote

from newsletter.compose.digest import PLACEHOLDERS, clean_header, recipient_values
from newsletter.config import Config, DigestConfig
from newsletter.digests import archive_url
from newsletter.models import Digest
from newsletter.store.tables import utcnow

CRLF = b"\r\n"
MAX_QP_LINE = 76
SOFT_BREAK = b"=\r\n"
PLACEHOLDER_KEYS = {placeholder: key for key, placeholder in PLACEHOLDERS.items()}
PLACEHOLDER_PATTERN = re.compile("|".join(re.escape(p) for p in PLACEHOLDERS.values()))
MAX_NAME_LENGTH = 200
PREVIEW_RECIPIENT = "preview@example.invalid"


def qp_encode(text: str) -> bytes:
    """Quoted-printable bytes of `text` (UTF-8, CRLF line breaks, lines of at most 76)."""
    data = text.replace("\r\n", "\n").encode("utf-8")
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


@dataclass(frozen=True)
class EncodedPart:
    """One text part, quoted-printable encoded once around its per-recipient placeholders."""

    segments: tuple[bytes, ...]
    keys: tuple[str, ...]
    is_html: bool

    @classmethod
    def encode(cls, text: str, *, is_html: bool) -> EncodedPart:
        """Split `text` at the placeholders and pre-encode every piece between them."""
        pieces = PLACEHOLDER_PATTERN.split(text)
        keys = tuple(PLACEHOLDER_KEYS[m] for m in PLACEHOLDER_PATTERN.findall(text))
        segments = [with_soft_break(qp_encode(piece)) for piece in pieces[:-1]]
        segments.append(qp_encode(pieces[-1]))
        return cls(tuple(segments), keys, is_html)

    def render(self, values: dict[str, bytes]) -> bytes:
        """The encoded part with each placeholder replaced by its pre-encoded value."""
        out = [self.segments[0]]
        for key, segment in zip(self.keys, self.segments[1:], strict=True):
            out.append(values[key])
            out.append(segment)
        return b"".join(out)

    def encode_values(self, values: dict[str, str | None]) -> dict[str, bytes]:
        """Each value escaped for this part as `personalise` does it, encoded, ready to splice."""
        ready = recipient_values(values, is_html=self.is_html)
        return {key: with_soft_break(qp_encode(ready[key])) for key in set(self.keys)}


@dataclass(frozen=True)
class MessageTemplate:
    """A digest issue's message, encoded once; `render` gives one recipient's copy."""

    head: bytes
    domain: str
    issue_id: str
    boundary: bytes
    text: EncodedPart
    html: EncodedPart
    mailto: str | None
    browser_url: str

    def render(self, recipient_email: str, name: str | None, unsubscribe_url: str) -> bytes:
        """The complete message (CRLF line breaks, not dot-stuffed) for one recipient, greeted
        by `name` and linking to the issue's web copy (`digests.archive_url`)."""
        values = {"name": name, "unsubscribe_url": unsubscribe_url, "browser_url": self.browser_url}
        headers = (
            f"To: {recipient_header(recipient_email, name)}\r\n"
            f"Message-ID: {message_id(self.issue_id, recipient_email, self.domain)}\r\n"
            f"List-Unsubscribe: {list_unsubscribe(unsubscribe_url, self.mailto)}\r\n"
        ).encode("ascii")
        delimiter = b"\r\n--" + self.boundary
        return b"".join(
            (
                self.head,
                headers,
                b"\r\n--",
                self.boundary,
                b"\r\nContent-Type: text/plain; charset=\"utf-8\"\r\n"
                b"Content-Transfer-Encoding: quoted-printable\r\n\r\n",
                self.text.render(self.text.encode_values(values)),
                delimiter,
                b"\r\nContent-Type: text/html; charset=\"utf-8\"\r\n"
                b"Content-Transfer-Encoding: quoted-printable\r\n\r\n",
                self.html.render(self.html.encode_values(values)),
                delimiter,
                b"--\r\n",
            )
        )


def recipient_header(email: str, name: str | None) -> str:
    """The To: value, the display name cleaned and RFC 2047 encoded when not ASCII."""
    display = clean_header(name or "")[:MAX_NAME_LENGTH]
    return formataddr((display, email), charset="utf-8") if display else email


def message_id(issue_id: str, recipient_email: str, domain: str) -> str:
    """A Message-ID that is the same for every copy of an issue sent to one recipient."""
    digest = hashlib.sha256(f"{issue_id}\0{recipient_email.lower()}".encode()).hexdigest()[:32]
    return f"<{digest}@{domain}>"


def list_unsubscribe(unsubscribe_url: str, mailto: str | None) -> str:
    """The List-Unsubscribe value: the one-click URL, then (folded) a mailto when configured."""
    value = f"<{unsubscribe_url}>"
    if mailto:
        value += f",\r\n <mailto:{mailto}?subject=unsubscribe&body={quote(unsubscribe_url, safe='')}>"
    return value


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
        text=EncodedPart.encode(digest.text, is_html=False),
        html=EncodedPart.encode(digest.html, is_html=True),
        mailto=config.unsubscribe.mailto,
        browser_url=archive_url(config, digest.issue_id),
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
