"""The send-digest stage through the providers' HTTP APIs (SES v2, Brevo) on loopback fakes."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from newsletter.config import Config
from newsletter.core.errors import ConfigError
from newsletter.core.models import DeliveryStatus
from newsletter.pipeline.digest_sender import Backoff
from newsletter.pipeline.sending import send_digest
from newsletter.pipeline.unsubscribe import verify_token
from newsletter.store import DigestIssue, Store, SubscriberStatus
from newsletter.store.ledger import Ledger
from tests.fakes.email_apis import FakeBrevo, FakeSes, Provider
from tests.fakes.smtp import TEST_SECRET, TEST_SECRET_ENV, create_issue, seed_subscribers

NOW = datetime(2025, 3, 24, 8, 0, tzinfo=UTC)
FAST = Backoff(base=0.05, factor=2, cap=0.2)
PROVIDERS = pytest.mark.parametrize("provider", ["ses", "brevo"], indirect=True)


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TEST_SECRET_ENV, TEST_SECRET)


def setup(
    tmp_path: Path, provider: Provider, count: int, **smtp: object
) -> tuple[Config, Store, DigestIssue, list[str]]:
    config = provider.config(tmp_path, **smtp)
    store = Store.open(config.database_url(), create=True)
    addresses = seed_subscribers(store, count)
    return config, store, create_issue(config, store, NOW), addresses


def untouched(store: Store, issue: DigestIssue, count: int) -> bool:
    """Every one of the issue's rows is pending: none claimed, sent or failed."""
    counts = Ledger(store).counts(issue.id)
    return counts[DeliveryStatus.PENDING] == count and sum(counts.values()) == count


@PROVIDERS
def test_every_subscriber_gets_one_personal_copy(tmp_path: Path, provider: Provider) -> None:
    config, store, issue, addresses = setup(tmp_path, provider, 12)
    report = send_digest(config, store, "hebdo", now=NOW, backoff=FAST)

    assert report.sent == 12 and report.failed == 0 and report.finished
    assert provider.copies() == {a: 1 for a in addresses}
    copy = provider.delivered()["person3@example.org"]
    assert copy.sender == "lettre@example.org" and "nouvelle" in copy.subject and "(s)" not in copy.subject
    link = copy.list_unsubscribe.split(",")[0].strip("<> ")
    claims = verify_token(TEST_SECRET, link.rsplit("/", 1)[1])
    assert store.subscribers.get_subscriber("person3@example.org").id == claims.subscriber_id
    assert "Bonjour Personne 3," in copy.text and link in copy.text and link in copy.html.replace("&amp;", "&")
    provider_ids = [d.provider_id for d in Ledger(store).list_deliveries(status=DeliveryStatus.SENT)]
    assert len(set(provider_ids)) == 12 and all(provider.name in (p or "") for p in provider_ids)
    again = send_digest(config, store, issue.id, now=NOW, backoff=FAST)
    assert again.sent == 0 and sum(provider.copies().values()) == 12


def test_ses_carries_the_raw_message_byte_for_byte(tmp_path: Path, fake_ses: FakeSes, provider_ses: Provider) -> None:
    config, store, _issue, _addresses = setup(tmp_path, provider_ses, 2)
    send_digest(config, store, "hebdo", now=NOW, backoff=FAST)

    message = fake_ses.sent[0].message()
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["Message-ID"] and message["List-Id"] and message["Reply-To"] == "contact@example.org"
    assert {m.from_address for m in fake_ses.sent} == {"lettre@example.org"}
    assert fake_ses.refused_signatures == 0


def test_brevo_gets_the_fields_and_headers_of_the_message(
    tmp_path: Path, fake_brevo: FakeBrevo, provider_brevo: Provider
) -> None:
    config, store, _issue, _addresses = setup(tmp_path, provider_brevo, 2)
    send_digest(config, store, "hebdo", now=NOW, backoff=FAST)

    body = next(b for b in fake_brevo.sent if b["to"][0]["email"] == "person1@example.org")
    assert body["to"] == [{"email": "person1@example.org", "name": "Personne 1"}]
    assert body["sender"] == {"email": "lettre@example.org", "name": "Ministère des Essais"}
    assert body["replyTo"] == {"email": "contact@example.org"}
    headers = body["headers"]
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click" and "List-Id" in headers
    assert "mailto:desabonnement@example.org" in headers["List-Unsubscribe"] and "\n" not in headers["List-Unsubscribe"]
    assert len({b["headers"]["idempotencyKey"] for b in fake_brevo.sent}) == 2
    assert not {"Message-ID", "Date", "Content-Type", "From", "To"} & headers.keys()


