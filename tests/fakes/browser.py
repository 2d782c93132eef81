"""A real headless Chromium (Debian's /usr/bin/chromium driven by Playwright), started once per
session, and the layout check of a rendered digest.

Run on a preview folder: `python -m tests.fakes.browser OUT_DIR` renders OUT_DIR/digest.html at
600 and 375 px, saves OUT_DIR/digest-600.png and digest-375.png, and fails on horizontal overflow.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WIDTHS = (600, 375)
# Elements wider than the viewport, ignoring hidden ones (the preheader) and MSO-only markup.
OVERFLOW_SCRIPT = """() => {
  const width = document.documentElement.clientWidth;
  const offenders = [];
  for (const element of document.body.querySelectorAll('*')) {
    const style = getComputedStyle(element);
    if (style.display === 'none' || style.visibility === 'hidden' || style.maxHeight === '0px') continue;
    const box = element.getBoundingClientRect();
    if (box.width > 0 && (box.right > width + 1 || box.left < -1)) {
      offenders.push(`${element.tagName.toLowerCase()}.${element.className} right=${Math.round(box.right)}`);
    }
  }
  return {scrollWidth: document.documentElement.scrollWidth, width, offenders: offenders.slice(0, 10)};
}"""


@dataclass
class LayoutReport:
    """What one viewport width showed: the page's scroll width and the elements that overflow."""

    width: int
    scroll_width: int
    offenders: list[str]
    screenshot: Path

    @property
    def overflows(self) -> bool:
        """Whether anything sticks out horizontally."""
        return self.scroll_width > self.width or bool(self.offenders)


def launch_chromium(playwright: Any) -> Any:
    """Debian's Chromium in headless mode, never a downloaded browser build."""
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


def block_network(page: Any) -> None:
    """Refuse every request but the local file, so a rendered digest never reaches out."""
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file:") else route.abort())


def check_layout(browser: Any, html_path: Path, out_dir: Path, widths: tuple[int, ...] = WIDTHS) -> list[LayoutReport]:
    """Render `html_path` at each width, save full-page screenshots in `out_dir`, report overflow."""
    reports = []
    for width in widths:
        page = browser.new_page(viewport={"width": width, "height": 900})
        try:
            block_network(page)
            page.goto(html_path.resolve().as_uri(), wait_until="load")
            found = page.evaluate(OVERFLOW_SCRIPT)
            screenshot = out_dir / f"{html_path.stem}-{width}.png"
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            page.close()
        reports.append(LayoutReport(width, found["scrollWidth"], found["offenders"], screenshot))
    return reports


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """A session-wide headless Chromium; skipped (or failed under NEWSLETTER_REQUIRE_ALL=1) when absent."""
    from tests.conftest import require_or_skip

    if not CHROMIUM.exists() and not shutil.which("chromium"):
        require_or_skip("Debian's chromium is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require_or_skip("the playwright Python package is not installed")
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            yield browser
        finally:
            browser.close()


def main(out_dir: str) -> int:
    """Check OUT_DIR/digest.html at 600 and 375 px; exit 1 if anything overflows at 375 px."""
    from playwright.sync_api import sync_playwright

    folder = Path(out_dir)
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            reports = check_layout(browser, folder / "digest.html", folder)
        finally:
            browser.close()
    for report in reports:
        state = "overflows: " + "; ".join(report.offenders) if report.overflows else "fits"
        print(f"{report.width}px: scroll width {report.scroll_width}px, {state} -> {report.screenshot}")
    return 1 if any(r.overflows for r in reports if r.width == 375) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "."))
