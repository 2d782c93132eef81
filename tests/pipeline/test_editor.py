"""The digest editor on a real store: reorder, remove, add, subject and intro, re-approval after an
edit, and the edited issue as previewed is what the real send delivers to the loopback SMTP server."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from newsletter.compose.digest import personalise
from newsletter.compose.mime import RecipientValues, SevenBitHtml
from newsletter.config import Config
from newsletter.core.models import DeliveryStatus
from newsletter.pipeline import actions
from newsletter.pipeline.actions import ActionError
from newsletter.pipeline.editor import DigestEdit, EditOp, edit_digest, editor_view
from newsletter.pipeline.plan import plan_digest
from newsletter.pipeline.preview import preview_recipient_values
from newsletter.pipeline.sending import issue_to_send, send_digest
from newsletter.store import DigestIssueStatus
from newsletter.store.ledger import Ledger
from tests.fakes.review_env import NOW, ReviewEnv
from tests.pipeline.test_actions import MASTO_POST, X_POST

NEWEST_FIRST = ["apprentissage", "hostile", "emploi-jeunes"]


def needing_approval(config: Config) -> Config:
    """The review config with its digest requiring approval."""
    digest = config.digests[0].model_copy(update={"require_approval": True})
    return config.model_copy(update={"digests": [digest]})


def edit(env: ReviewEnv, op: EditOp, target: str = "", text: str = "", config: Config | None = None) -> str:
    """Apply one edit as `edith`; returns the summary."""
    return edit_digest(config or env.config, env.store, "hebdo", DigestEdit(op, target, text), "edith", NOW).summary


def test_reorder_remove_add_subject_and_intro_change_the_one_plan(review_env: ReviewEnv) -> None:
    view = editor_view(review_env.config, review_env.store, "hebdo", NOW)
    assert [a.id for a in view.announcements] == NEWEST_FIRST and view.candidates == [] and view.editable

    edit(review_env, EditOp.DOWN, "apprentissage")
    edit(review_env, EditOp.UP, "emploi-jeunes")
    edit(review_env, EditOp.REMOVE, "hostile")
    edit(review_env, EditOp.SUBJECT, text="  Notre   sélection de la semaine ")
    edit(review_env, EditOp.INTRO, text="Bonjour à toutes et à tous,\r\nvoici l'essentiel.  ")

    plan = plan_digest(review_env.config, review_env.store, review_env.config.digest("hebdo"), NOW)
    assert plan.issue is not None and plan.issue.status is DigestIssueStatus.APPROVED
    assert [a.id for a in plan.announcements] == ["emploi-jeunes", "apprentissage"]
    assert plan.subject == "Notre sélection de la semaine"
    html = plan.digest.html
    assert html.index("Emploi des jeunes") < html.index("Apprentissage") and "Annonce &lt;script" not in html
    assert "voici l&#39;essentiel." in html or "voici l&#x27;essentiel." in html or "voici l'essentiel." in html
    assert [a.id for a in editor_view(review_env.config, review_env.store, "hebdo", NOW).candidates] == ["hostile"]

    edit(review_env, EditOp.ADD, "hostile")
    edit(review_env, EditOp.SUBJECT, text="")  # blank: back to the config's subject
    issue = review_env.store.issues.get_digest_issue(plan.issue.id)
    assert issue.digest.announcement_ids == ["emploi-jeunes", "apprentissage", "hostile"]
    assert issue.digest.subject == "Ministère des Essais : 3 nouvelles annonces"
    assert issue.digest.edits.intro == "Bonjour à toutes et à tous,\nvoici l'essentiel."
    logged = [(a.actor, a.action, a.detail and a.detail.get("op")) for a in review_env.store.audit.list_actions()]
    assert logged[-1] == ("edith", "digest.record_next", None)
    assert [op for _, action, op in logged if action == "digest.edit"] == [
        "subject", "add", "intro", "subject", "remove", "up", "down"]


def test_edits_that_cannot_apply_are_refused_and_change_nothing(review_env: ReviewEnv) -> None:
    edit(review_env, EditOp.REMOVE, "hostile")
    edit(review_env, EditOp.REMOVE, "emploi-jeunes")
    with pytest.raises(ActionError, match="at least one announcement: skip the issue instead"):
        edit(review_env, EditOp.REMOVE, "apprentissage")
    with pytest.raises(ActionError, match="does not hold announcement 'emploi-jeunes'"):
        edit(review_env, EditOp.UP, "emploi-jeunes")
    with pytest.raises(ActionError, match="cannot be added"):
        edit(review_env, EditOp.ADD, "no-such-announcement")
    with pytest.raises(ActionError, match="201 characters: at most 200"):
        edit(review_env, EditOp.SUBJECT, text="x" * 201)
    with pytest.raises(ActionError, match="no digest named 'weekly'"):
        edit_digest(review_env.config, review_env.store, "weekly", DigestEdit(EditOp.UP, "x"), "edith", NOW)
    issue = plan_digest(review_env.config, review_env.store, review_env.config.digest("hebdo"), NOW).issue
    assert issue.digest.announcement_ids == ["apprentissage"]
    review_env.store.issues.set_digest_issue_status(issue.id, DigestIssueStatus.SENDING)
    with pytest.raises(ActionError, match="is sending: it can no longer be changed"):
        edit(review_env, EditOp.SUBJECT, text="Trop tard")
    assert not editor_view(review_env.config, review_env.store, "hebdo", NOW).editable


def test_an_edit_of_an_approved_issue_waits_for_approval_again(review_env: ReviewEnv) -> None:
    config = needing_approval(review_env.config)
    actions.approve(config, review_env.store, "hebdo", "paul", NOW)  # approved ahead of its Monday run
    issue = plan_digest(config, review_env.store, config.digest("hebdo"), NOW).issue
    assert issue.status is DigestIssueStatus.APPROVED and issue.approved_by == "paul"

    summary = edit(review_env, EditOp.SUBJECT, text="Objet relu", config=config)
    assert summary.endswith("it waits for approval again")
    again = review_env.store.issues.get_digest_issue(issue.id)
    assert again.status is DigestIssueStatus.AWAITING_APPROVAL and again.approved_by is None
    assert again.digest.subject == "Objet relu"
    actions.approve(config, review_env.store, issue.id, "paul", NOW)
    assert review_env.store.issues.get_digest_issue(issue.id).status is DigestIssueStatus.APPROVED

    edit(review_env, EditOp.SUBJECT, text="Sans approbation requise")  # the review config needs none
    assert review_env.store.issues.get_digest_issue(issue.id).status is DigestIssueStatus.APPROVED


def test_an_edit_of_an_approved_post_waits_for_approval_again(review_env: ReviewEnv) -> None:
    store, ledger = review_env.store, Ledger(review_env.store)
    actions.approve(review_env.config, store, X_POST, "paul", NOW)
    result = actions.edit_post(review_env.config, store, X_POST, "Texte relu après approbation", "edith", NOW)
    assert result.detail["approval_withdrawn"] and result.summary.endswith("it waits for approval again")
    assert ledger.get(X_POST).status is DeliveryStatus.AWAITING_APPROVAL
    actions.edit_post(review_env.config, store, MASTO_POST, "Sur Mastodon, sans approbation", "edith", NOW)
    assert ledger.get(MASTO_POST).status is DeliveryStatus.PENDING  # that channel needs no approval


def test_the_edited_digest_as_previewed_is_byte_for_byte_what_the_send_delivers(review_env: ReviewEnv) -> None:
    config, store = review_env.config, review_env.store
    edit(review_env, EditOp.DOWN, "apprentissage")
    edit(review_env, EditOp.SUBJECT, text="Objet choisi : « l'essentiel »")
    edit(review_env, EditOp.INTRO, text="Une introduction écrite à la main.")
    plan = plan_digest(config, store, config.digest("hebdo"), NOW)
    previewed = personalise(plan.digest.html, preview_recipient_values(config, plan.digest), is_html=True)
    assert "Une introduction écrite à la main." in previewed

    when = plan.scheduled_for
    assert when == datetime(2025, 3, 24, 9, 0, tzinfo=config.tz) and when > NOW + timedelta(days=2)
    to_send = issue_to_send(config, store, "hebdo", when)
    assert to_send.issue is not None and to_send.issue.id == plan.issue.id
    assert send_digest(config, store, to_send.issue, now=when).sent == 2

    received = {r.rcpt_tos[0]: r for r in review_env.smtp.handler.received}
    message = received["ana@example.org"].message()
    assert message["Subject"] == "Objet choisi : « l'essentiel »"
    link = message["List-Unsubscribe"].split(",")[0].strip("<> ")
    ana = preview_recipient_values(config, plan.digest) | {"name": "Ana", "unsubscribe_url": link}
    expected = SevenBitHtml.encode(plan.digest.html)
    assert expected is not None and message.get_body(("html",))["Content-Transfer-Encoding"] == "7bit"
    body = received["ana@example.org"].data.split(b"Content-Transfer-Encoding: 7bit\r\n\r\n", 1)[1]
    assert body.split(b"\r\n--", 1)[0] == b"".join(expected.pieces(RecipientValues.of(ana, expected.keys)) or [b"?"])
    text_part = message.get_body(("plain",))
    assert text_part.get_content().replace("\r\n", "\n") == personalise(plan.digest.text, ana, is_html=False)


def test_typed_subject_and_intro_never_take_a_recipients_values(review_env: ReviewEnv) -> None:
    config, store = review_env.config, review_env.store
    edit(review_env, EditOp.SUBJECT, text="Pour %%NL_NAME%%")
    edit(review_env, EditOp.INTRO, text="Lien : %%NL_UNSUBSCRIBE_URL%% et %%NL_NAME%%")
    plan = plan_digest(config, store, config.digest("hebdo"), NOW)
    assert send_digest(config, store, issue_to_send(config, store, "hebdo", plan.scheduled_for).issue,
                       now=plan.scheduled_for).sent == 2

    message = {r.rcpt_tos[0]: r for r in review_env.smtp.handler.received}["ana@example.org"].message()
    link = message["List-Unsubscribe"].split(",")[0].strip("<> ")
    html = message.get_body(("html",)).get_content()
    text = message.get_body(("plain",)).get_content()
    assert "Ana" not in message["Subject"] and "%% NL_NAME%%" in message["Subject"]
    assert "%% NL_UNSUBSCRIBE_URL%%" in text and "%% NL_UNSUBSCRIBE_URL%%" in html
    assert text.count(link) == 1  # the footer's link only, not the typed intro
