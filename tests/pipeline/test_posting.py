"""The posting stage over a real SQLite ledger and loopback social APIs."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from newsletter.config import Config, load_config
from newsletter.core.models import Announcement, DeliveryStatus, Figure, Quote
from newsletter.pipeline.actions import approve_post
from newsletter.pipeline.posting import delete_post, post_due, queue_posts, resume_channel
from newsletter.store import Store
from newsletter.store.ledger import Ledger
from tests.fakes.crash import process_died

NOW = datetime(2025, 3, 24, 8, 0, tzinfo=UTC)
S = DeliveryStatus


def write_config(tmp_path: Path, channels: list[dict]) -> Config:
    path = tmp_path / "newsletter.yaml"
    path.write_text(yaml.safe_dump({"channels": channels, "data_dir": "data", "outbox_dir": "outbox"}))
    return load_config(path)


def mastodon_channel(url: str, **extra: object) -> dict:
    return {"name": "masto", "type": "mastodon", "base_url": url, "variants": ["quote", "figure"],
            "hashtags": ["Emploi"], "timeout": 2, **extra}


def announcement(number: int = 1) -> Announcement:
    quote = Quote("Nous accompagnerons près de 900 000 jeunes. C'est une priorité.", "Marie Martin", "ministre")
    figure = Figure("près de 900 000", 900000, qualifier="près de", about="jeunes accompagnés")
    return Announcement(f"doc{number}", "src", f"Plan jeunes n°{number}", lede="Un plan.",
                        url=f"https://www.travail.gouv.fr/plan-{number}", quotes=[quote], key_quote=0,
                        figures=[figure], key_figures=[0], id=f"ann{number:013d}")


@pytest.fixture
def store(tmp_path):
    with Store.open(f"sqlite:///{tmp_path / 'db.sqlite'}", create=True) as opened:
        opened.announcements.upsert_announcement(announcement(), announce=True, now=NOW - timedelta(hours=1))
        yield opened


@pytest.fixture(autouse=True)
def credentials(monkeypatch):
    monkeypatch.setenv("MASTODON_ACCESS_TOKEN", "masto-token")
    monkeypatch.setenv("BLUESKY_APP_PASSWORD", "app-password")
    for name, value in {"X_API_KEY": "x-key", "X_API_SECRET": "s", "X_ACCESS_TOKEN": "t",
                        "X_ACCESS_TOKEN_SECRET": "ts"}.items():
        monkeypatch.setenv(name, value)


def statuses(fake) -> list[dict]:
    return [r.form() for r in fake.calls("/api/v1/statuses")]


def test_one_post_per_slot_with_card_then_nothing_left(fake_mastodon, store, tmp_path):
    config = write_config(tmp_path, [mastodon_channel(fake_mastodon.url)])
    assert queue_posts(config, store, NOW) == {"masto": 2}
    assert queue_posts(config, store, NOW) == {"masto": 0}
    first = post_due(config, store, "masto", NOW)
    assert first.sent == ["post:ann0000000000001:quote:masto"]
    assert len(statuses(fake_mastodon)) == 1
    assert "Nous accompagnerons près de 900" in statuses(fake_mastodon)[0]["status"][0]
    assert statuses(fake_mastodon)[0]["language"] == ["fr"]  # kept through the ledger row
    media = fake_mastodon.calls("/api/v2/media")[0].multipart()["file"]
    assert media.startswith(b"\x89PNG")
    row = Ledger(store).get(first.sent[0])
    assert row.status == S.SENT and row.provider_id and row.provider_url.startswith(fake_mastodon.url)
    second = post_due(config, store, "masto", NOW + timedelta(hours=4))
    assert second.sent == ["post:ann0000000000001:figure:masto"]
    assert "près de 900\u202f000 jeunes accompagnés" in statuses(fake_mastodon)[1]["status"][0]
    assert post_due(config, store, "masto", NOW + timedelta(hours=8)).sent == []
    assert len(statuses(fake_mastodon)) == 2


def test_approval_holds_posts_until_approved(fake_mastodon, store, tmp_path):
    config = write_config(tmp_path, [mastodon_channel(fake_mastodon.url, require_approval=True, variants=["quote"])])
    queue_posts(config, store, NOW)
    key = "post:ann0000000000001:quote:masto"
    assert Ledger(store).get(key).status == S.AWAITING_APPROVAL
    assert post_due(config, store, "masto", NOW).sent == []
    approve_post(store, key, "alice", NOW)
    assert [(a.actor, a.action, a.target) for a in store.audit.list_actions()] == [("alice", "post.approve", key)]
    assert post_due(config, store, "masto", NOW).sent == [key]


def test_far_rate_limit_reschedules_at_the_reset(fake_mastodon, store, tmp_path):
    config = write_config(tmp_path, [mastodon_channel(fake_mastodon.url, variants=["quote"])])
    queue_posts(config, store, NOW)
    reset = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
    fake_mastodon.fail("/api/v1/statuses", 429, headers={
        "X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset.isoformat()})
    slept: list[float] = []
    report = post_due(config, store, "masto", NOW, sleep=slept.append)
    assert report.rescheduled and slept == []
    row = Ledger(store).get(report.rescheduled[0])
    assert row.status == S.PENDING and abs((row.next_attempt_at - reset).total_seconds()) < 5
    assert post_due(config, store, "masto", reset - timedelta(minutes=1)).sent == []
    assert post_due(config, store, "masto", reset + timedelta(seconds=5)).sent == [row.key]


def test_near_rate_limit_waits_with_the_injected_sleeper(fake_x, store, tmp_path):
    config = write_config(tmp_path, [{"name": "x", "type": "x", "base_url": fake_x.url, "timeout": 2}])
    queue_posts(config, store, NOW)
    fake_x.fail("/2/tweets", 429, headers={"x-rate-limit-reset": str(int(time.time()) + 20)})
    slept: list[float] = []
    report = post_due(config, store, "x", NOW, sleep=slept.append)
    assert len(report.sent) == 1
    assert len(slept) == 1 and 15 <= slept[0] <= 22
    assert len(fake_x.calls("/2/tweets")) == 2


def test_server_errors_back_off_then_wait_for_the_next_slot(fake_mastodon, store, tmp_path):
    config = write_config(tmp_path, [mastodon_channel(fake_mastodon.url, variants=["quote"])])
    queue_posts(config, store, NOW)
    fake_mastodon.fail("/api/v1/statuses", 503, times=3)
    slept: list[float] = []
    report = post_due(config, store, "masto", NOW, sleep=slept.append)
    assert report.rescheduled and len(slept) == 2 and slept[1] > slept[0]
    assert Ledger(store).get(report.rescheduled[0]).status == S.PENDING
    assert post_due(config, store, "masto", NOW + timedelta(hours=4)).sent == report.rescheduled
    keys = {r.headers["idempotency-key"] for r in fake_mastodon.calls("/api/v1/statuses")}
    assert keys == {f"{report.rescheduled[0]}:0"}


def test_bad_credentials_pause_the_channel_and_lose_nothing(fake_mastodon, store, tmp_path, monkeypatch):
    config = write_config(tmp_path, [mastodon_channel(fake_mastodon.url, variants=["quote"])])
    queue_posts(config, store, NOW)
    monkeypatch.setenv("MASTODON_ACCESS_TOKEN", "revoked")
    report = post_due(config, store, "masto", NOW)
    assert report.paused and "MASTODON_ACCESS_TOKEN" in report.paused and "masto" in report.paused
    key = "post:ann0000000000001:quote:masto"
    assert Ledger(store).get(key).status == S.PENDING and Ledger(store).get(key).attempts == 0
    requests_before = len(fake_mastodon.requests)
    assert post_due(config, store, "masto", NOW + timedelta(hours=1)).paused
    assert len(fake_mastodon.requests) == requests_before
    monkeypatch.setenv("MASTODON_ACCESS_TOKEN", "masto-token")
    assert resume_channel(store, "masto", NOW) == report.paused
    assert post_due(config, store, "masto", NOW + timedelta(hours=2)).sent == [key]


def test_duplicate_rejection_counts_as_posted(fake_x, store, tmp_path):
    config = write_config(tmp_path, [{"name": "x", "type": "x", "base_url": fake_x.url, "card": False}])
    queue_posts(config, store, NOW)
    key = "post:ann0000000000001:quote:x"
    text = Ledger(store).get(key).payload["text"]
    fake_x.objects["999"] = {"text": text}
    assert post_due(config, store, "x", NOW).sent == [key]
    assert Ledger(store).get(key).status == S.SENT


def test_a_post_in_flight_at_a_crash_is_resumed_once_without_a_second_status(fake_mastodon, store, tmp_path):
    config = write_config(tmp_path, [mastodon_channel(fake_mastodon.url, variants=["quote"])])
    queue_posts(config, store, NOW)
    key = "post:ann0000000000001:quote:masto"
    ledger = Ledger(store)
    assert ledger.claim(key, NOW)  # the process dies here, request in flight
    fake_mastodon.objects["idem:" + key + ":0"] = "77"  # ... and the instance had accepted it
    fake_mastodon.objects["77"] = {"id": "77", "url": f"{fake_mastodon.url}/@fake/77", "content": "x"}
    process_died(store)
    assert ledger.recover_dead_claims(NOW + timedelta(minutes=5)) == {"pending": 0, "uncertain": 1}
    assert post_due(config, store, "masto", NOW + timedelta(hours=1)).sent == [key]
    assert [r.headers["idempotency-key"] for r in fake_mastodon.calls("/api/v1/statuses")] == [f"{key}:0"]
    assert Ledger(store).get(key).provider_id == "77"
    assert [k for k in fake_mastodon.objects if k.isdigit()] == ["77"]


def test_a_timeout_on_bluesky_is_checked_then_never_posted_twice(fake_bluesky, store, tmp_path):
    config = write_config(tmp_path, [{"name": "bsky", "type": "bluesky", "base_url": fake_bluesky.url,
                                      "handle": "newsroom.test", "timeout": 0.3, "card": False}])
    queue_posts(config, store, NOW)
    fake_bluesky.stall("createRecord", 1.0)
    slept: list[float] = []
    report = post_due(config, store, "bsky", NOW, sleep=lambda seconds: (slept.append(seconds), time.sleep(1)))
    assert len(report.sent) == 1 and len(slept) == 1
    assert len(fake_bluesky.posts()) == 1
    row = Ledger(store).get(report.sent[0])
    assert row.provider_id in fake_bluesky.objects
    assert len(fake_bluesky.calls("createSession")) == 1  # one login for the post and its retry


def test_a_long_running_process_logs_in_to_bluesky_once_across_slots(fake_bluesky, store, tmp_path):
    config = write_config(tmp_path, [{"name": "bsky", "type": "bluesky", "base_url": fake_bluesky.url,
                                      "handle": "newsroom.test", "card": False, "variants": ["quote", "figure"]}])
    queue_posts(config, store, NOW)
    assert len(post_due(config, store, "bsky", NOW, limit=1).sent) == 1
    assert len(post_due(config, store, "bsky", NOW + timedelta(hours=3), limit=1).sent) == 1
    assert len(fake_bluesky.posts()) == 2
    assert len(fake_bluesky.calls("createSession")) == 1, "the session is reused at the next slot"


def test_refused_credentials_drop_the_kept_session(fake_bluesky, store, tmp_path, monkeypatch):
    config = write_config(tmp_path, [{"name": "bsky", "type": "bluesky", "base_url": fake_bluesky.url,
                                      "handle": "newsroom.test", "card": False, "variants": ["quote", "figure"]}])
    queue_posts(config, store, NOW)
    fake_bluesky.fail("createRecord", 401, body={"error": "ExpiredToken", "message": "Token has been revoked"})
    assert post_due(config, store, "bsky", NOW, limit=1).paused
    resume_channel(store, "bsky", NOW)
    assert len(post_due(config, store, "bsky", NOW + timedelta(hours=3), limit=1).sent) == 1
    assert len(fake_bluesky.calls("createSession")) == 2, "logged in again after the refusal"


def test_dry_run_writes_the_outbox_and_leaves_the_ledger_alone(fake_mastodon, store, tmp_path):
    config = write_config(tmp_path, [mastodon_channel(fake_mastodon.url)])
    report = post_due(config, store, "masto", NOW, dry_run=True, limit=5)
    folder = tmp_path / "outbox" / "posts" / "masto"
    texts = sorted(folder.glob("*.txt"))
    assert len(texts) == 2 and len(report.written) == 2
    assert "Nous accompagnerons" in (folder / "post_ann0000000000001_quote_masto.txt").read_text()
    assert sorted(p.name for p in folder.glob("*.png")) == ["post_ann0000000000001_figure_masto-1.png",
                                                           "post_ann0000000000001_quote_masto-1.png"]
    assert Ledger(store).list_deliveries() == [] and fake_mastodon.requests == []


def test_delete_retracts_a_published_post(fake_mastodon, store, tmp_path):
    config = write_config(tmp_path, [mastodon_channel(fake_mastodon.url, variants=["quote"])])
    queue_posts(config, store, NOW)
    key = post_due(config, store, "masto", NOW).sent[0]
    row = delete_post(config, store, key)
    assert fake_mastodon.calls(f"/api/v1/statuses/{row.provider_id}", "DELETE")
    assert store.audit.list_actions()[0].action == "post.delete"


def test_an_embargoed_announcement_is_posted_after_its_embargo_even_if_seen_long_before(fake_mastodon, store,
                                                                                          tmp_path):
    config = write_config(tmp_path, [mastodon_channel(fake_mastodon.url, variants=["quote"])])
    embargo = NOW + timedelta(hours=2)
    store.announcements.upsert_announcement(
        announcement(2), announce=True, now=NOW - timedelta(days=10), publish_at=embargo
    )
    assert queue_posts(config, store, NOW) == {"masto": 1}
    assert Ledger(store).get("post:ann0000000000002:quote:masto") is None
    assert queue_posts(config, store, embargo) == {"masto": 1}
    assert Ledger(store).get("post:ann0000000000002:quote:masto").status == S.PENDING


def test_a_re_announced_update_gets_its_own_post_once_the_first_went_out(fake_mastodon, store, tmp_path):
    config = write_config(tmp_path, [mastodon_channel(fake_mastodon.url, variants=["quote"])])
    queue_posts(config, store, NOW)
    first = "post:ann0000000000001:quote:masto"
    updated = replace(announcement(), title="Plan jeunes : 1 million", content_hash="v2")
    store.announcements.upsert_announcement(updated, announce=True, now=NOW + timedelta(minutes=5), reannounce=True)
    assert queue_posts(config, store, NOW + timedelta(minutes=10)) == {"masto": 0}  # the queued one is re-rendered
    assert post_due(config, store, "masto", NOW + timedelta(minutes=10)).sent == [first]
    again = replace(updated, content_hash="v3")
    store.announcements.upsert_announcement(again, announce=True, now=NOW + timedelta(hours=1), reannounce=True)
    assert queue_posts(config, store, NOW + timedelta(hours=1)) == {"masto": 1}
    revised = "post:ann0000000000001:quote~r2:masto"
    assert post_due(config, store, "masto", NOW + timedelta(hours=2)).sent == [revised]
    assert queue_posts(config, store, NOW + timedelta(hours=3)) == {"masto": 0}
    assert len(statuses(fake_mastodon)) == 2
    assert Ledger(store).get(revised).payload["variant"] == "quote~r2"
