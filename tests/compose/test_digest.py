"""The digest composer: golden renders, structure, untrusted text, personalisation."""

from __future__ import annotations

import html
import re
from dataclasses import replace
from pathlib import Path

import pytest

from newsletter.compose.digest import (
    PLACEHOLDERS,
    PreparedPart,
    clean_header,
    figure_display,
    personalise,
    render_digest,
)
from newsletter.compose.templates import NARROW_NBSP, NBSP
from newsletter.core.errors import ComposeError
from newsletter.core.models import Figure
from tests.fakes.digest_samples import (
    FIXED_NOW,
    apprentissage,
    english,
    french_announcements,
    hostile,
    many_announcements,
    premier_emploi,
    sample_config,
)
from tests.fakes.golden import Golden

GMAIL_CLIP_BYTES = 102 * 1024
RECIPIENT = {
    "name": "Ana",
    "unsubscribe_url": "https://lettre.example.org/unsubscribe/tok123",
    "browser_url": "https://lettre.example.org/archive/issue",
}
LINK = re.compile(r"""\b(?:href|src)="([^"]*)\"""")


def readable(markup: str) -> str:
    """The text a reader sees in HTML: tags dropped, entities decoded, spaces unified."""
    text = html.unescape(re.sub(r"<[^>]+>", " ", markup))
    return " ".join(text.replace(NBSP, " ").replace(NARROW_NBSP, " ").split())


def plain(text: str) -> str:
    """Text with its no-break spaces made plain, for containment checks."""
    return " ".join(text.replace(NBSP, " ").replace(NARROW_NBSP, " ").split())


def test_french_digest_matches_golden_files(golden: Golden) -> None:
    config = sample_config()
    digest = render_digest(config, config.digest("hebdo"), french_announcements(), FIXED_NOW)
    golden.check_html("digest/fr.html", digest.html)
    golden.check("digest/fr.txt", digest.text)
    golden.check("digest/fr.subject.txt", digest.subject + "\n")


def test_english_digest_matches_golden_files(golden: Golden) -> None:
    config = sample_config()
    digest = render_digest(config, config.digest("weekly"), [english()], FIXED_NOW)
    golden.check_html("digest/en.html", digest.html)
    golden.check("digest/en.txt", digest.text)
    assert digest.subject == "La lettre de l'emploi des jeunes: 1 new announcement"


def test_every_title_quote_and_figure_appears_in_both_parts() -> None:
    config = sample_config()
    announcements = [apprentissage(), premier_emploi()]
    digest = render_digest(config, config.digest("hebdo"), announcements, FIXED_NOW)
    seen_html, seen_text = readable(digest.html), plain(digest.text)
    for item in announcements:
        quote = item.main_quote
        assert quote is not None and quote.speaker and quote.role
        for expected in (item.title, quote.text, quote.speaker, quote.role):
            assert plain(expected) in seen_html
            assert plain(expected) in seen_text
    for shown in ("900 000", "7,4 %", "2,5 milliards €", "contrats signés", "15 000", "24 mars 2025"):
        assert shown in seen_html
        assert shown in seen_text
    assert "Lire la suite" in seen_html and "Se désabonner" in seen_html
    assert "Voir dans le navigateur" in seen_html


def test_english_digest_is_in_english() -> None:
    config = sample_config()
    digest = render_digest(config, config.digest("weekly"), [english()], FIXED_NOW)
    assert '<html lang="en"' in digest.html
    seen = readable(digest.html)
    for shown in ("900,000", "7.4%", "March 24, 2025", "Read more", "Unsubscribe", "View in your browser"):
        assert shown in seen
    assert "Lire la suite" not in seen


def test_links_are_absolute_with_utm_only_on_outgoing_links() -> None:
    config = sample_config()
    digest = render_digest(config, config.digest("hebdo"), french_announcements(), FIXED_NOW)
    links = LINK.findall(personalise(digest.html, RECIPIENT, is_html=True))
    assert links
    assert all(link.startswith("https://") for link in links), links
    article = "https://ministere.example.org/communiques/apprentissage-2024?ref=home&amp;utm_source=newsletter"
    assert any(link.startswith(article) for link in links)
    assert RECIPIENT["unsubscribe_url"] in links and RECIPIENT["browser_url"] in links
    assert "https://lettre.example.org/announcements/fr-hostile?utm_source=newsletter&amp;utm_medium=email" in links
    english_digest = render_digest(config, config.digest("weekly"), [english()], FIXED_NOW)
    assert "utm_" not in english_digest.html


