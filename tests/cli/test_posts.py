"""`newsletter post`, `channels resume` and `posts list/settle/delete` end to end over loopback APIs."""

from __future__ import annotations

import getpass
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml
from typer.testing import CliRunner

from newsletter.cli import app
from newsletter.config import load_config
from newsletter.core.models import Announcement, DeliveryStatus, Quote
from newsletter.pipeline.actions import skip
from newsletter.pipeline.posting import queue_posts
from newsletter.store import Store
from newsletter.store.ledger import Ledger
from tests.fakes.crash import process_died

NOW = datetime(2025, 3, 24, 8, 0, tzinfo=UTC)
KEY = "post:ann0000000000001:quote:masto"


def setup(tmp_path: Path, url: str) -> Path:
    config = tmp_path / "newsletter.yaml"
    config.write_text(yaml.safe_dump({
        "data_dir": "data", "outbox_dir": "outbox",
        "channels": [{"name": "masto", "type": "mastodon", "base_url": url, "variants": ["quote"], "timeout": 2}],
    }))
    (tmp_path / "data").mkdir()
    with Store.open(f"sqlite:///{tmp_path / 'data' / 'newsletter.db'}", create=True) as store:
        store.announcements.upsert_announcement(
            Announcement("doc1", "src", "Plan jeunes", url="https://www.travail.gouv.fr/plan",
                         quotes=[Quote("Nous agissons.", "Marie Martin")], key_quote=0, id="ann0000000000001"),
            announce=True, now=NOW - timedelta(hours=1))
    return config


def run(config: Path, *args: str, env: dict[str, str] | None = None):
    environment = env or {"MASTODON_ACCESS_TOKEN": "masto-token"}
    return CliRunner().invoke(app, [*args, "--config", str(config)], env=environment)


def test_dry_run_then_post_then_list_and_delete(fake_mastodon, tmp_path):
    config = setup(tmp_path, fake_mastodon.url)
    dry = run(config, "post", "--dry-run", "--now", NOW.isoformat())
    assert dry.exit_code == 0, dry.output
    assert (tmp_path / "outbox" / "posts" / "masto" / "post_ann0000000000001_quote_masto.txt").exists()
    assert fake_mastodon.requests == []
    posted = run(config, "post", "--now", NOW.isoformat())
    assert posted.exit_code == 0, posted.output
    assert f"posted {KEY}" in posted.output and fake_mastodon.url in posted.output
    listed = run(config, "posts", "list")
    assert KEY in listed.output and "sent" in listed.output
    deleted = run(config, "posts", "delete", KEY)
    assert deleted.exit_code == 0, deleted.output
    assert fake_mastodon.calls("/api/v1/statuses/", "DELETE")


def test_bad_token_pauses_until_resumed(fake_mastodon, tmp_path):
    config = setup(tmp_path, fake_mastodon.url)
    failed = run(config, "post", "--now", NOW.isoformat(), env={"MASTODON_ACCESS_TOKEN": "revoked"})
    assert failed.exit_code == 1
    assert "MASTODON_ACCESS_TOKEN" in failed.output and "revoked" not in failed.output
    assert "paused" in failed.output
    resumed = run(config, "channels", "resume", "masto")
    assert resumed.exit_code == 0 and "resumed" in resumed.output
    assert f"posted {KEY}" in run(config, "post", "--now", NOW.isoformat()).output


def test_settle_an_uncertain_post(fake_mastodon, tmp_path):
    config = setup(tmp_path, fake_mastodon.url)
    run(config, "post", "--dry-run", "--now", NOW.isoformat())
    with Store.open(f"sqlite:///{tmp_path / 'data' / 'newsletter.db'}") as store:
        queue_posts(load_config(config), store, NOW)
        ledger = Ledger(store)
        ledger.claim(KEY, NOW)
        process_died(store)
        ledger.recover_dead_claims(NOW + timedelta(minutes=1))
    assert "uncertain" in run(config, "posts", "list", "--status", "uncertain").output
    settled = run(config, "posts", "settle", KEY, "--sent", "--as", "dora")
    assert settled.exit_code == 0, settled.output
    with Store.open(f"sqlite:///{tmp_path / 'data' / 'newsletter.db'}") as store:
        assert [(a.actor, a.action) for a in store.audit.list_actions()] == [("dora", "post.settle")]
    assert "nothing due" in run(config, "post", "--now", NOW.isoformat()).output
    assert fake_mastodon.calls("/api/v1/statuses") == []


