"""Digest MIME: built once, personalised per recipient by byte substitution, standard on the wire."""

from __future__ import annotations

import email
import quopri
import re
from datetime import UTC, datetime
from email import policy
from email.header import decode_header, make_header
from email.message import EmailMessage
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from newsletter.compose.digest import PLACEHOLDERS, personalise, render_digest
from newsletter.compose.mime import (
    MessageTemplate,
    SevenBitHtml,
    ascii_html_lines,
    build_message_template,
    placeholder_message,
    qp_encode,
)
from newsletter.compose.placeholders import archive_url
from newsletter.config import Config, DigestConfig, load_config
from newsletter.core.models import Digest
from newsletter.pipeline.digests import recipient_values
from newsletter.publish.email.smtp import as_data
from tests.fakes.smtp import sample_announcements, write_mail_config

NOW = datetime(2025, 3, 24, 8, 0, tzinfo=UTC)
UNSUBSCRIBE = "https://news.example.org/unsubscribe/v1.7.bWFpbg.abc?x=1&y=2"


def config_for(tmp_path: Path) -> Config:
    return load_config(write_mail_config(tmp_path, None))


def parse(data: bytes) -> EmailMessage:
    return email.message_from_bytes(data, policy=policy.default)  # type: ignore[return-value]


def body(message: EmailMessage, kind: str) -> str:
    part = message.get_body((kind,))
    assert part is not None
    return part.get_content().replace("\r\n", "\n")


def transfer_encoding(message: EmailMessage, kind: str) -> str:
    part = message.get_body((kind,))
    assert part is not None
    return str(part["Content-Transfer-Encoding"])


def line_breaks(text: str) -> str:
    """`text` with every line break (CRLF, or a lone CR or LF) written LF, as a part carries it."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def as_7bit(html: str) -> str:
    """What a 7bit HTML part carries for `html`: character references, line cuts read as spaces."""
    return line_breaks(html).encode("ascii", "xmlcharrefreplace").decode("ascii").replace("\n", " ")


def body_lines(data: bytes, boundary_index: int) -> list[bytes]:
    """The lines of the message's `boundary_index`-th body part (0: text, 1: HTML)."""
    boundary = re.search(rb'boundary="([^"]+)"', data)
    assert boundary is not None
    part = data.split(b"--" + boundary.group(1))[boundary_index + 1]
    return part.partition(b"\r\n\r\n")[2].split(b"\r\n")


def test_parts_decode_to_the_personalised_digest(tmp_path: Path) -> None:
    config = config_for(tmp_path)
    digest = render_digest(config, config.digest("hebdo"), sample_announcements(4), NOW)
    template = build_message_template(digest, config.digest("hebdo"), config, now=NOW)
    data = template.render("jeanne@example.org", "Jeanne <Dupont> & fils", UNSUBSCRIBE)
    message = parse(data)
    values = recipient_values(config, digest, name="Jeanne <Dupont> & fils", unsubscribe_url=UNSUBSCRIBE)

    assert message.get_content_type() == "multipart/alternative"
    assert transfer_encoding(message, "plain") == "quoted-printable"
    assert transfer_encoding(message, "html") == "7bit"
    assert body(message, "plain") == personalise(digest.text, values, is_html=False)
    assert body(message, "html").replace("\n", " ") == as_7bit(personalise(digest.html, values, is_html=True))
    assert "Bonjour Jeanne <Dupont> & fils," in body(message, "plain")
    assert "Bonjour Jeanne &lt;Dupont&gt; &amp; fils," in body(message, "html")
    assert "pr&#232;s de 900 000 b&#233;n&#233;ficiaires" in body(message, "html")
    assert f"https://news.example.org/archive/{digest.issue_id}" in body(message, "plain")
    assert "x=1&amp;y=2" in body(message, "html")
    head, _, rest = data.partition(b"\r\n\r\n")
    assert max(len(line) for line in body_lines(data, 0)) <= 76
    html_lines = body_lines(data, 1)
    assert max(len(line) for line in html_lines) <= 998
    assert len(html_lines) < len(qp_encode(personalise(digest.html, values, is_html=True)).split(b"\r\n")) / 4
    assert max(len(line) for line in head.split(b"\r\n")) <= 998 and rest.startswith(b"--=_nl_")
    assert not any(part.defects for part in message.walk())
    assert b"\n" not in data.replace(b"\r\n", b"")
    data.decode("ascii")