@PROVIDERS
def test_throttling_mid_send_backs_off_and_still_delivers_each_once(tmp_path: Path, provider: Provider) -> None:
    config, store, issue, addresses = setup(tmp_path, provider, 10, connections=2)
    assert isinstance(provider.fake, FakeSes | FakeBrevo)
    provider.fake.throttle(3)
    started = time.monotonic()
    report = send_digest(config, store, "hebdo", now=NOW, backoff=FAST)

    assert report.finished and report.sent == 10 and report.retried == 3 and report.failed == 0
    assert provider.copies() == {a: 1 for a in addresses}
    assert time.monotonic() - started >= 0.9  # every session waited out the provider's pause
    assert any("429" in e for e in report.errors)
    assert Ledger(store).counts(issue.id)[DeliveryStatus.SENT] == 10


def test_ses_454_throttling_and_5xx_are_retried(tmp_path: Path, fake_ses: FakeSes, provider_ses: Provider) -> None:
    config, store, _issue, addresses = setup(tmp_path, provider_ses, 5, connections=1)
    fake_ses.throttle(1, smtp_style=True)
    fake_ses.fail("/v2/email/outbound-emails", 500, headers={"x-amzn-ErrorType": "InternalFailure"}, times=1)
    report = send_digest(config, store, "hebdo", now=NOW, backoff=FAST)

    assert report.finished and report.sent == 5 and report.retried == 2
    assert fake_ses.copies() == {a: 1 for a in addresses}
    assert any("454 Throttling" in e for e in report.errors)


@PROVIDERS
def test_a_permanent_rejection_fails_that_recipient_alone(tmp_path: Path, provider: Provider) -> None:
    config, store, issue, addresses = setup(tmp_path, provider, 6)
    provider.reject(addresses[2])
    report = send_digest(config, store, "hebdo", now=NOW, backoff=FAST)

    assert report.finished and report.sent == 5 and report.failed == 1 and report.retried == 0
    assert provider.copies() == {a: 1 for a in addresses if a != addresses[2]}
    [failed] = Ledger(store).list_deliveries(status=DeliveryStatus.FAILED)
    assert failed.target == addresses[2] and "400" in (failed.error or "")
    assert store.subscribers.get_subscriber(addresses[2]).status is SubscriberStatus.BOUNCED
    assert store.subscribers.get_subscriber(addresses[3]).status is SubscriberStatus.ACTIVE
    assert Ledger(store).counts(issue.id)[DeliveryStatus.SENT] == 5


@PROVIDERS
def test_a_wrong_key_claims_nothing_and_names_its_env_var(
    tmp_path: Path, provider: Provider, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    config, store, issue, _addresses = setup(tmp_path, provider, 4)
    wrong = "wrong-key-" + "x" * 30
    monkeypatch.setenv(provider.secret_env, wrong)
    caplog.set_level(logging.DEBUG, logger="newsletter")
    with pytest.raises(ConfigError, match=provider.secret_env) as refused:
        send_digest(config, store, "hebdo", now=NOW, backoff=FAST)

    assert untouched(store, issue, 4) and not provider.copies()
    assert "refused" in str(refused.value) and wrong not in str(refused.value) + caplog.text


@PROVIDERS
def test_a_missing_key_is_a_config_error_before_any_claim(
    tmp_path: Path, provider: Provider, monkeypatch: pytest.MonkeyPatch
) -> None:
    config, store, issue, _addresses = setup(tmp_path, provider, 3)
    monkeypatch.delenv(provider.secret_env)
    with pytest.raises(ConfigError, match=rf"environment variable {provider.secret_env} is not set"):
        send_digest(config, store, "hebdo", now=NOW, backoff=FAST)
    assert untouched(store, issue, 3) and not provider.copies()


@PROVIDERS
def test_the_rate_limit_spaces_api_calls(tmp_path: Path, provider: Provider) -> None:
    config, store, _issue, addresses = setup(tmp_path, provider, 6, rate_per_second=20)
    started = time.monotonic()
    send_digest(config, store, "hebdo", now=NOW, backoff=FAST)
    assert time.monotonic() - started >= 5 / 20 and provider.copies() == {a: 1 for a in addresses}


def test_ses_adopts_the_accounts_maximum_send_rate(tmp_path: Path, fake_ses: FakeSes, provider_ses: Provider) -> None:
    fake_ses.max_send_rate = 10
    config, store, _issue, addresses = setup(tmp_path, provider_ses, 5)
    started = time.monotonic()
    send_digest(config, store, "hebdo", now=NOW, backoff=FAST)
    assert time.monotonic() - started >= 4 / 10 and fake_ses.copies() == {a: 1 for a in addresses}


def test_a_brevo_answer_after_the_timeout_is_not_sent_twice(
    tmp_path: Path, fake_brevo: FakeBrevo, provider_brevo: Provider
) -> None:
    config, store, _issue, addresses = setup(tmp_path, provider_brevo, 4, timeout=0.3, connections=1)
    fake_brevo.late, fake_brevo.late_seconds = 1, 1.0
    report = send_digest(config, store, "hebdo", now=NOW, backoff=FAST)

    assert report.finished and report.sent == 4 and report.retried == 1
    assert any("timed out" in e for e in report.errors)
    assert fake_brevo.copies() == {a: 1 for a in addresses}
