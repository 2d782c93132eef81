"""Approval notifications: approvers and admins with an address get one mail per digest issue or
post awaiting approval — never two, none lost while the mail server is down — in the configured
language, naming the post by its channel and announcement title."""

from __future__ import annotations

import email
from email import policy
from email.message import EmailMessage

from newsletter.config import load_config
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


def test_each_approver_gets_one_mail_per_awaiting_item_even_after_the_server_was_down(review_env: ReviewEnv) -> None:
    _with_addresses(review_env)
    issue_id = frozen_issue(review_env)
    items = awaiting_items(review_env.store)
    assert issue_id in items and X_POST in items
    down = load_config(write_config(review_env.folder, SmtpServer("127.0.0.1", free_port(), review_env.smtp.handler)))
    failed = send_notifications(down, review_env.store, now=NOW, backoff=NO_WAIT)
    assert failed.sent == 0 and failed.errors and failed.waiting == 2 * len(items)
    sent = send_notifications(review_env.config, review_env.store, now=NOW, backoff=NO_WAIT)
    assert sent.sent == 2 * len(items) and not sent.errors
    again = send_notifications(review_env.config, review_env.store, now=NOW, backoff=NO_WAIT)
    assert again.sent == 0 and review_env.smtp.handler.copies() == {
        "alice@ministere.example.org": len(items), "paul@ministere.example.org": len(items)}  # not edith (editor)
    subjects = {str(m["Subject"]) for m in _received(review_env) if m["To"] == "paul@ministere.example.org"}
    assert "À valider : publication sur x-main — Apprentissage : près de 900 000 contrats signés en 2024" in subjects
    assert any(s.startswith("À valider : la lettre hebdo — ") for s in subjects)
    body = next(m for m in _received(review_env) if "x-main" in str(m["Subject"])).get_content()
    assert "http://127.0.0.1:8080/upcoming" in body and "post:" not in body


def test_an_item_approved_before_its_mail_went_out_is_not_announced(review_env: ReviewEnv) -> None:
    set_email(review_env.store, "paul", "paul@ministere.example.org")
    down = load_config(write_config(review_env.folder, SmtpServer("127.0.0.1", free_port(), review_env.smtp.handler)))
    send_notifications(down, review_env.store, now=NOW, backoff=NO_WAIT)  # queued, not sent
    actions.approve(review_env.config, review_env.store, X_POST, "alice", NOW)
    report = send_notifications(review_env.config, review_env.store, now=NOW, backoff=NO_WAIT)
    assert report.skipped == 1 and X_POST not in " ".join(str(m["Subject"]) for m in _received(review_env))
    assert Ledger(review_env.store).get(f"notify:{X_POST}:paul").status == DeliveryStatus.SKIPPED


def test_the_daemon_job_sends_them(review_env: ReviewEnv) -> None:
    set_email(review_env.store, "alice", "alice@ministere.example.org")
    assert "mail:notifications" in job_ids(review_env.config)
    result = run_job(review_env.config, review_env.store, "mail:notifications", NOW)
    assert result.outcome == "ok" and result.counts["sent"] == len(awaiting_items(review_env.store)) > 0
    assert review_env.store.runs.last_runs("mail:notifications", limit=1)[0].counts["sent"] == result.counts["sent"]