def test_nothing_external_is_fetched_but_the_configured_logo() -> None:
    config = sample_config()
    digest = render_digest(config, config.digest("hebdo"), french_announcements(), FIXED_NOW)
    assert re.findall(r'src="([^"]+)"', digest.html) == ["https://lettre.example.org/static/logo.png"]
    assert 'alt="Logo du ministère du Travail"' in digest.html
    for external in ("<link", "@import", "fonts.googleapis", "url("):
        assert external not in digest.html
    no_logo = sample_config(branding={"organisation": "Ministère"})
    plain_digest = render_digest(no_logo, no_logo.digest("hebdo"), [apprentissage()], FIXED_NOW)
    assert "<img" not in plain_digest.html


def test_no_template_syntax_is_left_unresolved() -> None:
    config = sample_config()
    for name, items in (("hebdo", [apprentissage(), premier_emploi()]), ("weekly", [english()])):
        digest = render_digest(config, config.digest(name), items, FIXED_NOW)
        for part in (digest.html, digest.text, digest.subject):
            assert "{{" not in part and "{%" not in part and "{#" not in part


def test_ten_announcements_stay_under_gmail_clipping() -> None:
    config = sample_config()
    digest = render_digest(config, config.digest("hebdo"), many_announcements(10), FIXED_NOW)
    size = len(personalise(digest.html, RECIPIENT, is_html=True).encode("utf-8"))
    assert size < GMAIL_CLIP_BYTES, f"{size} bytes"
    assert digest.html.count("Lire la suite") >= 10


def test_styles_marked_inline_are_inlined_after_compiling() -> None:
    config = sample_config()
    digest = render_digest(config, config.digest("hebdo"), [apprentissage()], FIXED_NOW)
    blockquote = re.search(r"<blockquote[^>]*>", digest.html)
    assert blockquote and "border-left: 4px solid #e1000f" in blockquote.group(0)
    figure = re.search(r'<span class="figure-value"[^>]*>', digest.html)
    assert figure and "font-size: 30px" in figure.group(0)
    assert "@media only screen and (max-width: 479px)" in digest.html


def test_untrusted_text_is_escaped_and_never_evaluated() -> None:
    config = sample_config()
    digest = render_digest(config, config.digest("hebdo"), [hostile()], FIXED_NOW)
    assert "<script>" not in digest.html and "<img src=x" not in digest.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in digest.html
    assert "{{ 7*7 }}" in html.unescape(digest.html) and "49" not in readable(digest.html)
    assert "{{ config }}" in digest.text
    assert 'href="javascript:' not in digest.html
    assert "Bcc: victim" not in digest.subject


def test_an_announcement_link_cannot_carry_a_line_break_or_a_subscriber_value() -> None:
    config = sample_config()  # the weekly digest adds no utm parameters: the link is kept as cleaned
    honest = render_digest(config, config.digest("weekly"), [apprentissage()], FIXED_NOW)
    tricky = replace(apprentissage(), url=" https://evil.example/a\r.\n?t=%%NL_UNSUBSCRIBE_URL%%&x=\x01y\x00 ")
    digest = render_digest(config, config.digest("weekly"), [tricky], FIXED_NOW)
    link = "https://evil.example/a.?t=%25%25NL_UNSUBSCRIBE_URL%%&x=%01y"
    assert f'href="{html.escape(link)}"' in digest.html and link in digest.text
    assert "\r" not in digest.html + digest.text
    for part in ("html", "text"):
        placeholders = PLACEHOLDERS["unsubscribe_url"]
        assert getattr(digest, part).count(placeholders) == getattr(honest, part).count(placeholders)


