"""A real-browser check of the digest layout: headless Chromium at 600 px and 375 px."""

from __future__ import annotations

import email
from email import policy
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageChops

from newsletter.compose.digest import personalise, render_digest
from newsletter.compose.mime import build_message_template
from tests.fakes.browser import check_layout
from tests.fakes.digest_samples import FIXED_NOW, english, hostile, many_announcements, sample_config

pytestmark = pytest.mark.browser
RECIPIENT = {
    "name": "Marie-Amélie de La Tour-Dupin-Gouvernet",
    "unsubscribe_url": "https://lettre.example.org/unsubscribe/" + "t" * 64,
    "browser_url": "https://lettre.example.org/archive/hebdo-20250324-0800-abcdef12",
}


def write_digest(out_dir: Path, digest_name: str, announcements: list[Any]) -> Path:
    """Render a digest as a recipient gets it and write it to out_dir/digest.html."""
    config = sample_config()
    digest = render_digest(config, config.digest(digest_name), announcements, FIXED_NOW)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "digest.html"
    path.write_text(personalise(digest.html, RECIPIENT, is_html=True), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("digest_name", "announcements"),
    [("hebdo", [*many_announcements(9), hostile()]), ("weekly", [english()])],
    ids=["fr-10", "en-1"],
)
def test_digest_fits_a_phone_and_a_desktop_client(
    chromium: Any, tmp_path: Path, digest_name: str, announcements: list[Any]
) -> None:
    page = write_digest(tmp_path, digest_name, announcements)
    reports = check_layout(chromium, page, tmp_path)
    for report in reports:
        assert report.screenshot.stat().st_size > 2_000, f"empty screenshot at {report.width}px"
        assert not report.overflows, f"{report.width}px: scroll width {report.scroll_width}, {report.offenders}"
    assert [r.width for r in reports] == [600, 375]


def test_the_layout_check_sees_an_overflow(chromium: Any, tmp_path: Path) -> None:
    page = tmp_path / "wide.html"
    page.write_text('<html><body><table width="520"><tr><td>large</td></tr></table></body></html>')
    reports = check_layout(chromium, page, tmp_path)
    assert [r.overflows for r in reports] == [False, True]


def test_the_html_part_as_sent_renders_exactly_like_the_digest(chromium: Any, tmp_path: Path) -> None:
    config = sample_config()
    digest = render_digest(config, config.digest("hebdo"), [*many_announcements(9), hostile()], FIXED_NOW)
    template = build_message_template(digest, config.digest("hebdo"), config, now=FIXED_NOW)
    data = template.render("marie@example.org", RECIPIENT["name"], RECIPIENT["unsubscribe_url"])
    part = email.message_from_bytes(data, policy=policy.default).get_body(("html",))  # type: ignore[attr-defined]
    assert part["Content-Transfer-Encoding"] == "7bit"
    sent, composed = tmp_path / "sent" / "digest.html", tmp_path / "composed" / "digest.html"
    for path in (sent, composed):
        path.parent.mkdir()
    sent.write_text(part.get_content(), encoding="utf-8")
    values = {**RECIPIENT, "browser_url": template.browser_url}
    composed.write_text(personalise(digest.html, values, is_html=True), encoding="utf-8")

    for as_sent, as_composed in zip(
        check_layout(chromium, sent, sent.parent), check_layout(chromium, composed, composed.parent), strict=True
    ):
        with Image.open(as_sent.screenshot) as left, Image.open(as_composed.screenshot) as right:
            assert left.size == right.size, as_sent.width
            assert ImageChops.difference(left.convert("RGB"), right.convert("RGB")).getbbox() is None, as_sent.width