def test_unknown_channel_is_a_config_error(fake_mastodon, tmp_path):
    config = setup(tmp_path, fake_mastodon.url)
    result = run(config, "post", "--channel", "nope")
    assert result.exit_code == 2 and "no channel named 'nope'" in result.output


def queue_for_approval(tmp_path: Path, url: str) -> tuple[Path, str]:
    """A config whose channel requires approval, with its post queued; returns (config, database URL)."""
    config = setup(tmp_path, url)
    data = yaml.safe_load(config.read_text())
    data["channels"][0]["require_approval"] = True
    config.write_text(yaml.safe_dump(data))
    database = f"sqlite:///{tmp_path / 'data' / 'newsletter.db'}"
    with Store.open(database) as store:
        queue_posts(load_config(config), store, NOW)
    return config, database


def test_posts_approve_records_who_and_refuses_a_second_time(fake_mastodon, tmp_path):
    config, database = queue_for_approval(tmp_path, fake_mastodon.url)
    approved = run(config, "posts", "approve", KEY, "--as", "carole")
    assert approved.exit_code == 0, approved.output
    assert f"{KEY}: approved" in approved.output
    again = run(config, "posts", "approve", KEY)
    assert again.exit_code == 1 and "not awaiting approval" in again.output
    with Store.open(database) as store:
        assert Ledger(store).get(KEY).status == "pending"
        assert [(a.actor, a.action, a.target) for a in store.audit.list_actions()] == [("carole", "post.approve", KEY)]
    assert f"posted {KEY}" in run(config, "post", "--now", NOW.isoformat()).output


def test_posts_approve_defaults_to_the_login_name(fake_mastodon, tmp_path):
    config, database = queue_for_approval(tmp_path, fake_mastodon.url)
    assert run(config, "posts", "approve", KEY).exit_code == 0
    with Store.open(database) as store:
        (action,) = store.audit.list_actions()
    assert action.action == "post.approve" and action.actor == f"cli:{getpass.getuser()}"


def with_alerts(config: Path, webhook_url: str) -> Path:
    data = yaml.safe_load(config.read_text())
    data["alerts"] = {"webhook_url": webhook_url}
    config.write_text(yaml.safe_dump(data))
    return config


def test_post_alerts_like_the_daemon_when_it_pauses_a_channel(fake_mastodon, webhook, tmp_path):
    config = with_alerts(setup(tmp_path, fake_mastodon.url), webhook.url)
    failed = run(config, "post", "--now", NOW.isoformat(), env={"MASTODON_ACCESS_TOKEN": "revoked"})
    assert failed.exit_code == 1
    assert webhook.kinds() == ["channel_paused"] and "MASTODON_ACCESS_TOKEN" in webhook.received[0]["body"]


def test_a_dead_claim_shows_in_status_then_post_recovers_and_resumes_it_once(fake_mastodon, tmp_path):
    config = setup(tmp_path, fake_mastodon.url)
    with Store.open(f"sqlite:///{tmp_path / 'data' / 'newsletter.db'}") as store:
        queue_posts(load_config(config), store, NOW)
        assert Ledger(store).claim(KEY, NOW)
        process_died(store)
    shown = run(config, "status", "--now", NOW.isoformat())
    assert f"post {KEY} claimed" in shown.output
    posted = run(config, "post", "--now", NOW.isoformat())
    assert f"posted {KEY}" in posted.output, posted.output
    assert [r.headers["idempotency-key"] for r in fake_mastodon.calls("/api/v1/statuses")] == [f"{KEY}:0"]
    assert run(config, "posts", "delete", KEY).exit_code == 0
    listed = run(config, "posts", "list")
    assert f"{KEY}\tdeleted" in listed.output