def test_a_name_in_any_script_reaches_the_html_as_character_references(tmp_path: Path) -> None:
    config = config_for(tmp_path)
    digest = render_digest(config, config.digest("hebdo"), sample_announcements(1), NOW)
    template = build_message_template(digest, config.digest("hebdo"), config, now=NOW)
    message = parse(template.render("li@example.org", "Zoé 李 Ñandú", UNSUBSCRIBE))
    assert transfer_encoding(message, "html") == "7bit"
    assert "Bonjour Zo&#233; &#26446; &#209;and&#250;," in body(message, "html")
    assert "Bonjour Zoé 李 Ñandú," in body(message, "plain")


@pytest.mark.parametrize(
    ("html", "why"),
    [
        ("<html><head><style>p::before { content: 'é' }</style></head><body><p>x</p></body></html>", "style"),
        ("<html><body><p>" + "mot " * 300 + "</p></body></html>", "no tag to cut at"),
        ("<html><body><p>bip\x07</p></body></html>", "control character"),
        ("<html><body><p>Prix\x80 l\x92école</p></body></html>", "C1 controls read as Windows-1252"),
        ("<html><head><style>/* </styles */ p::after { content: 'é' }</style></head><body><p>x</p></body></html>",
         "a tag that only looks like the end of the style"),
        ("<html><body><xmp>Bonjour %%NL_NAME%%</xmp></body></html>", "a placeholder in raw text"),
        ("<html><body><textarea>a <b c</textarea></body></html>", "a cut would show in a textarea"),
        ("<html><body><svg><style><![CDATA[ é ]]></style></svg></body></html>", "CDATA"),
        ("<html><head><style>p::after { content: '<b x' }</style></head><body><p class=a>x</p></body></html>",
         "a tag-like string inside CSS"),
    ],
)
def test_html_that_7bit_cannot_carry_goes_quoted_printable(html: str, why: str) -> None:
    assert SevenBitHtml.encode(html) is None, why
    data = template_for(html).render("a@example.org", "Zoé", UNSUBSCRIBE)
    message = parse(data)
    assert transfer_encoding(message, "html") == "quoted-printable"
    values = {"name": "Zoé", "unsubscribe_url": UNSUBSCRIBE, "browser_url": archive_url(Config(), "i")}
    assert body(message, "html") == personalise(html, values, is_html=True)
    assert max(len(line) for line in body_lines(data, 1)) <= 76


def test_a_value_too_long_for_its_line_sends_that_copy_quoted_printable() -> None:
    html = "<html><body><p class=x>" + "Un mot. " * 100 + "<b class=y>" + "%%NL_NAME%%</b></p></body></html>"
    template = template_for(html)
    short, long_name = "Zoé", "Zoé" * 100
    assert transfer_encoding(parse(template.render("a@example.org", short, UNSUBSCRIBE)), "html") == "7bit"
    message = parse(template.render("b@example.org", long_name, UNSUBSCRIBE))
    assert transfer_encoding(message, "html") == "quoted-printable"
    assert long_name in body(message, "html")


