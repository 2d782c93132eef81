"""Extraction never raises: random text, binary, wrong encodings, unbalanced marks, HTML soup."""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from newsletter.core.models import Announcement, RawDocument
from newsletter.extract import extract

PIECES = [
    "« ",
    " »",
    "“",
    "”",
    '"',
    "**",
    "## ",
    "[ 1 ]",
    "Notes [ + ]\n\n1. Note.",
    "<p>",
    "</div>",
    "<script>",
    "&nbsp;",
    "900 000",
    "7,4 %",
    "£2.5bn",
    "le 24 mars 2025",
    "Pour Jean Dupont, ministre : ",
    ", a déclaré Marie Curie.",
    "\n\n",
    "---\ntitle: [\n---\n",
    "Ã©",
    "\ufeff",
    "\x00",
    "1 jeune 1 solution",
]
CONTENT_TYPES = st.sampled_from(["text/markdown", "text/plain", "text/html", "application/weird", ""])


def check(announcement: Announcement) -> None:
    assert isinstance(announcement, Announcement)
    assert announcement.key_quote is None or 0 <= announcement.key_quote < len(announcement.quotes)
    assert all(0 <= i < len(announcement.figures) for i in announcement.key_figures)
    assert len(announcement.content_hash) == 64


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(max_size=400), content_type=CONTENT_TYPES)
def test_random_text_never_raises(text, content_type):
    check(extract(RawDocument("s", "i", text, content_type)))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(parts=st.lists(st.sampled_from(PIECES) | st.text(max_size=30), max_size=40), content_type=CONTENT_TYPES)
def test_random_mixes_of_hard_pieces_never_raise(parts, content_type):
    check(extract(RawDocument("s", "i", "".join(parts), content_type)))


@settings(max_examples=40, deadline=None)
@given(data=st.binary(max_size=600), encoding=st.sampled_from(["raw", "latin-1", "cp1252"]))
def test_random_bytes_never_raise(data, encoding):
    payload = data if encoding == "raw" else data.decode("latin-1").encode(encoding, errors="replace")
    check(extract(RawDocument("s", "i", payload, "text/plain")))


def test_bad_inputs_give_warnings_not_errors():
    empty = extract(RawDocument("s", "i", b"", "text/markdown"))
    assert empty.title == "" and "no text content" in empty.warnings
    binary = extract(RawDocument("s", "i", bytes(range(256)) * 20, "text/plain"))
    assert any("binary" in w for w in binary.warnings)
    bad_yaml = extract(RawDocument("s", "i", "---\ntitle: [oops\n---\n# Titre\n\nTexte.", "text/markdown"))
    assert bad_yaml.title == "Titre" and any("front matter" in w for w in bad_yaml.warnings)
    wrong_object = extract(RawDocument("s", "i", None, "text/plain"))  # type: ignore[arg-type]
    assert wrong_object.quotes == []


def test_huge_input_is_read_partially_with_a_warning():
    paragraph = "Pour Jean Dupont, ministre : « Nous avons aidé 5 000 jeunes cette année. »\n\n"
    announcement = extract(RawDocument("s", "i", paragraph * 70_000, "text/markdown"))
    assert announcement.quotes and announcement.figures
    assert any("only the first" in w for w in announcement.warnings)


def test_random_binary_gives_no_quotes_or_figures():
    noise = random.Random(3).randbytes(200_000)
    announcement = extract(RawDocument("s", "i", noise, "application/octet-stream"))
    assert announcement.quotes == [] and announcement.figures == []
    assert "content looks binary; not read" in announcement.warnings


def test_deeply_nested_html_soup_is_read_flat():
    soup = "<html lang='fr'><title>Soupe</title><body>" + "<div><p>« Bonjour <b>" * 3000
    soup += "<p>Le plan aide 900 000 jeunes.</p>"
    announcement = extract(RawDocument("s", "i", soup.encode("utf-8"), "text/html"))
    assert any("read as flat text" in warning for warning in announcement.warnings)
    assert [figure.value for figure in announcement.figures] == [900000]
