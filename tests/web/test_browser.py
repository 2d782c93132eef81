"""A real browser on the review app: Debian's Chromium (Playwright) against uvicorn on loopback.

Signs in through the login form, opens the Upcoming page, switches the digest preview to mobile
width, edits and approves a post and checks it moved to the queue; then, on the calendar, moves a
post to another slot, opens the digest editor, reorders and retitles the next issue and approves
it. Screenshots go to test-output/web/ (printed at the end).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from newsletter.core.models import DeliveryStatus
from newsletter.store import DigestIssueStatus
from newsletter.store.ledger import Ledger
from tests.fakes.review_env import PASSWORD, ReviewEnv, serve_app
from tests.pipeline.test_actions import MASTO_POST, X_POST
from tests.pipeline.test_editor import needing_approval

pytestmark = pytest.mark.browser
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "web"


def local_only(page: Any, base_url: str) -> None:
    """Refuse every request that does not go to the test server."""
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(base_url) else route.abort())


def test_preview_edit_and_approve_in_a_real_browser(chromium: Any, served: str, review_env: ReviewEnv) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page = chromium.new_page(viewport={"width": 1280, "height": 900})
    try:
        local_only(page, served)
        page.goto(f"{served}/upcoming")
        assert page.url.startswith(f"{served}/login")
        page.get_by_label("Nom d'utilisateur").fill("paul")
        page.get_by_label("Mot de passe").fill(PASSWORD)
        page.get_by_role("button", name="Se connecter").click()
        page.wait_for_url(f"{served}/upcoming")
        assert "paul (validation)" in page.locator("header.top").inner_text()
        frame = page.locator("#digest-hebdo iframe.digest-frame")
        digest_body = page.frame_locator("#digest-hebdo iframe.digest-frame").locator("body")
        digest_body.wait_for()
        assert "Apprentissage" in digest_body.inner_text()
        assert frame.evaluate("element => element.getBoundingClientRect().width") > 375
        page.screenshot(path=str(SCREENSHOTS / "upcoming-desktop.png"), full_page=True)

        page.click("#digest-hebdo button[data-width=mobile]")
        assert frame.evaluate("element => element.getBoundingClientRect().width") == 375
        assert page.get_attribute("#digest-hebdo button[data-width=mobile]", "aria-pressed") == "true"
        frame.screenshot(path=str(SCREENSHOTS / "digest-mobile.png"))

        card = page.locator(f'article[data-key="{X_POST}"]')
        assert card.get_attribute("data-status") == "awaiting_approval"
        counter = card.locator("output.length")
        card.locator("textarea").fill("é" * 281)
        assert counter.text_content() == "281/280"
        assert card.locator("button.save").is_disabled()
        card.locator("textarea").fill("Relu par l'équipe 👍 https://ministere.example.org/communiques/apprentissage")
        assert counter.text_content() == "44/280"  # as compose/length.py counts for X
        card.locator("button.save").click()
        page.wait_for_load_state()
        page.locator(f'article[data-key="{X_POST}"] button.approve').click()
        page.wait_for_load_state()

        moved = page.locator(f'.posts.queue article[data-key="{X_POST}"]')
        moved.wait_for()
        assert moved.get_attribute("data-status") == "pending"
        assert "Relu par l'équipe" in moved.locator("textarea").input_value()
        assert page.locator(f'.posts.awaiting article[data-key="{X_POST}"]').count() == 0
        page.screenshot(path=str(SCREENSHOTS / "upcoming-after-approval.png"), full_page=True)
    finally:
        page.close()
    row = Ledger(review_env.store).get(X_POST)
    assert row.status == DeliveryStatus.PENDING and row.payload["length"] == 44
    assert [(a.actor, a.action) for a in review_env.store.audit.list_actions()][:2] == [
        ("paul", "post.approve"), ("paul", "post.edit")]
    print(f"screenshots: {SCREENSHOTS}")


def test_calendar_move_then_edit_and_approve_a_digest_in_a_real_browser(chromium: Any, review_env: ReviewEnv) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with serve_app(needing_approval(review_env.config)) as served:
        page = chromium.new_page(viewport={"width": 1400, "height": 1000})
        try:
            local_only(page, served)
            page.goto(f"{served}/calendar")
            page.get_by_label("Nom d'utilisateur").fill("paul")
            page.get_by_label("Mot de passe").fill(PASSWORD)
            page.get_by_role("button", name="Se connecter").click()
            page.wait_for_url(f"{served}/calendar")

            item = page.locator(f'li[data-target="{MASTO_POST}"]')
            assert item.get_attribute("data-at") == "2025-03-21T12:00:00+01:00"
            item.get_by_label("Déplacer vers le créneau").select_option("2025-03-23T12:00:00+01:00")
            item.get_by_role("button", name="Déplacer").click()
            page.wait_for_load_state()
            page.locator(f'td[data-day="2025-03-23"] li[data-target="{MASTO_POST}"]').wait_for()
            page.screenshot(path=str(SCREENSHOTS / "calendar-week-after-move.png"), full_page=True)
            page.get_by_role("link", name="Vue mois").click()
            page.locator(f'td[data-day="2025-03-23"] li[data-target="{MASTO_POST}"]').wait_for()
            page.screenshot(path=str(SCREENSHOTS / "calendar-month.png"), full_page=True)
            page.go_back()

            page.get_by_role("link", name="Semaine suivante →").click()
            page.locator('td[data-day="2025-03-24"] li[data-name="hebdo"]').get_by_role(
                "link", name="Modifier la lettre").click()
            page.wait_for_url(f"{served}/digests/hebdo/edit")
            page.locator('li[data-id="apprentissage"]').get_by_role("button", name="Descendre").click()
            page.wait_for_load_state()
            subject = page.get_by_label("Objet", exact=True)
            subject.fill("La semaine en bref")
            subject.press("Enter")  # the form is usable from the keyboard
            page.wait_for_load_state()
            order = page.locator("ol.edit-list > li").evaluate_all("items => items.map(i => i.dataset.id)")
            assert order == ["hostile", "apprentissage", "emploi-jeunes"]
            assert page.locator("dd.issue-status").inner_text() == "en attente d'approbation"
            frame = page.frame_locator("iframe.digest-frame").locator("body")
            frame.wait_for()
            text = frame.inner_text()
            assert text.index("Annonce <script>") < text.index("Apprentissage")
            page.click("button[data-width=mobile]")
            page.screenshot(path=str(SCREENSHOTS / "digest-editor-mobile.png"), full_page=True)

            page.get_by_role("button", name="Approuver").click()
            page.wait_for_load_state()
            assert page.locator("dd.issue-status").inner_text() == "approuvé"
            page.screenshot(path=str(SCREENSHOTS / "digest-editor-approved.png"), full_page=True)
        finally:
            page.close()
    issue = review_env.store.issues.list_digest_issues(digest="hebdo", limit=1)[0]
    assert issue.status is DigestIssueStatus.APPROVED and issue.approved_by == "paul"
    assert issue.digest.subject == "La semaine en bref"
    assert [a.action for a in review_env.store.audit.list_actions() if a.actor == "paul"] == [
        "digest.approve", "digest.edit", "digest.edit", "digest.record_next", "post.move"]


def test_an_admin_imports_subscribers_then_finds_one_and_reads_their_history(
        chromium: Any, served: str, review_env: ReviewEnv, tmp_path: Path) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    upload = tmp_path / "abonnés.csv"
    upload.write_text("email;name;lists\nchloe@example.org;Chloé Martin;main\npas-une-adresse;X;main\n"
                      "denis@example.org;Denis;main\n", encoding="utf-8")
    page = chromium.new_page(viewport={"width": 1280, "height": 900})
    try:
        local_only(page, served)
        page.goto(f"{served}/login")
        page.get_by_label("Nom d'utilisateur").fill("alice")
        page.get_by_label("Mot de passe").fill(PASSWORD)
        page.get_by_role("button", name="Se connecter").click()
        page.wait_for_url(f"{served}/upcoming")
        page.get_by_role("link", name="Abonnés").click()
        page.wait_for_url(f"{served}/subscribers")
        page.get_by_label("Fichier CSV").set_input_files(str(upload))
        page.get_by_label("Inscrire tout le monde à la liste").select_option("main")
        page.get_by_role("button", name="Importer").click()
        page.wait_for_url(f"{served}/subscribers/import/*")
        page.locator('section.import[data-finished="yes"]').wait_for(timeout=10000)
        shown = page.locator("section.import").inner_text()
        assert page.locator("dl.import-report").count() == 1, shown
        report = page.locator("dl.import-report")
        assert report.locator("dd.n-added").inner_text() == "2" and report.locator("dd.n-rejected").inner_text() == "1"
        assert "pas-une-adresse" in page.locator("table.rejected").inner_text()
        page.screenshot(path=str(SCREENSHOTS / "subscribers-import-report.png"), full_page=True)

        page.get_by_role("link", name="Abonnés").first.click()
        page.get_by_label("Rechercher (adresse ou nom)").fill("martin")
        page.keyboard.press("Enter")
        page.wait_for_url(f"{served}/subscribers?q=martin*")
        assert page.locator("table.subscribers tbody tr").count() == 1
        page.screenshot(path=str(SCREENSHOTS / "subscribers-search.png"), full_page=True)
        page.get_by_role("link", name="chloe@example.org").click()
        page.wait_for_url(f"{served}/subscribers/*")
        history = page.locator("table.subscriber-history").inner_text()
        assert "consentement recueilli" in history and "inscription" in history
        assert "import:abonnés.csv" in history
        page.screenshot(path=str(SCREENSHOTS / "subscriber-history.png"), full_page=True)
    finally:
        page.close()
    chloe = review_env.store.subscribers.get_subscriber("chloe@example.org")
    assert chloe is not None and chloe.lists == ["main"] and chloe.name == "Chloé Martin"
