"""`newsletter bounces fetch` against a real Dovecot on loopback: DSNs and complaints applied
once and moved to the processed folder, other mail left alone, credentials from env vars."""

from __future__ import annotations

import imaplib
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from newsletter.cli import app
from newsletter.config import load_config
from newsletter.store import Store, SubscriberStatus
from tests.fakes.imap import ImapServer
from tests.fakes.smtp import TEST_SECRET, TEST_SECRET_ENV, write_mail_config

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "bounces"
PASSWORD_ENV = "NEWSLETTER_TEST_IMAP_PASSWORD"
REPORTS = ("hard-5.1.1.eml", "soft-4.2.2.eml", "exchange.eml", "complaint-arf.eml")
runner = CliRunner()


def mailbox_config(tmp_path: Path, server: ImapServer, **imap: object) -> Path:
    """The sending test config with `bounces.imap` pointing at the session's Dovecot."""
    path = write_mail_config(tmp_path, None)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["bounces"] = {"imap": {"host": "127.0.0.1", "port": server.tls_port, "security": "tls",
                                "ca_file": str(server.ca_file), "user": server.user,
                                "password_env": PASSWORD_ENV, "timeout": 5, **imap}}
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, bounce_mailbox: ImapServer) -> ImapServer:
    monkeypatch.setenv(TEST_SECRET_ENV, TEST_SECRET)
    monkeypatch.setenv(PASSWORD_ENV, bounce_mailbox.password)
    return bounce_mailbox


def fetch(config: Path) -> tuple[int, str, str]:
    result = runner.invoke(app, ["bounces", "fetch", "-c", str(config), "--now", "2026-03-05T09:00"])
    return result.exit_code, result.stdout, result.stderr


def subscribers(config: Path) -> Store:
    store = Store.open(load_config(config).database_url(), create=True)
    for name in ("jeanne", "paul", "marc", "sophie"):
        store.subscribers.add_subscriber(f"{name}@example.org", lists=["main", "culture"])
    return store


def test_reports_are_applied_moved_and_other_mail_left_alone(tmp_path: Path, env: ImapServer) -> None:
    config = mailbox_config(tmp_path, env)
    with subscribers(config):
        pass
    for name in (*REPORTS, "not-a-report.eml"):
        env.append((FIXTURES / name).read_bytes())

    code, out, err = fetch(config)

    assert code == 0, err
    assert "hard jeanne@example.org: suppressed" in out
    assert "soft paul@example.org: counted (1 soft bounce(s))" in out
    assert "hard marc@example.org: suppressed" in out
    assert "complaint sophie@example.org: complained" in out
    assert "left in the mailbox: message 5: 'Re: La lettre du ministere' from lucie@example.org" in out
    assert "4 report(s) applied, 1 message(s) left in the mailbox" in out
    with Store.open(load_config(config).database_url()) as store:
        status = {s.email: (s.status, s.lists) for s in store.subscribers.list_subscribers(status=None)}
        assert status == {
            "jeanne@example.org": (SubscriberStatus.BOUNCED, ["culture", "main"]),
            "paul@example.org": (SubscriberStatus.ACTIVE, ["culture", "main"]),
            "marc@example.org": (SubscriberStatus.BOUNCED, ["culture", "main"]),
            "sophie@example.org": (SubscriberStatus.COMPLAINED, []),
        }
        assert [store.subscribers.is_suppressed(f"{n}@example.org") for n in ("jeanne", "paul", "marc", "sophie")] \
            == [True, False, True, True]
    (left,) = env.folder_messages("INBOX")
    assert b"Lucie" in left[1] and b"\\Seen" not in left[0]
    processed = env.folder_messages("Processed")
    assert len(processed) == 4 and all(b"\\Seen" in flags for flags, _ in processed)

    code, out, _ = fetch(config)
    assert code == 0 and "0 report(s) applied, 1 message(s) left in the mailbox" in out
    listed = runner.invoke(app, ["subscribers", "list", "--status", "all", "--now", "2026-03-05T09:00",
                                 "-c", str(config)], env={"COLUMNS": "200"})
    rows = {line.split("│")[1].strip(): [cell.strip() for cell in line.split("│")[2:5]]
            for line in listed.stdout.splitlines() if "@example.org" in line}
    assert rows["paul@example.org"][1:] == ["active", "1"] and rows["jeanne@example.org"][1:] == ["bounced", "0"]
    assert rows["sophie@example.org"][1:] == ["complained", "0"]


def test_the_same_report_delivered_twice_is_applied_once(tmp_path: Path, env: ImapServer) -> None:
    config = mailbox_config(tmp_path, env)
    with subscribers(config):
        pass
    soft = (FIXTURES / "soft-4.2.2.eml").read_bytes()
    env.append(soft)
    env.append(soft)

    code, out, err = fetch(config)

    assert code == 0, err
    assert out.count("soft paul@example.org: counted (1 soft bounce(s))") == 1
    assert "soft paul@example.org: already applied" in out
    assert "1 report(s) applied (1 already applied), 0 message(s) left in the mailbox" in out
    assert len(env.folder_messages("Processed")) == 2 and env.folder_messages("INBOX") == []


