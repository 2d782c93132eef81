"""A real-browser check of the digest layout: headless Chromium at 600 px and 375 px."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from newsletter.compose.digest import personalise, render_digest
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
