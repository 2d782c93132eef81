"""Signed unsubscribe tokens and the idempotent unsubscribe action, on a real SQLite store."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from newsletter.config import Config
from newsletter.errors import ConfigError
from newsletter.store import Store, SubscriberStatus
from newsletter.unsubscribe import (
    InvalidTokenError,
    UnsubscribeOutcome,
    make_token,
    secret_from_env,
    unsubscribe,
    unsubscribe_url,
    verify_token,
)

SECRET = "a-long-enough-secret-for-tests"
NOW = datetime(2025, 3, 24, 8, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store.open(f"sqlite:///{tmp_path / 'store.db'}", create=True)


def test_token_round_trips_and_fits_in_a_url() -> None:
    token = make_token(SECRET, 42, "Culture & Patrimoine")
    claims = verify_token(SECRET, token)
    assert (claims.subscriber_id, claims.list_name) == (42, "Culture & Patrimoine")
    url = unsubscribe_url(Config(public_base_url="https://news.example.org/"), token)
    assert url == f"https://news.example.org/unsubscribe/{token}"
    assert all(c.isalnum() or c in "-_." for c in token)


@pytest.mark.parametrize(
    "alter",
    [
        lambda t: t.replace("v1.42.", "v1.43.", 1),
        lambda t: ".".join([*t.split(".")[:2], "b3RoZXI", t.split(".")[3]]),
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),
        lambda t: t.rsplit(".", 1)[0],
        lambda t: "v2" + t[2:],
        lambda t: "",
    ],
)
def test_altered_or_forged_tokens_are_refused(alter) -> None:  # type: ignore[no-untyped-def]
    token = make_token(SECRET, 42, "main")
    with pytest.raises(InvalidTokenError):
        verify_token(SECRET, alter(token))


def test_a_token_signed_with_another_secret_is_refused() -> None:
    with pytest.raises(InvalidTokenError):
        verify_token(SECRET, make_token("another-secret-of-some-length", 42, "main"))


def test_unsubscribe_is_idempotent(store: Store) -> None:
    subscriber_id = store.add_subscriber("jeanne@example.org", lists=["main"])
    token = make_token(SECRET, subscriber_id, "main")
    first = unsubscribe(store, token, SECRET, NOW)
    second = unsubscribe(store, token, SECRET, NOW)
    assert first.outcome is UnsubscribeOutcome.UNSUBSCRIBED and first.email == "jeanne@example.org"
    assert second.outcome is UnsubscribeOutcome.ALREADY
    assert store.get_subscriber("jeanne@example.org").status is SubscriberStatus.UNSUBSCRIBED


def test_forged_token_changes_nobody(store: Store) -> None:
    victim = store.add_subscriber("victim@example.org", lists=["main"])
    forged = make_token("attacker-guessed-secret-value", victim, "main")
    with pytest.raises(InvalidTokenError):
        unsubscribe(store, forged, SECRET, NOW)
    assert store.get_subscriber("victim@example.org").status is SubscriberStatus.ACTIVE


def test_bounced_subscriber_keeps_bounced_status(store: Store) -> None:
    subscriber_id = store.add_subscriber("gone@example.org", lists=["main"])
    store.set_subscriber_status("gone@example.org", SubscriberStatus.BOUNCED)
    result = unsubscribe(store, make_token(SECRET, subscriber_id, "main"), SECRET, NOW)
    assert result.outcome is UnsubscribeOutcome.ALREADY
    assert store.get_subscriber("gone@example.org").status is SubscriberStatus.BOUNCED


def test_unknown_subscriber_is_a_harmless_no_op(store: Store) -> None:
    result = unsubscribe(store, make_token(SECRET, 999, "main"), SECRET, NOW)
    assert result.outcome is UnsubscribeOutcome.UNKNOWN


def test_missing_or_short_secret_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    config = Config()
    monkeypatch.delenv("NEWSLETTER_SECRET", raising=False)
    with pytest.raises(ConfigError, match="NEWSLETTER_SECRET is not set"):
        secret_from_env(config)
    monkeypatch.setenv("NEWSLETTER_SECRET", "short")
    with pytest.raises(ConfigError, match="shorter than"):
        secret_from_env(config)
    monkeypatch.setenv("NEWSLETTER_SECRET", SECRET)
    assert secret_from_env(config) == SECRET
