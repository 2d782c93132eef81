"""Commands import only what they use: `--help` and `count` no stage, `check` and `preview` no
social client library, a sender process no template engine (timings are in bench/startup.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "example.yaml"
SOCIAL_CLIENTS = {"tweepy", "mastodon", "atproto"}
STAGES = {"pydantic", "sqlalchemy", "alembic", "jinja2", "yaml", "apscheduler", "mjml", "PIL", "rich"}


def imported_by(*args: str, stdin: str | None = None, cwd: Path, python: tuple[str, ...] = ("-m", "newsletter")
                ) -> set[str]:
    """Top-level packages a fresh `python -m newsletter ARGS` (or `python PYTHON ARGS`) imports,
    read from -X importtime."""
    done = subprocess.run([sys.executable, "-X", "importtime", *python, *args], input=stdin,
                          capture_output=True, text=True, cwd=cwd, timeout=120)
    assert done.returncode in (0, 1), done.stderr[-2000:]
    lines = (line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:"))
    return {name.split(".")[0] for name in lines}


@pytest.mark.parametrize(("args", "stdin"), [(("--help",), None), (("count", "-"), "Bonjour\n")],
                         ids=["help", "count"])
def test_help_and_count_import_no_stage(args, stdin, tmp_path):
    imported = imported_by(*args, stdin=stdin, cwd=tmp_path)
    assert "typer" in imported
    assert not imported & (STAGES | SOCIAL_CLIENTS)


@pytest.mark.parametrize("command", ["check", "preview"])
def test_check_and_preview_of_the_example_import_no_social_client(command, tmp_path):
    extra = ("--out", str(tmp_path / "preview"), "--now", "2025-03-24T08:00") if command == "preview" else ()
    imported = imported_by(command, "--config", str(EXAMPLE), *extra, cwd=tmp_path)
    assert "jinja2" in imported
    assert not imported & SOCIAL_CLIENTS


def test_post_with_nothing_due_loads_no_client_library_nor_template_engine(tmp_path):
    (tmp_path / "data").mkdir()
    config = tmp_path / "newsletter.yaml"
    config.write_text("data_dir: data\nchannels:\n  - {name: masto, type: mastodon, base_url: 'http://127.0.0.1:9'}\n"
                      "  - {name: bsky, type: bluesky, handle: a.test, base_url: 'http://127.0.0.1:9'}\n")
    from newsletter.store import Store

    Store.open(f"sqlite:///{tmp_path / 'data' / 'newsletter.db'}", create=True).close()
    imported = imported_by("post", "--config", str(config), cwd=tmp_path)
    assert "sqlalchemy" in imported
    assert not imported & (SOCIAL_CLIENTS | {"jinja2", "mjml", "PIL", "httpx"})


def test_a_sender_process_loads_no_template_engine_http_client_or_dkim(tmp_path):
    """What a spawned sender process imports to send its share (see pipeline/senders.py)."""
    sender = ("from newsletter.pipeline.senders import worker_main; "
              "from newsletter.pipeline.digest_sender import worker_send; "
              "from newsletter.compose.mime import MessageTemplate; "
              "from newsletter.publish.email.smtp import SmtpTransport")
    imported = imported_by(python=("-c", sender), cwd=tmp_path)
    assert {"sqlalchemy", "pydantic", "smtplib"} <= imported
    assert not imported & (SOCIAL_CLIENTS | {"jinja2", "mjml", "css_inline", "httpx", "dkim", "PIL", "typer", "rich"})


def test_an_import_whose_output_is_not_a_terminal_loads_no_progress_bar_nor_charset_detector(tmp_path):
    (tmp_path / "people.csv").write_text("email,name,lists\nana@exemple.fr,Ana,lettre\n", encoding="utf-8")
    (tmp_path / "newsletter.yaml").write_text("data_dir: data\n")
    imported = imported_by("subscribers", "import", "people.csv", "--config", "newsletter.yaml", cwd=tmp_path)
    assert {"sqlalchemy", "email_validator"} <= imported
    assert not imported & {"rich", "charset_normalizer", "babel", "cron_descriptor"}


def test_a_send_whose_output_is_piped_loads_no_progress_bar_nor_http_client(tmp_path, fast_smtp_server, monkeypatch):
    """A send from cron or a daemon's log: nobody sees a progress bar, and only a non-ASCII link
    needs httpx (composing it happened when the issue was frozen)."""
    path, addresses = sending_setup(tmp_path, fast_smtp_server, monkeypatch, 3)
    imported = imported_by("send", "digest", "hebdo", "--config", str(path), cwd=tmp_path)
    assert fast_smtp_server.state.snapshot() == {address: 1 for address in addresses}
    assert "smtplib" in imported
    assert not imported & {"rich", "httpx"}, imported & {"rich", "httpx"}


def test_a_send_over_two_processes_forks_its_worker_ready_rather_than_starting_python_again(
        tmp_path, fast_smtp_server, monkeypatch):
    """`send digest` forks its worker before it opens the store (no thread and no database
    connection yet), so the worker starts with the libraries loaded: SQLAlchemy is imported once
    for both processes (a spawned worker would import it again). Each recipient gets one copy."""
    path, addresses = sending_setup(tmp_path, fast_smtp_server, monkeypatch, 150,  # over 100: two processes
                                    connections=4, processes=2)
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "newsletter", "send", "digest", "hebdo",
                           "--config", str(path)], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "150 sent" in done.stdout
    imports = [line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")]
    assert imports.count("sqlalchemy") == 1
    assert fast_smtp_server.state.snapshot() == {address: 1 for address in addresses}


def test_a_worker_forked_for_a_send_with_nothing_to_send_ends_with_the_command(tmp_path, monkeypatch):
    path, _nobody = sending_setup(tmp_path, None, monkeypatch, 0, connections=4, processes=2)
    done = subprocess.run([sys.executable, "-m", "newsletter", "send", "digest", "hebdo", "--config", str(path)],
                          capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "nothing to send" in done.stdout
    left = [pid for pid in os.listdir("/proc") if pid.isdigit() and str(path) in _command_line(pid)]
    assert left == [], "no sender process outlives the command"


def sending_setup(tmp_path, sink, monkeypatch, subscribers: int, **smtp: object) -> tuple[Path, list[str]]:
    """A sending config on a new store with `subscribers` people and (if any) an approved issue
    for them, the secret in the environment; the config's path and the addresses."""
    from datetime import UTC, datetime

    from newsletter.config import load_config
    from newsletter.store import Store
    from tests.fakes.smtp import TEST_SECRET, TEST_SECRET_ENV, create_issue, seed_subscribers, write_mail_config

    monkeypatch.setenv(TEST_SECRET_ENV, TEST_SECRET)
    path = write_mail_config(tmp_path, sink, **smtp)
    config = load_config(path)
    with Store.open(config.database_url(), create=True) as store:
        addresses = seed_subscribers(store, subscribers)
        if subscribers:
            create_issue(config, store, datetime(2025, 3, 24, 8, 0, tzinfo=UTC))
    return path, addresses


def _command_line(pid: str) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""