def test_a_hostile_title_cannot_break_the_subject() -> None:
    config = sample_config()
    digest_config = config.digest("hebdo").model_copy(update={"subject": "{{ first_title }}"})
    digest = render_digest(config, digest_config, [hostile()], FIXED_NOW)
    assert "\r" not in digest.subject and "\n" not in digest.subject
    assert digest.subject.startswith('Titre <script>alert(1)</script> & "{{ 7*7 }}"')
    assert "%%NL_" not in digest.subject
    assert clean_header("=?utf-8?b?QmNjOg==?=\u2028X\x00Y") == "= ?utf-8?b?QmNjOg== ?= X Y"
    assert len(clean_header("x" * 500)) <= 200


def test_subject_keeps_apostrophes_unescaped() -> None:
    config = sample_config()
    digest = render_digest(config, config.digest("hebdo"), [apprentissage()], FIXED_NOW)
    assert digest.subject == "Ministère du Travail et de l'Emploi : 1 nouvelle annonce"


def test_personalisation_escapes_values_and_never_evaluates_them() -> None:
    config = sample_config()
    digest = render_digest(config, config.digest("hebdo"), [apprentissage()], FIXED_NOW)
    values = {
        "name": 'Ana "<b>" {{ 7*7 }} %%NL_UNSUBSCRIBE_URL%%\r\nBcc: x',
        "unsubscribe_url": "https://lettre.example.org/u?t=1&s=2",
        "browser_url": RECIPIENT["browser_url"],
    }
    filled_html = personalise(digest.html, values, is_html=True)
    filled_text = personalise(digest.text, values, is_html=False)
    assert "Bonjour Ana &quot;&lt;b&gt;&quot; {{ 7*7 }} %%NL_UNSUBSCRIBE_URL%% Bcc: x," in filled_html
    assert 'href="https://lettre.example.org/u?t=1&amp;s=2"' in filled_html
    assert "Bonjour Ana \"<b>\" {{ 7*7 }} %%NL_UNSUBSCRIBE_URL%% Bcc: x," in filled_text
    assert filled_html.count("%%NL_") == 1 and filled_text.count("%%NL_") == 1
    anonymous = personalise(digest.text, {**values, "name": None}, is_html=False)
    assert "Bonjour," in anonymous


def test_prepared_parts_fill_like_personalise() -> None:
    config = sample_config()
    digest = render_digest(config, config.digest("hebdo"), french_announcements(), FIXED_NOW)
    for part, is_html in ((digest.html, True), (digest.text, False)):
        prepared = PreparedPart.of(part, is_html=is_html)
        assert set(prepared.pieces[1::2]) == set(PLACEHOLDERS)
        assert prepared.fill(RECIPIENT) == personalise(part, RECIPIENT, is_html=is_html)
        assert "%%NL_" not in prepared.fill(RECIPIENT)


def test_template_errors_name_the_template_and_line(tmp_path: Path) -> None:
    (tmp_path / "email").mkdir()
    (tmp_path / "email" / "digest.mjml.j2").write_text("<mjml>\n<mj-body>\n{{ nope }}\n</mj-body>\n</mjml>\n")
    config = sample_config(templates_dir=str(tmp_path))
    with pytest.raises(ComposeError, match=r"template email/digest\.mjml\.j2, line 3: 'nope' is undefined"):
        render_digest(config, config.digest("hebdo"), [apprentissage()], FIXED_NOW)


def test_invalid_mjml_is_reported_with_the_rendered_line(tmp_path: Path) -> None:
    (tmp_path / "email").mkdir()
    (tmp_path / "email" / "digest.mjml.j2").write_text("<mjml>\n<mj-body>\n<mj-section>\n</mj-body>\n</mjml>\n")
    config = sample_config(templates_dir=str(tmp_path))
    with pytest.raises(ComposeError, match=r"email/digest\.mjml\.j2: MJML does not compile"):
        render_digest(config, config.digest("hebdo"), [apprentissage()], FIXED_NOW)



@pytest.mark.parametrize(("locale", "expected"), [("fr", "1,2\u00a0milliard\u00a0€"), ("en", "€1.2 billion")])
def test_money_figures_carry_the_currency_symbol_of_the_locale(locale, expected):
    figure = Figure("1,2 milliard d'euros", 1.2e9, kind="money", unit="EUR")
    assert figure_display(figure, locale).replace(" ", "\u00a0") == expected.replace(" ", "\u00a0")
