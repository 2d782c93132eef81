"""`newsletter status`: schedules in words, next runs, last runs with counts, missed runs."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from typer.testing import CliRunner

from newsletter.cli import app
from newsletter.runtime.daemon import catch_up_jobs
from newsletter.runtime.status import collect_status
from tests.fakes.daemon_env import open_config_store, write_daemon_config

runner = CliRunner()


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_status_shows_schedule_in_words_next_run_counts_and_missed_runs(tmp_path):
    path = write_daemon_config(tmp_path, scheduler={"misfire_grace_seconds": 900})
    config, store = open_config_store(path)
    run_id = store.runs.start_run("digest:hebdo", utc(2026, 3, 2, 8, 0), now=utc(2026, 3, 2, 8, 0, 1))
    store.runs.finish_run(run_id, "ok", {"sent": 42}, now=utc(2026, 3, 2, 8, 3))
    catch_up_jobs(config, store, utc(2026, 3, 9, 12, 0))  # the daemon was down at Monday 09:00
    store.close()

    result = runner.invoke(app, ["status", "-c", str(path), "--json", "--now", "2026-03-09T13:00:00+01:00"])
    assert result.exit_code == 0, result.output
    job, confirmations = json.loads(result.output)["jobs"]
    assert job["id"] == "digest:hebdo" and "lundi" in job["schedule"]
    assert confirmations["id"] == "mail:confirmations" and confirmations["schedule"] == "toutes les 30 secondes"
    assert job["next_run"] == "2026-03-16T09:00:00+01:00"
    assert job["missed_runs"] == ["2026-03-09T09:00:00+01:00"]
    assert [run["outcome"] for run in job["recent_runs"]] == ["missed", "ok"]
    assert job["recent_runs"][1]["counts"] == {"sent": 42}

    text = runner.invoke(app, ["status", "-c", str(path), "--now", "2026-03-09T13:00:00+01:00"])
    assert text.exit_code == 0, text.output
    assert "missed 2026-03-09T09:00:00+01:00" in text.output
    assert "ok 2026-03-02T09:00:01+01:00 sent=42" in text.output


def test_status_in_english_and_for_an_interval(tmp_path):
    path = write_daemon_config(tmp_path, locale="en", digest_schedule={"every": "30m"})
    config, store = open_config_store(path)
    status = collect_status(config, store, utc(2026, 7, 1, 10, 0))
    store.close()
    job, _confirmations = status["jobs"]
    assert job["schedule"] == "every 30 minutes" and job["last_run"] is None
    assert job["next_run"] == "2026-07-01T12:30:00+02:00"
