"""Approval notifications: approvers and admins with an address get one mail per run listing
every digest issue and post that newly awaits approval — each item told once, none lost while the
mail server is down — in the configured language, naming a post by its channel and announcement
title."""

from __future__ import annotations

import email
from email import policy
from email.message import EmailMessage

from newsletter.config import Config, load_config
from newsletter.core.models import DeliveryStatus
from newsletter.pipeline import actions
from newsletter.pipeline.accounts import set_email
from newsletter.pipeline.notifications import awaiting_items, send_notifications
from newsletter.pipeline.sending import Backoff
from newsletter.runtime.jobs import job_ids, run_job
from newsletter.store.ledger import Ledger
from tests.fakes.review_env import NOW, ReviewEnv, write_config
from tests.fakes.smtp import SmtpServer, free_port
from tests.pipeline.test_actions import X_POST, frozen_issue

NO_WAIT = Backoff(base=0)


def _with_addresses(env: ReviewEnv) -> None:
    for name in ["alice", "paul", "edith"]:
        set_email(env.store, name, f"{name}@ministere.example.org")


def _received(env: ReviewEnv) -> list[EmailMessage]:
    messages = [email.message_from_bytes(r.data, policy=policy.default) for r in env.smtp.handler.received]
    return [m for m in messages if isinstance(m, EmailMessage)]


def _down(env: ReviewEnv) -> Config:
    return load_config(write_config(env.folder, SmtpServer("127.0.0.1", free_port(), env.smtp.handler)))


def test_each_approver_gets_one_mail_listing_every_awaiting_item_even_after_the_server_was_down(
    review_env: ReviewEnv,
) -> None:
    _with_addresses(review_env)
    issue_id = frozen_issue(review_env)
    items = awaiting_items(review_env.store)
    assert issue_id in items and X_POST in items and len(items) >= 3
    failed = send_notifications(_down(review_env), review_env.store, now=NOW, backoff=NO_WAIT)
    assert failed.sent == 0 and failed.errors and failed.waiting == 2 * len(items)
    sent = send_notifications(review_env.config, review_env.store, now=NOW, backoff=NO_WAIT)
    assert sent.sent == 2 * len(items) and not sent.errors  # every item recorded as told, once per person
    again = send_notifications(review_env.config, review_env.store, now=NOW, backoff=NO_WAIT)
    assert again.sent == 0 and review_env.smtp.handler.copies() == {
        "alice@ministere.example.org": 1, "paul@ministere.example.org": 1}  # one mail each; not edith (editor)
    mail = next(m for m in _received(review_env) if m["To"] == "paul@ministere.example.org")
    assert str(mail["Subject"]) == f"À valider : {len(items)} éléments attendent votre validation"
    body = mail.get_content()
    assert "  – une publication sur x-main : Apprentissage : près de 900 000 contrats signés en 2024" in body
    assert "  – un numéro de la lettre hebdo : " in body and body.count("  – ") == len(items)
    assert "http://127.0.0.1:8080/upcoming" in body and "post:" not in body


def test_a_later_run_tells_only_what_newly_awaits_approval(review_env: ReviewEnv) -> None:
    set_email(review_env.store, "paul", "paul@ministere.example.org")
    first = send_notifications(review_env.config, review_env.store, now=NOW, backoff=NO_WAIT)
    assert first.sent == len(awaiting_items(review_env.store)) and review_env.smtp.handler.copies() == {
        "paul@ministere.example.org": 1}
    frozen_issue(review_env)
    later = send_notifications(review_env.config, review_env.store, now=NOW, backoff=NO_WAIT)
    assert later.sent == 1
    newest = _received(review_env)[-1]
    assert str(newest["Subject"]).startswith("À valider : la lettre hebdo — ")
    assert "Un numéro de la lettre hebdo attend votre validation" in newest.get_content()
    assert "x-main" not in newest.get_content()


def test_a_mail_deferred_by_the_server_is_retried_whole_once(review_env: ReviewEnv) -> None:
    _with_addresses(review_env)
    items = awaiting_items(review_env.store)
    review_env.smtp.handler.defer_rcpt["paul@ministere.example.org"] = 1
    report = send_notifications(review_env.config, review_env.store, now=NOW, backoff=NO_WAIT)
    assert report.retried == len(items) and report.sent == 2 * len(items)  # paul's rows waited together, then went
    assert review_env.smtp.handler.copies() == {"alice@ministere.example.org": 1, "paul@ministere.example.org": 1}
    assert Ledger(review_env.store).get(f"notify:{X_POST}:paul").status == DeliveryStatus.SENT


def test_an_item_approved_before_its_mail_went_out_is_left_out(review_env: ReviewEnv) -> None:
    set_email(review_env.store, "paul", "paul@ministere.example.org")
    send_notifications(_down(review_env), review_env.store, now=NOW, backoff=NO_WAIT)  # queued, not sent
    actions.approve(review_env.config, review_env.store, X_POST, "alice", NOW)
    report = send_notifications(review_env.config, review_env.store, now=NOW, backoff=NO_WAIT)
    assert report.skipped == 1 and report.sent == len(awaiting_items(review_env.store)) > 0
    (mail,) = _received(review_env)
    assert "Apprentissage" not in str(mail["Subject"]) + mail.get_content()
    assert Ledger(review_env.store).get(f"notify:{X_POST}:paul").status == DeliveryStatus.SKIPPED




def test_the_daemon_job_sends_them(review_env: ReviewEnv) -> None:
    set_email(review_env.store, "alice", "alice@ministere.example.org")
    assert "mail:notifications" in job_ids(review_env.config)
    result = run_job(review_env.config, review_env.store, "mail:notifications", NOW)
    assert result.outcome == "ok" and result.counts["sent"] == len(awaiting_items(review_env.store)) > 0
    assert review_env.store.runs.last_runs("mail:notifications", limit=1)[0].counts["sent"] == result.counts["sent"]
