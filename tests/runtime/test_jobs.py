"""Jobs over a real SQLite store and a real SMTP server on loopback: what each run records."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from newsletter.core.errors import NewsletterError
from newsletter.pipeline.subscribe import SubscribeRequest, request_subscription
from newsletter.runtime.jobs import close_interrupted_runs, digests_to_resume, run_job
from newsletter.store import DigestIssueStatus, RunOutcome
from newsletter.store.ledger import Ledger
from tests.fakes.crash import process_died
from tests.fakes.daemon_env import open_config_store, seed_announcements, write_daemon_config
from tests.fakes.smtp import TEST_SECRET, TEST_SECRET_ENV, seed_subscribers

NOW = datetime(2026, 3, 9, 8, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def secret(monkeypatch):
    monkeypatch.setenv(TEST_SECRET_ENV, TEST_SECRET)


@pytest.fixture
def env(tmp_path, smtp_server):
    config, store = open_config_store(write_daemon_config(tmp_path, smtp_port=smtp_server.port))
    yield config, store, smtp_server
    store.close()


def test_unknown_job_names_the_valid_ones(env):
    config, store, _ = env
    with pytest.raises(NewsletterError, match=r"unknown job 'digest:nope' \(jobs: digest:hebdo, mail:confirmations\)"):
        run_job(config, store, "digest:nope", NOW)


def test_digest_without_new_announcements_is_a_skipped_run(env):
    config, store, server = env
    result = run_job(config, store, "digest:hebdo", NOW)
    assert result.outcome == "skipped"
    (run,) = store.runs.last_runs("digest:hebdo")
    assert run.outcome is RunOutcome.SKIPPED and "fewer than 1" in run.message
    assert server.handler.received == []


def test_digest_run_sends_each_recipient_once_and_records_the_ledger_totals(env):
    config, store, server = env
    addresses = seed_subscribers(store, 7)
    seed_announcements(store, NOW)
    result = run_job(config, store, "digest:hebdo", NOW)
    assert result.outcome == "ok"
    assert server.handler.copies() == {address: 1 for address in addresses}
    (run,) = store.runs.last_runs("digest:hebdo")
    assert run.outcome is RunOutcome.OK
    assert run.counts["sent"] == 7 and run.counts["sent_this_run"] == 7


def test_digest_awaiting_approval_is_skipped_not_failed(tmp_path, smtp_server, webhook):
    path = write_daemon_config(tmp_path, smtp_port=smtp_server.port, alerts={"webhook_url": webhook.url})
    config, store = open_config_store(path)
    config.digests[0].require_approval = True
    seed_subscribers(store, 2)
    seed_announcements(store, NOW)
    result = run_job(config, store, "digest:hebdo", NOW)
    assert result.outcome == "skipped" and "awaiting_approval" in (result.message or "")
    assert smtp_server.handler.received == [] and webhook.received == []
    store.close()


def stop_once_received(received: list, count: int, stop: threading.Event) -> None:
    """Set `stop` as soon as the SMTP server has received `count` messages (the run is mid-send)."""
    while len(received) < count and not stop.wait(0.001):
        pass
    stop.set()


def test_stopped_digest_is_interrupted_then_resumed_in_the_same_run(env):
    config, store, server = env
    addresses = seed_subscribers(store, 40)
    seed_announcements(store, NOW)
    server.handler.slow_mail, server.handler.slow_seconds = 10_000, 0.02
    stop = threading.Event()
    threading.Thread(target=stop_once_received, args=(server.handler.received, 5, stop), daemon=True).start()
    first = run_job(config, store, "digest:hebdo", NOW, stop=stop)
    assert first.outcome == "interrupted"
    sent_before = len(server.handler.received)
    assert 0 < sent_before < 40
    (issue,) = store.issues.list_digest_issues(digest="hebdo")
    assert issue.status is DigestIssueStatus.SENDING
    assert Ledger(store).counts(issue.id)["sent"] == sent_before, "every accepted message is recorded"
    assert digests_to_resume(config, store) == ["digest:hebdo"]

    server.handler.slow_mail = 0
    second = run_job(config, store, "digest:hebdo", NOW)
    assert second.outcome == "ok"
    assert server.handler.copies() == {address: 1 for address in addresses}
    runs = store.runs.last_runs("digest:hebdo")
    assert len(runs) == 1, "the resumed issue is one run, not two"
    assert runs[0].outcome is RunOutcome.OK
    assert runs[0].counts["sent"] == 40 and runs[0].counts["sent_this_run"] == 40 - sent_before


def test_runs_left_running_by_a_dead_process_become_interrupted_and_resume(env):
    config, store, server = env
    addresses = seed_subscribers(store, 3)
    seed_announcements(store, NOW)
    dead_run = store.runs.start_run("digest:hebdo", NOW, now=NOW)
    assert close_interrupted_runs(store, NOW) == 0, "the run of a live process is left running"
    process_died(store)
    assert close_interrupted_runs(store, NOW) == 1
    assert store.runs.last_runs("digest:hebdo")[0].outcome is RunOutcome.INTERRUPTED
    assert digests_to_resume(config, store) == [], "no issue was frozen: nothing to resume"
    run_job(config, store, "digest:hebdo", NOW)
    runs = store.runs.last_runs("digest:hebdo")
    assert [r.outcome for r in runs] == [RunOutcome.OK, RunOutcome.INTERRUPTED]
    assert runs[1].id == dead_run
    assert server.handler.copies() == {address: 1 for address in addresses}


def test_ingest_job_is_recorded_once_by_its_stage(tmp_path):
    folder = tmp_path / "annonces"
    folder.mkdir()
    (folder / "plan.md").write_text("# Plan jeunes\n\nLe ministre annonce « près de 900 000 » contrats.\n", "utf-8")
    path = write_daemon_config(tmp_path, sources=[{"name": "dossier", "type": "folder", "path": "annonces",
                                                   "backfill": 5}])
    config, store = open_config_store(path)
    result = run_job(config, store, "ingest:dossier", NOW)
    assert result.outcome == "ok" and result.counts["new"] == 1
    (run,) = store.runs.last_runs("ingest:dossier")
    assert run.outcome is RunOutcome.OK and run.counts["new"] == 1
    store.close()


def test_the_confirmation_job_sends_the_queue_and_records_only_busy_runs(env):
    config, store, server = env
    assert run_job(config, store, "mail:confirmations", NOW).outcome == "ok"
    assert store.runs.last_runs("mail:confirmations") == [], "an idle drain leaves no run behind"
    for email in ("a@example.net", "b@example.net"):
        request_subscription(config, store, SubscribeRequest(email, "main", "", "fr", NOW), "198.51.100.7")
    result = run_job(config, store, "mail:confirmations", NOW)
    assert result.outcome == "ok" and result.counts["sent"] == 2
    (run,) = store.runs.last_runs("mail:confirmations")
    assert run.outcome is RunOutcome.OK and run.counts["sent"] == 2
    assert server.handler.copies() == {"a@example.net": 1, "b@example.net": 1}
