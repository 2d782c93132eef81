"""Approving sends: an issue approved after its time goes out at once, one approved before waits."""

from __future__ import annotations

from datetime import timedelta

import pytest

from newsletter.pipeline import actions
from newsletter.pipeline.plan import freeze_issue
from newsletter.runtime.jobs import run_job
from newsletter.store import DigestIssueStatus
from tests.fakes.review_env import CSRF_FIELD, NOW, ReviewEnv

MONDAY_9 = NOW.replace(day=24, hour=8)  # 9:00 in Paris, the digest's next run after NOW


@pytest.fixture
def approval_env(review_env: ReviewEnv) -> ReviewEnv:
    """The review environment with a digest that needs approval."""
    review_env.config.digests[0].require_approval = True
    return review_env


def test_an_issue_approved_after_its_time_is_sent_at_once_from_the_review_app(approval_env: ReviewEnv) -> None:
    env = approval_env
    frozen = freeze_issue(env.store, env.config, env.config.digest("hebdo"), MONDAY_9)
    assert frozen is not None and env.store.issues.get_digest_issue(frozen.issue_id).status is (
        DigestIssueStatus.AWAITING_APPROVAL)
    later = MONDAY_9 + timedelta(hours=2)
    with env.admin_client(now=later) as client:
        found = CSRF_FIELD.search(client.get("/upcoming").text)
        assert found
        csrf = found.group(1)
        response = client.post("/actions/approve", data={"csrf_token": csrf, "target": frozen.issue_id},
                               follow_redirects=False)
    assert response.status_code == 303
    assert sorted(r.rcpt_tos[0] for r in env.smtp.handler.received) == ["ana@example.org", "bob@example.org"]
    assert env.store.issues.get_digest_issue(frozen.issue_id).status is DigestIssueStatus.SENT
    assert {"digest.approve", "digest.send_now"} <= {a.action for a in env.store.audit.list_actions()}


def test_an_issue_approved_ahead_waits_for_its_time_then_goes_out_once(approval_env: ReviewEnv) -> None:
    env = approval_env
    result = actions.approve(env.config, env.store, "hebdo", "alice", NOW)
    assert result.detail["send_now"] is False and "2025-03-24T09:00:00+01:00" in result.summary
    assert env.smtp.handler.received == []
    run_job(env.config, env.store, "digest:hebdo", MONDAY_9 - timedelta(minutes=5))
    issue = env.store.issues.get_digest_issue(result.target)
    assert issue.status is DigestIssueStatus.APPROVED and env.smtp.handler.received == []
    run_job(env.config, env.store, "digest:hebdo", MONDAY_9)
    assert len(env.smtp.handler.received) == 2
    assert env.store.issues.get_digest_issue(result.target).status is DigestIssueStatus.SENT


def test_send_now_sends_an_issue_awaiting_approval_and_records_who(approval_env: ReviewEnv) -> None:
    env = approval_env
    frozen = freeze_issue(env.store, env.config, env.config.digest("hebdo"), MONDAY_9)
    report = actions.send_now(env.config, env.store, "hebdo", "alice", MONDAY_9)
    assert report.sent == 2 and report.finished
    approvals = [a for a in env.store.audit.list_actions() if a.action == "digest.approve"]
    assert [(a.actor, a.target) for a in approvals] == [("alice", frozen.issue_id)]
