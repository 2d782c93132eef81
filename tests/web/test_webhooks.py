"""Provider events by webhook on the review app: Amazon SES through SNS (signature verified
against a certificate served on loopback) and Brevo's event webhook (shared token), and the
bounces and complaints they report shown per issue on the History page."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from starlette.testclient import TestClient

from newsletter.config import load_config
from newsletter.core.errors import ConfigError
from newsletter.pipeline.checks import check_config
from newsletter.store import DigestIssueStatus, SubscriberStatus
from newsletter.store.ledger import Ledger
from tests.fakes.review_env import NOW, SESSION_COOKIE, ReviewEnv, app_client, write_config
from tests.fakes.sns import TOPIC, FakeSns, ses_bounce, ses_complaint
from tests.pipeline.test_actions import frozen_issue

BREVO_TOKEN_ENV = "TEST_BREVO_WEBHOOK_TOKEN"
BREVO_TOKEN = "brevo-webhook-token-0123456789abcdef"


@dataclass
class Hooks:
    """A client of the app configured for both webhooks (not signed in), and the issue sent."""

    client: TestClient
    issue_id: str


@pytest.fixture
def hooks(review_env: ReviewEnv, fake_sns: FakeSns, monkeypatch: pytest.MonkeyPatch) -> Iterator[Hooks]:
    """The webhooks over the review store, where ana, bob and carla (on two lists) were sent an issue."""
    monkeypatch.setenv(BREVO_TOKEN_ENV, BREVO_TOKEN)
    bounces = {"sns": fake_sns.config(), "brevo": {"token_env": BREVO_TOKEN_ENV}}
    config = load_config(write_config(review_env.folder, review_env.smtp, bounces=bounces))
    review_env.store.subscribers.add_subscriber("carla@example.org", lists=["main", "culture"], consent_source="test")
    issue_id = frozen_issue(review_env, DigestIssueStatus.SENT)
    ledger = Ledger(review_env.store)
    ledger.ensure_pending([(f"email:{issue_id}:{n}", "email", address, {})
                           for n, address in enumerate(["ana@example.org", "bob@example.org", "carla@example.org"])],
                          issue_id=issue_id)
    for n in range(3):
        ledger.claim(f"email:{issue_id}:{n}", NOW)
        ledger.mark_sent(f"email:{issue_id}:{n}", now=NOW)
    with app_client(config) as client:
        yield Hooks(client, issue_id)


def status(env: ReviewEnv, address: str) -> str:
    subscriber = env.store.subscribers.get_subscriber(address)
    assert subscriber is not None
    return str(subscriber.status)


def history_row(env: ReviewEnv, issue_id: str) -> str:
    html = env.client.get("/history").text
    return html.split(f'data-issue="{issue_id}"')[1].split("</tr>")[0]


def test_ses_bounce_and_complaint_by_sns_are_applied_once_and_shown_in_history(
    review_env: ReviewEnv, hooks: Hooks, fake_sns: FakeSns
) -> None:
    bounce = fake_sns.notification(ses_bounce("ana@example.org"))  # SignatureVersion 2 (SHA256)
    first = hooks.client.post("/webhooks/ses", content=bounce, headers={"content-type": "text/plain"})  # as SNS does
    replay = hooks.client.post("/webhooks/ses", content=bounce)
    complaint = hooks.client.post("/webhooks/ses", content=fake_sns.notification(ses_complaint("carla@example.org"),
                                                                          version="1"))

    assert first.status_code == 200 and first.json()["applied"] == 1
    assert replay.status_code == 200 and replay.json() == {
        "applied": 0, "duplicates": 1, "confirmed": False, "ignored": [], "unreadable": [], "failed": []}
    assert complaint.status_code == 200 and complaint.json()["applied"] == 1
    assert status(review_env, "ana@example.org") == SubscriberStatus.BOUNCED
    assert review_env.store.subscribers.is_suppressed("ana@example.org")
    assert status(review_env, "carla@example.org") == SubscriberStatus.COMPLAINED
    carla = review_env.store.subscribers.get_subscriber("carla@example.org")
    assert carla is not None and review_env.store.subscribers.lists_left(carla.id) == {"main", "culture"}
    assert status(review_env, "bob@example.org") == SubscriberStatus.ACTIVE
    row = history_row(review_env, hooks.issue_id)
    assert '<td class="n-bounces">1</td><td class="n-complaints">1</td>' in row


@pytest.mark.parametrize("tampering", ["stranger's key", "edited message", "certificate host", "topic", "version"])
def test_sns_messages_that_do_not_verify_are_refused_and_nothing_is_applied(
    review_env: ReviewEnv, hooks: Hooks, fake_sns: FakeSns, tampering: str
) -> None:
    event = ses_bounce("ana@example.org")
    body = {
        "stranger's key": lambda: fake_sns.notification(event, key=fake_sns.keys.stranger),
        "edited message": lambda: fake_sns.notification(event).replace(b"ana@example.org", b"bob@example.org"),
        "certificate host": lambda: fake_sns.notification(event, cert_url=fake_sns.cert_url.replace(
            "127.0.0.1", "localhost")),
        "topic": lambda: fake_sns.notification(event, topic=TOPIC.replace("lettre-bounces", "someone-elses")),
        "version": lambda: _with(fake_sns.notification(event), SignatureVersion="3"),
    }[tampering]()

    response = hooks.client.post("/webhooks/ses", content=body)

    assert response.status_code == 403, response.text
    assert status(review_env, "ana@example.org") == SubscriberStatus.ACTIVE
    assert status(review_env, "bob@example.org") == SubscriberStatus.ACTIVE
    assert not review_env.store.subscribers.is_suppressed("ana@example.org")


def _with(body: bytes, **fields: str) -> bytes:
    return json.dumps({**json.loads(body), **fields}).encode()


def test_sns_subscription_is_confirmed_only_through_an_allowed_host(hooks: Hooks, fake_sns: FakeSns) -> None:
    elsewhere = fake_sns.subscription_confirmation(fake_sns.cert_url.replace("127.0.0.1", "localhost"))
    refused = hooks.client.post("/webhooks/ses", content=elsewhere)
    assert refused.status_code == 403 and fake_sns.confirmations() == 0

    confirmed = hooks.client.post("/webhooks/ses", content=fake_sns.subscription_confirmation())
    assert confirmed.status_code == 200 and confirmed.json()["confirmed"] is True
    assert fake_sns.confirmations() == 1
    assert hooks.client.post("/webhooks/ses", content=b"{not json").status_code == 400


def brevo(hooks: Hooks, payload: Any, **headers: str) -> Any:
    return hooks.client.post("/webhooks/brevo", content=json.dumps(payload), headers=headers)


def test_brevo_events_need_the_token_and_each_is_applied_once(review_env: ReviewEnv, hooks: Hooks) -> None:
    bounce = {"event": "hard_bounce", "email": "ana@example.org", "message-id": "<m1@smtp-relay.mailin.fr>",
              "ts_event": 1742549400, "reason": "550 5.1.1 user unknown"}
    wrong = base64.b64encode(b"brevo:not-the-token").decode()
    assert brevo(hooks, bounce).status_code == 401
    assert brevo(hooks, bounce, authorization="Bearer not-the-token").status_code == 401
    assert brevo(hooks, bounce, authorization=f"Basic {wrong}").status_code == 401
    assert status(review_env, "ana@example.org") == SubscriberStatus.ACTIVE

    applied = brevo(hooks, bounce, authorization=f"Bearer {BREVO_TOKEN}")
    again = brevo(hooks, bounce, authorization=f"Bearer {BREVO_TOKEN}")
    batch = [{"event": "delivered", "email": "bob@example.org"}, {"event": "spam"},
             {"event": "spam", "email": "carla@example.org", "message-id": "<m2@x>", "ts_event": 1742549500},
             {"event": "unsubscribed", "email": "bob@example.org", "message-id": "<m3@x>", "ts_event": 1742549600}]
    basic = base64.b64encode(f"brevo:{BREVO_TOKEN}".encode()).decode()
    batched = brevo(hooks, batch, authorization=f"Basic {basic}")

    assert applied.json()["applied"] == 1 and again.json()["duplicates"] == 1
    assert batched.status_code == 200
    assert batched.json()["applied"] == 2 and batched.json()["ignored"] == ["Brevo delivered"]
    assert batched.json()["unreadable"] == ["Brevo spam event 1: no email address"]
    assert status(review_env, "ana@example.org") == SubscriberStatus.BOUNCED
    assert status(review_env, "carla@example.org") == SubscriberStatus.COMPLAINED
    bob = review_env.store.subscribers.get_subscriber("bob@example.org")
    assert bob is not None and review_env.store.subscribers.lists_left(bob.id) == {"main"}


def test_webhooks_need_no_session_but_stay_behind_the_trusted_hosts(review_env: ReviewEnv, hooks: Hooks,
                                                                    fake_sns: FakeSns) -> None:
    hooks.client.cookies.set(SESSION_COOKIE, review_env.admin_cookie)  # a session changes nothing either way
    assert hooks.client.post("/webhooks/brevo", content=b"[]").status_code == 401
    forged = hooks.client.post("/webhooks/ses", content=fake_sns.notification(ses_bounce("ana@example.org")),
                        headers={"host": "evil.example"})
    assert forged.status_code == 400 and status(review_env, "ana@example.org") == SubscriberStatus.ACTIVE
    unconfigured = review_env.client.post("/webhooks/ses", content=fake_sns.notification(ses_bounce("x@y.org")))
    assert unconfigured.status_code == 404


def test_check_reports_a_weak_or_exposed_brevo_token(review_env: ReviewEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(BREVO_TOKEN_ENV, "short")
    bounces = {"brevo": {"token_env": BREVO_TOKEN_ENV}}
    exposed = load_config(write_config(review_env.folder, None, public_base_url="http://lettre.example.org",
                                       bounces=bounces))
    assert check_config(exposed).problems[-2:] == [
        f"bounces.brevo.token_env: environment variable {BREVO_TOKEN_ENV} is shorter than 24 characters",
        "bounces.brevo: public_base_url is not https, so Brevo would send the webhook token in clear"]
    monkeypatch.setenv(BREVO_TOKEN_ENV, BREVO_TOKEN)
    assert not [p for p in check_config(load_config(write_config(review_env.folder, None, bounces=bounces))).problems
                if "bounces" in p]
    monkeypatch.delenv(BREVO_TOKEN_ENV)
    assert BREVO_TOKEN_ENV in check_config(load_config(write_config(review_env.folder, None, bounces=bounces))
                                           ).missing_secrets


def test_sns_settings_are_validated(review_env: ReviewEnv) -> None:
    for sns, problem in [({"topic_arns": []}, "bounces.sns.topic_arns: List should have at least 1 item"),
                         ({"topic_arns": ["lettre-bounces"]}, "is not an SNS topic ARN"),
                         ({"topic_arns": [TOPIC], "certificate_hosts": ["*.com"]}, "is not a host pattern")]:
        with pytest.raises(ConfigError, match=re.escape(problem)):
            load_config(write_config(review_env.folder, None, bounces={"sns": sns}))