def test_an_untrusted_certificate_is_refused(tmp_path: Path, env: ImapServer) -> None:
    data = yaml.safe_load(mailbox_config(tmp_path, env).read_text(encoding="utf-8"))
    del data["bounces"]["imap"]["ca_file"]
    config = tmp_path / "untrusted.yaml"
    config.write_text(yaml.safe_dump(data), encoding="utf-8")
    env.append((FIXTURES / "hard-5.1.1.eml").read_bytes())

    code, _, err = fetch(config)

    assert code == 2 and f"bounces.imap: the certificate of 127.0.0.1:{env.tls_port} is not trusted" in err
    assert len(env.folder_messages("INBOX")) == 1


def test_the_daemon_job_reads_the_mailbox_on_its_schedule_and_records_the_run(tmp_path: Path, env: ImapServer) -> None:
    from datetime import UTC, datetime

    from newsletter.runtime.jobs import job_ids, run_job
    from newsletter.runtime.status import collect_status

    config = load_config(mailbox_config(tmp_path, env, schedule={"every": "10m"}))
    env.append((FIXTURES / "hard-5.1.1.eml").read_bytes())
    env.append((FIXTURES / "not-a-report.eml").read_bytes())
    now = datetime(2026, 3, 5, 8, 0, tzinfo=UTC)

    with Store.open(config.database_url(), create=True) as store:
        assert "bounces:imap" in job_ids(config)
        result = run_job(config, store, "bounces:imap", now)
        job = next(j for j in collect_status(config, store, now)["jobs"] if j["id"] == "bounces:imap")

    assert result.outcome == "ok" and result.counts == {"suppressed": 1, "left": 1}
    assert "'Re: La lettre du ministere' from lucie@example.org" in (result.message or "")
    assert job["last_run"]["outcome"] == "ok" and job["next_run"] is not None
    with Store.open(config.database_url()) as store:
        bounces = collect_status(config, store, datetime(2026, 3, 5, 8, 0, tzinfo=UTC))["bounces"]
    assert bounces == {"days": 7, "hard": 1, "soft": 0, "complaint": 0, "unsubscribe": 0}


# Last: Dovecot slows the logins from an address after a refused one.
def test_refused_or_missing_credentials_name_the_env_var_and_never_show_the_password(
    tmp_path: Path, env: ImapServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = mailbox_config(tmp_path, env, port=env.starttls_port, security="starttls")
    monkeypatch.setenv(PASSWORD_ENV, "wrong-password-123")

    code, out, err = fetch(config)
    assert code == 2
    assert f"bounces.imap: the server refused the login of {env.user} (password from {PASSWORD_ENV})" in err
    assert "wrong-password-123" not in out + err

    monkeypatch.delenv(PASSWORD_ENV)
    code, _, err = fetch(config)
    assert code == 2 and f"bounces.imap.password_env: environment variable {PASSWORD_ENV} is not set" in err


@pytest.mark.parametrize("server", ["no-move", "no-move-no-uidplus"])
def test_without_move_reports_are_copied_then_expunged(tmp_path: Path, env: ImapServer, server: str) -> None:
    address, port = env.reduced[server]
    config = mailbox_config(tmp_path, env, host=address, port=port, security="none", ca_file=None)
    with subscribers(config):
        pass
    probe = imaplib.IMAP4(address, port, timeout=5)
    probe.login(env.user, env.password)
    announced = probe.capability()[1][0].decode().split()
    probe.append("INBOX", r"(\Deleted)", None, b"Subject: deleted by a person, not expunged yet\r\n\r\nbye\r\n")
    probe.logout()
    assert "MOVE" not in announced and ("UIDPLUS" in announced) is (server == "no-move")
    for name in ("hard-5.1.1.eml", "not-a-report.eml"):
        env.append((FIXTURES / name).read_bytes())

    code, out, err = fetch(config)

    assert code == 0, err
    assert "1 report(s) applied, 1 message(s) left in the mailbox" in out
    (processed,) = env.folder_messages("Processed")
    assert b"\\Seen" in processed[0] and b"\\Deleted" not in processed[0]
    subjects = sorted(raw.split(b"Subject: ")[1].split(b"\r\n")[0] for _flags, raw in env.folder_messages("INBOX"))
    kept = [b"Re: La lettre du ministere"]  # UIDPLUS: only the report is expunged
    assert subjects == (sorted([*kept, b"deleted by a person, not expunged yet"]) if server == "no-move" else kept)
    assert fetch(config)[1].endswith("0 report(s) applied, 1 message(s) left in the mailbox\n")
