"""After an action, the page says what was done in the interface language, naming the item as
people know it: a post by its channel and announcement title, an issue by its digest and subject."""

from __future__ import annotations

from tests.fakes.review_env import ReviewEnv
from tests.pipeline.test_actions import X_POST, frozen_issue


def _flash(env: ReviewEnv) -> str:
    page = env.client.get("/upcoming").text
    return page.split('class="flash flash-info" role="status">')[1].split("</p>")[0]


def test_messages_name_the_item_in_english_too(review_env: ReviewEnv) -> None:
    review_env.client.get("/lang/en?next=/upcoming")
    review_env.post("/actions/skip", {"target": X_POST})
    assert _flash(review_env) == "Post on x-main skipped: “Apprentissage : près de 900 000 contrats signés en 2024”."
    issue_id = frozen_issue(review_env)
    subject = review_env.store.issues.get_digest_issue(issue_id).digest.subject
    review_env.post("/actions/skip", {"target": issue_id})
    assert _flash(review_env) == f"hebdo newsletter: the issue “{subject}” is skipped."
    review_env.post("/actions/skip", {"target": "emploi-jeunes"})
    assert _flash(review_env).startswith("Announcement skipped: “Emploi des jeunes : un nouveau plan” (")


def test_a_test_copy_names_its_subject_and_recipient(review_env: ReviewEnv) -> None:
    review_env.post("/actions/test-send", {"digest": "hebdo", "address": "relecture@example.org"})
    flash = _flash(review_env)
    assert flash.startswith("Copie de test de « ") and flash.endswith(" » envoyée à relecture@example.org.")
    assert "hebdo-2025" not in flash


def test_a_refused_action_says_why_in_the_interface_language(review_env: ReviewEnv) -> None:
    review_env.post("/actions/approve", {"target": X_POST})
    again = review_env.post("/actions/approve", {"target": X_POST})
    assert again.status_code == 400
    assert ("« Apprentissage : près de 900 000 contrats signés en 2024 » (x-main) est en file d&#39;attente : "
            "il n&#39;attend plus d&#39;approbation.") in again.text
    too_long = review_env.post("/actions/edit", {"target": X_POST, "text": "é" * 300})
    assert too_long.status_code == 400 and "300/280 caractères, au-delà de la limite" in too_long.text
    review_env.client.get("/lang/en?next=/upcoming")
    bad = review_env.post("/actions/test-send", {"digest": "hebdo", "address": "nobody"})
    assert bad.status_code == 400 and "“nobody” is not a valid email address." in bad.text
    assert X_POST not in again.text + too_long.text
