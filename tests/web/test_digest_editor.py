"""The digest editor page over the app: the next issue's announcements to reorder, remove and
add (paged), subject and intro, the preview frame showing the one render, re-approval after an edit."""

from __future__ import annotations

import re
from datetime import date, timedelta

from newsletter.core.models import Announcement
from newsletter.pipeline import actions
from newsletter.pipeline.plan import plan_digest
from newsletter.store import DigestIssueStatus
from newsletter.web.upcoming import digest_html
from tests.fakes.review_env import NOW, ReviewEnv, form_post
from tests.pipeline.test_actions import audit
from tests.pipeline.test_editor import NEWEST_FIRST, needing_approval

EDITOR = "/digests/hebdo/edit"


def listed(page: str, css: str) -> list[str]:
    """Announcement ids in the page's list with class `css`, in order."""
    block = page.split(f'class="{css}"')[1].split("</ol>" if css == "edit-list" else "</ul>")[0]
    return re.findall(r'<li data-id="([^"]+)"', block)


def edit(client, data: dict[str, str]):  # type: ignore[no-untyped-def]
    """Post one digest edit from the editor page."""
    return form_post(client, "/actions/edit-digest", {"digest": "hebdo", "next": EDITOR, **data}, page=EDITOR)


def test_the_editor_shows_the_next_issue_with_labelled_forms_and_its_preview(review_env: ReviewEnv) -> None:
    page = review_env.client.get(EDITOR).text
    assert "Modifier la lettre « hebdo »" in page and "24 mars 2025 09:00" in page
    assert listed(page, "edit-list") == NEWEST_FIRST
    assert '<label for="subject">Objet</label>' in page and '<label for="intro">Introduction</label>' in page
    assert 'value="Ministère des Essais : 3 nouvelles annonces"' in page
    assert 'src="/upcoming/digest/hebdo.html"' in page and 'data-width="mobile"' in page
    assert "Aucune autre annonce à ajouter." in page
    assert review_env.client.get("/digests/nope/edit").status_code == 404


def test_reorder_and_subject_from_the_page_change_what_the_preview_frame_shows(review_env: ReviewEnv) -> None:
    with review_env.client_as("edith") as editor:
        moved = edit(editor, {"op": "down", "target": "apprentissage"})
        assert moved.status_code == 303 and moved.headers["location"] == EDITOR
        assert edit(editor, {"op": "subject", "text": "La semaine en bref"}).status_code == 303
        page = editor.get(EDITOR).text
    assert listed(page, "edit-list") == ["hostile", "apprentissage", "emploi-jeunes"]
    issue = plan_digest(review_env.config, review_env.store, review_env.config.digest("hebdo"), NOW).issue
    assert issue.digest.subject == "La semaine en bref"
    assert f'src="/upcoming/issue/{issue.id}.html"' in page and "La semaine en bref" in page
    frame = review_env.client.get(f"/upcoming/issue/{issue.id}.html").text
    assert frame == digest_html(review_env.config, issue.digest), "the frame is the one render the send reads"
    assert frame.index("Annonce &lt;script") < frame.index("Apprentissage")
    assert [(actor, action) for actor, action, _ in audit(review_env)][:2] == [("edith", "digest.edit")] * 2


def test_remove_then_add_back_with_paged_candidates(review_env: ReviewEnv) -> None:
    assert edit(review_env.client, {"op": "remove", "target": "hostile"}).status_code == 303  # the issue is recorded
    for number in range(12):
        review_env.store.announcements.upsert_announcement(Announcement(
            identity=f"extra{number}", source="communiques", id=f"extra-{number:02d}",
            title=f"Annonce en plus {number}", url=f"https://ministere.example.org/{number}",
            published=date(2025, 3, 1)), announce=True,
            now=NOW - timedelta(hours=12 - number))
    first = review_env.client.get(EDITOR).text
    assert "hostile" not in listed(first, "edit-list")
    assert len(listed(first, "candidates")) == 10 and "Page 1 sur 2" in first
    second = review_env.client.get(f"{EDITOR}?page=2").text
    offered = listed(first, "candidates") + listed(second, "candidates")
    assert sorted(offered) == sorted([f"extra-{n:02d}" for n in range(12)] + ["hostile"])
    assert edit(review_env.client, {"op": "add", "target": "hostile"}).status_code == 303
    assert listed(review_env.client.get(EDITOR).text, "edit-list")[-1] == "hostile"
    refused = edit(review_env.client, {"op": "shuffle", "target": "hostile"})
    assert refused.status_code == 400
    assert "Modification inconnue « shuffle » : attendu l&#39;une de up, down, remove" in refused.text
    review_env.client.get(f"/lang/en?next={EDITOR}")
    refused = edit(review_env.client, {"op": "remove", "target": "no-such-announcement"})
    assert refused.status_code == 400 and "does not hold announcement “no-such-announcement”." in refused.text
    assert "hebdo-" not in refused.text.split('role="alert">')[1].split("</p>")[0]


def test_an_approved_issue_edited_on_the_page_waits_for_an_approver_again(review_env: ReviewEnv) -> None:
    config = needing_approval(review_env.config)
    issue_id = actions.approve(config, review_env.store, "hebdo", "paul", NOW).target
    with review_env.admin_client(config) as client:
        response = edit(client, {"op": "intro", "text": "Un mot d'introduction."})
        assert response.status_code == 303
        page = client.get(EDITOR).text
        flash = page.split('role="status">')[1].split("</p>")[0]
        assert flash.endswith("est modifié. Il faut l&#39;approuver de nouveau.") and issue_id not in flash
        assert "en attente d&#39;approbation" in page
        issue = plan_digest(config, review_env.store, config.digest("hebdo"), NOW).issue
        assert issue.status is DigestIssueStatus.AWAITING_APPROVAL
        assert f'<input type="hidden" name="target" value="{issue.id}">' in page and 'class="approve"' in page
        assert form_post(client, "/actions/approve", {"target": issue.id, "next": EDITOR}, page=EDITOR
                         ).status_code == 303
    approved = review_env.store.issues.get_digest_issue(issue.id)
    assert approved.status is DigestIssueStatus.APPROVED and approved.approved_by == "alice"
