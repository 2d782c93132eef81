"""After an action, the page says what was done in the interface language, naming the item as
people know it: a post by its channel and announcement title, an issue by its digest and subject."""

from __future__ import annotations

import re

from newsletter.store.ledger import Ledger
from tests.fakes.review_env import NOW, ReviewEnv
from tests.pipeline.test_actions import MASTO_POST, X_POST, frozen_issue


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
    assert ("« Apprentissage : près de 900 000 contrats signés en 2024 » (x-main) n&#39;attend plus "
            "d&#39;approbation (état : en file d&#39;attente).") in again.text
    too_long = review_env.post("/actions/edit", {"target": X_POST, "text": "é" * 300})
    assert too_long.status_code == 400 and "300/280 caractères, au-delà de la limite" in too_long.text
    review_env.client.get("/lang/en?next=/upcoming")
    bad = review_env.post("/actions/test-send", {"digest": "hebdo", "address": "nobody"})
    assert bad.status_code == 400 and "“nobody” is not a valid email address." in bad.text
    assert X_POST not in again.text + too_long.text


def _alert(page: str) -> str:
    return page.split('role="alert">')[1].split("</p>")[0]


def test_refusals_without_a_state_are_in_the_interface_language_too(review_env: ReviewEnv) -> None:
    unknown = review_env.post("/actions/approve", {"target": "nothing-by-that-name"})
    assert unknown.status_code == 400
    assert _alert(unknown.text) == ("« nothing-by-that-name » n&#39;est ni une publication, ni un numéro de lettre, "
                                    "ni une lettre, ni une annonce.")
    gone = review_env.post("/actions/skip", {"target": "post:apprentissage:quote:nowhere"})
    assert _alert(gone.text) == "Aucune publication en file ne porte la clé « post:apprentissage:quote:nowhere »."
    review_env.client.get("/lang/en?next=/upcoming")
    announcement = review_env.post("/actions/approve", {"target": "emploi-jeunes"})
    assert _alert(announcement.text) == ("“Emploi des jeunes : un nouveau plan” is an announcement: approve its posts "
                                         "or the digest issue carrying it.")
    no_figure = review_env.post("/actions/pick-key", {"target": "emploi-jeunes", "kind": "figure", "index": "40"})
    assert _alert(no_figure.text) == "Announcement “Emploi des jeunes : un nouveau plan” has no figure number 41."


def test_every_refusal_reason_has_a_sentence_in_both_languages() -> None:
    from pathlib import Path

    from newsletter.core.i18n import MESSAGES

    package = Path(__file__).parents[2] / "newsletter"
    sources = "".join(path.read_text() for path in package.rglob("*.py"))
    reasons = set(re.findall(r'reason="(\w+)"', sources)) | {"no_quote_number", "no_figure_number"}
    assert len(reasons) > 25
    for lang in ("fr", "en"):
        assert [r for r in sorted(reasons) if f"refused_{r}" not in MESSAGES[lang]] == [], lang


def test_a_refusal_names_the_state_whatever_its_gender(review_env: ReviewEnv) -> None:
    ledger = Ledger(review_env.store)
    ledger.claim(MASTO_POST, NOW)
    ledger.mark_sent(MASTO_POST, "123", "https://social.example/@ministere/123", now=NOW)
    refused = review_env.post("/actions/edit", {"target": MASTO_POST, "text": "Nouveau texte"})
    assert refused.status_code == 400
    assert _alert(refused.text) == ("Publication sur masto — « Apprentissage : près de 900 000 contrats signés en "
                                    "2024 » : elle ne peut plus être modifiée (état : envoyé).")


def test_no_french_sentence_agrees_a_state_with_its_subject() -> None:
    from newsletter.core.i18n import MESSAGES

    agreeing = {key: text for key, text in MESSAGES["fr"].items()
                if key.startswith(("refused_", "done_")) and re.search(r"\b(est|sont) \{status\}", text)}
    assert agreeing == {}