def test_headers_are_standard_and_encoded(tmp_path: Path) -> None:
    config = config_for(tmp_path)
    digest = render_digest(config, config.digest("hebdo"), sample_announcements(1), NOW)
    digest.subject = "Éducation : « près de 900 000 » élèves\r\nBcc: evil@example.org"
    template = build_message_template(digest, config.digest("hebdo"), config, now=NOW)
    message = parse(template.render("zoe@example.org", "Zoé Ñandú", UNSUBSCRIBE))

    assert message["Subject"] == "Éducation : « près de 900 000 » élèves Bcc: evil@example.org"
    assert message["Bcc"] is None
    assert message["To"] == "Zoé Ñandú <zoe@example.org>"
    assert message["From"] == "Ministère des Essais <lettre@example.org>"
    assert message["Reply-To"] == "contact@example.org"
    assert message["List-Id"] == "hebdo <main.example.org>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["List-Unsubscribe"].startswith(f"<{UNSUBSCRIBE}>, <mailto:desabonnement@example.org?")
    assert message["Date"].datetime == NOW and message["MIME-Version"] == "1.0"
    for part in message.iter_parts():
        assert part.get_content_charset() == "utf-8"


def test_message_id_is_stable_per_recipient_and_unique_across_recipients(tmp_path: Path) -> None:
    config = config_for(tmp_path)
    digest = render_digest(config, config.digest("hebdo"), sample_announcements(1), NOW)
    template = build_message_template(digest, config.digest("hebdo"), config)
    first = parse(template.render("a@example.org", None, UNSUBSCRIBE))["Message-ID"]
    again = parse(template.render("a@example.org", None, UNSUBSCRIBE))["Message-ID"]
    other = parse(template.render("b@example.org", None, UNSUBSCRIBE))["Message-ID"]
    assert first == again != other and first.endswith("@example.org>")


def test_placeholder_message_needs_no_secret(tmp_path: Path) -> None:
    config = config_for(tmp_path)
    digest = render_digest(config, config.digest("hebdo"), sample_announcements(1), NOW)
    message = parse(placeholder_message(digest, config.digest("hebdo"), config))
    assert message["List-Unsubscribe"].startswith("<https://news.example.org/unsubscribe/preview>")
    assert "https://news.example.org/unsubscribe/preview" in body(message, "plain")


piece = st.text(st.characters(blacklist_categories=("Cs",)), max_size=300)
line_breaker = st.sampled_from(["", "\n", ".", "=", " ", "\t", "x" * 200, "é" * 90, "\n.\n", "  \n", "\r.", "\x92"])


@settings(max_examples=80, deadline=None)
@given(
    parts=st.lists(st.tuples(piece, line_breaker, st.sampled_from(list(PLACEHOLDERS.values()))), max_size=5),
    tail=piece,
    url=st.text(st.characters(min_codepoint=33, max_codepoint=126, blacklist_characters="<>"), max_size=120),
    name=st.none() | piece,
)
def test_any_text_round_trips_through_the_encoding(
    parts: list[tuple[str, str, str]], tail: str, url: str, name: str | None
) -> None:
    text = "".join(a + b + placeholder for a, b, placeholder in parts) + tail
    template = template_for(text, text)
    data = template.render("a@example.org", name, url)
    message = parse(data)
    values = {"name": name, "unsubscribe_url": url, "browser_url": archive_url(Config(), "i")}
    html = line_breaks(personalise(text, values, is_html=True))
    assert body(message, "plain") == line_breaks(personalise(text, values, is_html=False))
    assert max(len(line) for line in body_lines(data, 0)) <= 76
    if transfer_encoding(message, "html") == "7bit":
        assert body(message, "html").replace("\n", " ") == as_7bit(html)
        assert max(len(line) for line in body_lines(data, 1)) <= 998
    else:
        assert body(message, "html") == html
        assert max(len(line) for line in body_lines(data, 1)) <= 76
    data.decode("ascii")
    assert b"\n" not in data.replace(b"\r\n", b"") and b"\r" not in data.replace(b"\r\n", b"")
    assert as_data(data) == as_data(bytes(data)), "framing the pieces frames the same bytes"