THREAD = ["Deuxième partie du fil, avec le détail des mesures.", "Troisième partie : le calendrier."]


def test_a_real_sigkill_mid_thread_then_a_rerun_completes_the_thread_without_a_duplicate(fake_mastodon, tmp_path):
    config = setup(tmp_path, fake_mastodon.url)
    data = yaml.safe_load(config.read_text())
    data["channels"][0]["timeout"] = 30
    config.write_text(yaml.safe_dump(data))
    with Store.open(f"sqlite:///{tmp_path / 'data' / 'newsletter.db'}") as store:
        queue_posts(load_config(config), store, NOW)
        payload = dict(Ledger(store).get(KEY).payload, thread=THREAD)
        assert Ledger(store).update_payload(KEY, payload, only_in=[DeliveryStatus.PENDING])
    fake_mastodon.stall("/api/v1/statuses", 2.0, after=1)  # part 2 reaches the instance, then hangs
    env = {**os.environ, "MASTODON_ACCESS_TOKEN": "masto-token"}
    child = subprocess.Popen([sys.executable, "-m", "newsletter", "post", "--now", NOW.isoformat(), "--config",
                              str(config)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while len(fake_mastodon.calls("/api/v1/statuses")) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    child.wait()
    time.sleep(2.5)  # the stalled part 2 is created at the instance after the client died
    with Store.open(f"sqlite:///{tmp_path / 'data' / 'newsletter.db'}") as store:
        row = Ledger(store).get(KEY)
        assert row.status == DeliveryStatus.CLAIMED and len(row.provider_id.split(",")) == 1
    rerun = run(config, "post", "--now", (NOW + timedelta(minutes=1)).isoformat())
    assert f"posted {KEY}" in rerun.output, rerun.output
    keys = [r.headers["idempotency-key"] for r in fake_mastodon.calls("/api/v1/statuses")]
    assert keys == [f"{KEY}:0", f"{KEY}:1", f"{KEY}:2"]  # part 2 found on the account, never created again
    assert len(fake_mastodon.statuses()) == 3
    with Store.open(f"sqlite:///{tmp_path / 'data' / 'newsletter.db'}") as store:
        row = Ledger(store).get(KEY)
    assert row.status == DeliveryStatus.SENT
    assert row.provider_id.split(",") == [status["id"] for status in fake_mastodon.statuses()]


def test_posts_move_then_restore_after_a_skip(fake_mastodon, tmp_path):
    config = setup(tmp_path, fake_mastodon.url)
    data = yaml.safe_load(config.read_text())
    data["channels"][0]["slots"] = ["12:00"]
    config.write_text(yaml.safe_dump(data))
    database = f"sqlite:///{tmp_path / 'data' / 'newsletter.db'}"
    with Store.open(database) as store:
        queue_posts(load_config(config), store, NOW)
    moved = run(config, "posts", "move", KEY, "2025-03-26T12:00+01:00", "--as", "carole", "--now", NOW.isoformat())
    assert moved.exit_code == 0, moved.output
    assert f"{KEY} moved: goes out at 2025-03-26T12:00:00+01:00" in " ".join(moved.output.split())
    refused = run(config, "posts", "move", KEY, "2025-03-26T13:00+01:00", "--now", NOW.isoformat())
    assert refused.exit_code == 1 and "not one of channel masto's next 14 slots" in " ".join(refused.output.split())
    assert run(config, "post", "--now", "2025-03-24T11:00:00+00:00").output.count("posted") == 0  # not at 12:00 today
    with Store.open(database) as store:
        skip(load_config(config), store, KEY, "carole", NOW)
    restored = run(config, "posts", "restore", KEY, "--as", "carole")
    assert restored.exit_code == 0 and f"{KEY} is back in the queue: pending" in " ".join(restored.output.split())
    assert f"posted {KEY}" in run(config, "post", "--now", "2025-03-26T11:00:00+00:00").output
