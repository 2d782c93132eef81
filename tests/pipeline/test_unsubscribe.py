"""Signed unsubscribe tokens and the idempotent, per-list unsubscribe action, on a real SQLite store."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from newsletter.config import Config
from newsletter.core.errors import ConfigError
from newsletter.pipeline import subscribers as subs
from newsletter.pipeline.unsubscribe import (
    InvalidTokenError,
    UnsubscribeOutcome,
    make_token,
    secret_from_env,
    unsubscribe,
    unsubscribe_url,
    verify_token,
)
from newsletter.store import Store, SubscriberStatus

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
    subscriber_id = store.subscribers.add_subscriber("jeanne@example.org", lists=["main"])
    token = make_token(SECRET, subscriber_id, "main")
    first = unsubscribe(store, token, SECRET, NOW)
    second = unsubscribe(store, token, SECRET, NOW)
    assert first.outcome is UnsubscribeOutcome.UNSUBSCRIBED and first.email == "jeanne@example.org"
    assert second.outcome is UnsubscribeOutcome.ALREADY
    assert store.subscribers.get_subscriber("jeanne@example.org").status is SubscriberStatus.UNSUBSCRIBED


def test_forged_token_changes_nobody(store: Store) -> None:
    victim = store.subscribers.add_subscriber("victim@example.org", lists=["main"])
    forged = make_token("attacker-guessed-secret-value", victim, "main")
    with pytest.raises(InvalidTokenError):
        unsubscribe(store, forged, SECRET, NOW)
    assert store.subscribers.get_subscriber("victim@example.org").status is SubscriberStatus.ACTIVE


def test_unsubscribing_leaves_only_the_tokens_list(store: Store) -> None:
    subscriber_id = store.subscribers.add_subscriber("ana@example.org", lists=["main", "culture"])
    first = unsubscribe(store, make_token(SECRET, subscriber_id, "main"), SECRET, NOW)
    ana = store.subscribers.get_subscriber("ana@example.org")
    assert first.outcome is UnsubscribeOutcome.UNSUBSCRIBED
    assert ana.lists == ["culture"] and ana.status is SubscriberStatus.ACTIVE
    again = unsubscribe(store, make_token(SECRET, subscriber_id, "main"), SECRET, NOW)
    assert again.outcome is UnsubscribeOutcome.ALREADY
    unsubscribe(store, make_token(SECRET, subscriber_id, "culture"), SECRET, NOW)
    ana = store.subscribers.get_subscriber("ana@example.org")
    assert ana.lists == [] and ana.status is SubscriberStatus.UNSUBSCRIBED


def test_a_digest_sent_to_several_lists_is_left_at_once(store: Store) -> None:
    subscriber_id = store.subscribers.add_subscriber("ana@example.org", lists=["main", "culture", "sport"])
    result = unsubscribe(store, make_token(SECRET, subscriber_id, "main,culture"), SECRET, NOW)
    assert result.outcome is UnsubscribeOutcome.UNSUBSCRIBED
    assert store.subscribers.get_subscriber("ana@example.org").lists == ["sport"]


def test_a_list_left_is_never_joined_again_by_import_or_add(tmp_path: Path, migrated_url: str) -> None:
    store = Store.open(migrated_url)
    people = tmp_path / "people.csv"
    people.write_text("email,name,lists\nana@example.org,Ana,main; culture\n", encoding="utf-8")
    subs.import_csv(store, people, now=NOW)
    ana_id = store.subscribers.get_subscriber("ana@example.org").id
    unsubscribe(store, make_token(SECRET, ana_id, "main"), SECRET, NOW)

    again = subs.import_csv(store, people, now=NOW)
    subs.add(store, "ana@example.org", now=NOW, lists=["main", "sport"])

    ana = store.subscribers.get_subscriber("ana@example.org")
    assert again.memberships_added == 0
    assert ana.lists == ["culture", "sport"] and ana.status is SubscriberStatus.ACTIVE
    assert subs.person_record(store, "ana@example.org")["lists_left"] == ["main"]
    store.close()


def test_bounced_subscriber_leaves_the_list_but_keeps_bounced_status(store: Store) -> None:
    subscriber_id = store.subscribers.add_subscriber("gone@example.org", lists=["main"])
    store.subscribers.set_subscriber_status("gone@example.org", SubscriberStatus.BOUNCED)
    result = unsubscribe(store, make_token(SECRET, subscriber_id, "main"), SECRET, NOW)
    assert result.outcome is UnsubscribeOutcome.UNSUBSCRIBED
    gone = store.subscribers.get_subscriber("gone@example.org")
    assert gone.status is SubscriberStatus.BOUNCED and gone.lists == []


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