def test_tag_rich_html_always_fits_in_7bit_lines() -> None:
    html = "<div class=a>" + "<td style=\"width:600px\">é</td>" * 2000 + "</div>\n<p class=b>%%NL_NAME%%</p>"
    lines = ascii_html_lines(html)
    assert lines is not None and len(lines) > 50
    assert max(len(line) for line in lines) <= 998
    assert " ".join(lines) == as_7bit(html)


def template_for(html: str, text: str = "texte") -> MessageTemplate:
    """A message template for arbitrary HTML (and text) parts."""
    digest = Digest(name="hebdo", issue_id="i", subject="s", list_name="main", announcement_ids=[],
                    html=html, text=text)
    digest_config = DigestConfig(name="hebdo", schedule="0 9 * * MON", list="main")
    return build_message_template(digest, digest_config, Config())


def test_whitespace_before_a_line_break_never_makes_a_77_character_line():
    text = "0\x80\x80" + "\U00010000" * 5 + "  \nsuite"
    encoded = qp_encode(text)
    assert max(len(line) for line in encoded.split(b"\r\n")) <= 76
    assert quopri.decodestring(encoded).decode("utf-8") == text.replace("\n", "\r\n")


@pytest.mark.parametrize("name", [".Zoé", "..", "", None, "Zoé\n.point"])
def test_lines_starting_with_a_dot_are_left_as_written(name: str | None) -> None:
    text = ".début\n%%NL_NAME%%%%NL_NAME%%\n.%%NL_NAME%%.\n" + "." * 200 + "\n<p class=x>%%NL_NAME%%</p>"
    template = template_for(text, text)
    data = template.render("a@example.org", name, ".https://x/u")
    values = {"name": name, "unsubscribe_url": ".https://x/u", "browser_url": archive_url(Config(), "i")}
    assert body(parse(data), "plain") == line_breaks(personalise(text, values, is_html=False))
    assert b"\r\n.\r\n" not in data and data.endswith(b"--\r\n") and b"." * 201 not in data
    assert b"\n" not in data.replace(b"\r\n", b"") and b"\r" not in data.replace(b"\r\n", b"")


def test_a_lone_carriage_return_never_reaches_the_wire() -> None:
    data = template_for("<p class=a>a\rb</p>", "texte\r.suite").render("a@example.org", "Zo\ré", UNSUBSCRIBE)
    assert b"\r" not in data.replace(b"\r\n", b"") and b"\n" not in data.replace(b"\r\n", b"")
    message = parse(data)
    assert body(message, "plain") == "texte\n.suite" and "a\nb" in body(message, "html")


def test_a_c1_control_in_a_name_sends_that_copy_quoted_printable() -> None:
    template = template_for("<p class=a>Bonjour %%NL_NAME%%</p>")
    message = parse(template.render("a@example.org", "Zo\x92e", UNSUBSCRIBE))
    assert transfer_encoding(message, "html") == "quoted-printable" and "Zo\x92e" in body(message, "html")


@pytest.mark.parametrize("name", ["é" * 200, "😀" * 200, "Zoé Ñandú " * 12])
def test_a_long_non_ascii_name_is_folded_into_whole_encoded_words(name: str) -> None:
    data = template_for("<p>x</p>").render("zoe@example.org", name, UNSUBSCRIBE)
    head = data.partition(b"\r\n\r\n")[0].decode("ascii")
    to_lines = re.search(r"^To: .*?(?=\r\n\S)", head, re.MULTILINE | re.DOTALL)
    assert to_lines is not None
    lines = to_lines.group(0).split("\r\n")
    assert max(len(line) for line in lines) <= 78 and len(lines) > 1
    assert all(len(word) <= 75 for word in re.findall(r"=\?utf-8\?[bq]\?[^?]*\?=", to_lines.group(0)))
    decoded = str(make_header(decode_header(to_lines.group(0).removeprefix("To: "))))
    assert decoded == f"{name.strip()} <zoe@example.org>"
