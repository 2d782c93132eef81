"""`newsletter subscribers …` and `newsletter send …` as a user runs them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from newsletter.cli import app
from newsletter.config import load_config
from newsletter.pipeline.subscribe import SubscribeRequest, request_subscription
from newsletter.store import Store
from tests.fakes.smtp import (
    TEST_SECRET,
    TEST_SECRET_ENV,
    SmtpServer,
    create_issue,
    sample_announcements,
    write_mail_config,
)

runner = CliRunner()


def run(config: Path, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, [*args, "-c", str(config)])
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_mail_config(tmp_path, None)


def test_import_lists_rejected_rows_then_export_and_forget(tmp_path: Path, config: Path) -> None:
    people = tmp_path / "people.csv"
    people.write_text("email,name\nanne@example.org,Anne\nnope,Bad\nANNE@example.org,Dup\n", encoding="utf-8")

    code, out, _ = run(config, "subscribers", "import", str(people), "--list", "main")
    assert code == 0
    assert "3 rows: 1 added" in out and "1 duplicates" in out and "1 rejected" in out
    assert f"{people}, line 3: nope:" in out

    code, out, _ = run(config, "subscribers", "list", "--list", "main")
    assert code == 0 and "anne@example.org" in out and "1 subscriber(s)" in out

    code, out, _ = run(config, "subscribers", "export", "anne@example.org", "--format", "json")
    assert code == 0 and json.loads(out)["lists"] == ["main"]

    code, out, _ = run(config, "subscribers", "forget", "anne@example.org")
    assert code == 0 and "erased" in out
    code, out, _ = run(config, "subscribers", "import", str(people))
    assert "0 added" in out and "1 suppressed" in out


def test_add_refuses_an_invalid_address_with_one_line(config: Path) -> None:
    code, _, err = run(config, "subscribers", "add", "not an address")
    assert code == 1 and err.startswith("error: ") and len(err.strip().splitlines()) == 1


def test_send_digest_dry_run_then_real_send_with_summary(
    tmp_path: Path, smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import UTC, datetime

    from newsletter.config import load_config
    from newsletter.store import Store

    monkeypatch.setenv(TEST_SECRET_ENV, TEST_SECRET)
    config_path = write_mail_config(tmp_path, smtp_server)
    loaded = load_config(config_path)
    with Store.open(loaded.database_url(), create=True) as store:
        create_issue(loaded, store, datetime(2025, 3, 24, 8, tzinfo=UTC))
    for n in range(3):
        run(config_path, "subscribers", "add", f"p{n}@example.org", "--list", "main")

    code, out, _ = run(config_path, "send", "digest", "hebdo", "--dry-run")
    assert code == 0 and "3 message(s) written" in out and not smtp_server.handler.received

    code, out, _ = run(config_path, "send", "digest", "hebdo", "--to", "relecture@example.org")
    assert code == 0 and smtp_server.handler.copies() == {"relecture@example.org": 1}

    code, out, _ = run(config_path, "send", "digest", "hebdo")
    assert code == 0 and "3 sent, 0 failed" in out and "finished" in out
    code, _, err = run(config_path, "send", "pause", "hebdo")
    assert code == 1 and "only approved or sending" in err


def test_send_digest_freezes_a_new_issue_then_has_nothing_more_to_send(
    tmp_path: Path, smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import timedelta

    from newsletter.config import load_config
    from newsletter.store import Store
    from newsletter.store.tables import utcnow

    monkeypatch.setenv(TEST_SECRET_ENV, TEST_SECRET)
    config_path = write_mail_config(tmp_path, smtp_server)
    with Store.open(load_config(config_path).database_url(), create=True) as store:
        for announcement in sample_announcements(2):
            store.announcements.upsert_announcement(announcement, announce=True, now=utcnow() - timedelta(hours=1))
    for n in range(3):
        run(config_path, "subscribers", "add", f"p{n}@example.org", "--name", f"P{n}", "--list", "main")

    code, out, _ = run(config_path, "send", "digest", "hebdo", "--to", "relecture@example.org")
    assert code == 0 and "test copy sent to relecture@example.org" in out
    test_copy = smtp_server.handler.received.pop().message()
    assert "2 nouvelles annonces" in test_copy["Subject"]
    with Store.open(load_config(config_path).database_url()) as store:
        assert store.issues.list_digest_issues(digest="hebdo", limit=5) == []  # a test copy records nothing

    code, out, err = run(config_path, "send", "digest", "hebdo")
    assert code == 0 and "3 sent, 0 failed" in out and "finished" in out, out + err
    assert smtp_server.handler.copies() == {f"p{n}@example.org": 1 for n in range(3)}
    subject = smtp_server.handler.received[0].message()["Subject"]
    assert "2 nouvelles annonces" in subject

    code, out, _ = run(config_path, "send", "digest", "hebdo")
    assert code == 0 and "hebdo: nothing to send (0 new announcement(s)" in out
    code, out, _ = run(config_path, "send", "digest", "hebdo", "--to", "relecture@example.org")
    assert code == 0 and "hebdo: nothing to send (0 new announcement(s)" in out
    assert len(smtp_server.handler.received) == 3


def test_send_confirmations_and_run_once_send_the_queued_mails(
    tmp_path: Path, smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TEST_SECRET_ENV, TEST_SECRET)
    path = write_mail_config(tmp_path, smtp_server)
    config = load_config(path)
    now = datetime.now(UTC)
    with Store.open(config.database_url(), create=True) as store:
        for email in ("a@example.net", "b@example.net"):
            request_subscription(config, store, SubscribeRequest(email, "main", "", "fr", now), "198.51.100.7")
    code, out, _ = run(path, "subscribers", "send-confirmations")
    assert code == 0 and out.startswith("2 sent, 0 skipped"), out
    with Store.open(config.database_url()) as store:
        request_subscription(config, store, SubscribeRequest("c@example.net", "main", "", "fr", now), "198.51.100.7")
    code, out, _ = run(path, "run", "--once", "mail:confirmations")
    assert code == 0 and "mail:confirmations: ok" in out and "'sent': 1" in out, out
    assert smtp_server.handler.copies() == {"a@example.net": 1, "b@example.net": 1, "c@example.net": 1}
