"""The runner's own /health, and the Docker image that checks it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from newsletter.config import load_config
from newsletter.core.keys import RUNNER_LEASE
from newsletter.runtime.health import HealthListener
from newsletter.store import Store
from tests.fakes.daemon_env import open_config_store, write_daemon_config

REPO = Path(__file__).resolve().parents[2]


def get(url: str) -> tuple[int, dict[str, object]]:
    """Status and JSON body of GET `url`."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def docker_healthcheck() -> list[str]:
    """The exec-form command of the Dockerfile's HEALTHCHECK."""
    text = (REPO / "Dockerfile").read_text()
    match = re.search(r"^HEALTHCHECK .*?CMD (\[.*?\])$", text.replace("\\\n", " "), re.MULTILINE | re.DOTALL)
    assert match, "the Dockerfile has an exec-form HEALTHCHECK"
    return list(json.loads(match.group(1)))


@pytest.fixture
def runner_store(tmp_path: Path):
    config, store = open_config_store(write_daemon_config(tmp_path))
    yield config, store
    store.close()


def test_health_answers_503_until_a_runner_holds_the_lease(runner_store) -> None:
    config, store = runner_store
    with HealthListener(config, store, 0) as listener:
        url = f"http://127.0.0.1:{listener.port}/health"
        status, body = get(url)
        assert status == 503 and body["ok"] is False and "lease" in body["problems"][0]
        assert store.leases.acquire_lease(RUNNER_LEASE, "runner-a", 30)
        assert get(url) == (200, {"ok": True, "problems": [], "runner": "runner-a"})
        assert get(f"http://127.0.0.1:{listener.port}/admin")[0] == 404


def test_the_docker_healthcheck_command_passes_only_when_healthy(runner_store) -> None:
    config, store = runner_store
    command = docker_healthcheck()
    assert command[0] == "python" and "/health" in command[-1]
    with HealthListener(config, store, 0) as listener:
        env = {**os.environ, "NEWSLETTER_HEALTH_PORT": str(listener.port)}
        check = [sys.executable, *command[1:]]
        assert subprocess.run(check, env=env, capture_output=True, timeout=30).returncode != 0
        store.leases.acquire_lease(RUNNER_LEASE, "runner-a", 30)
        assert subprocess.run(check, env=env, capture_output=True, timeout=30).returncode == 0


def test_the_image_runs_as_a_non_root_user_with_a_writable_outbox_under_data() -> None:
    text = (REPO / "Dockerfile").read_text()
    users = re.findall(r"^USER (\S+)", text, re.MULTILINE)
    assert users and users[-1] not in ("root", "0"), "the last USER is not root"
    assert re.search(rf"useradd .*{users[-1]}", text), "the user is created in the image"
    env = dict(re.findall(r"(NEWSLETTER_\w+)=(\S+)", text))
    assert env["NEWSLETTER_DATA_DIR"] == "/data" and env["NEWSLETTER_OUTBOX_DIR"].startswith("/data/")
    assert re.search(r"chown -R \S+ /data", text) and 'VOLUME ["/data"]' in text
    assert f"NEWSLETTER_HEALTH_PORT={env['NEWSLETTER_HEALTH_PORT']}" in text


def test_dockerignore_keeps_local_state_out_of_the_build_context() -> None:
    ignored = {line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")}
    assert {".git", ".venv", "data", "outbox", "tests", ".env"} <= ignored
    copied = re.findall(r"^COPY (.+) \S+$", (REPO / "Dockerfile").read_text(), re.MULTILINE)
    assert not {name for line in copied for name in line.split()} & ignored, "nothing the image copies is ignored"


def test_the_image_folders_override_the_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_daemon_config(tmp_path)
    monkeypatch.setenv("NEWSLETTER_DATA_DIR", str(tmp_path / "volume"))
    monkeypatch.setenv("NEWSLETTER_OUTBOX_DIR", str(tmp_path / "volume" / "outbox"))
    config = load_config(path)
    assert config.resolve(config.outbox_dir) == tmp_path / "volume" / "outbox"
    assert config.database_url() == f"sqlite:///{tmp_path / 'volume' / 'newsletter.db'}"
    with Store.open(config.database_url(), create=True):
        assert (tmp_path / "volume" / "newsletter.db").exists()
