"""Config validation: every problem is one line naming the file and key path; exit code 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from newsletter.config import load_config, missing_secrets, secret_env_names
from newsletter.core.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = REPO_ROOT / "config" / "example.yaml"


def example_data() -> dict:
    return yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))


def write_config(tmp_path: Path, data: dict) -> Path:
    (tmp_path / "examples").mkdir(exist_ok=True)
    path = tmp_path / "newsletter.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def run_check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "newsletter", "check", "--config", str(path)],
        capture_output=True, text=True, timeout=120,
    )


def test_example_config_is_valid_and_resolves_paths_against_its_folder():
    config = load_config(EXAMPLE)
    assert config.timezone == "Europe/Paris"
    assert config.locale == "fr"
    assert config.resolve(config.sources[0].path) == (EXAMPLE.parent / "examples").resolve()
    assert config.database_url() == f"sqlite:///{(REPO_ROOT / 'data' / 'newsletter.db').resolve()}"


def break_unknown_key(data: dict) -> str:
    data["digests"][0]["sujet"] = "typo"
    return "digests[0].sujet: unknown key"


def break_cron(data: dict) -> str:
    data["digests"][0]["schedule"] = "0 9 * * 8"
    return "digests[0].schedule:"


def break_missing_section(data: dict) -> str:
    del data["digests"][0]["list"]
    return "digests[0].list: Field required"


def break_type(data: dict) -> str:
    data["digests"][0]["max_items"] = "beaucoup"
    return "digests[0].max_items:"


def break_source_type(data: dict) -> str:
    data["sources"][0]["type"] = "ftp"
    return "sources[0].type: unknown source type 'ftp' (valid: feed, folder, web)"


def break_channel_key(data: dict) -> str:
    data["channels"][1]["instance"] = "mastodon.example"
    return "channels[1].instance: unknown key"


def break_timezone(data: dict) -> str:
    data["timezone"] = "Europe/Lutece"
    return "timezone: unknown timezone 'Europe/Lutece'"


def break_digest_locale(data: dict) -> str:
    data["digests"][0]["locale"] = "english"
    return "digests[0].locale: Input should be 'fr' or 'en'"


BREAKERS = [break_unknown_key, break_cron, break_missing_section, break_type, break_source_type,
            break_channel_key, break_timezone, break_digest_locale]


@pytest.mark.parametrize("breaker", BREAKERS, ids=lambda f: f.__name__)
def test_each_problem_is_reported_on_one_line_with_its_key_path(tmp_path, breaker):
    data = example_data()
    data["sources"][0]["path"] = str(tmp_path / "examples")
    expected = breaker(data)
    path = write_config(tmp_path, data)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert len(caught.value.problems) == 1, caught.value.problems
    assert caught.value.problems[0].startswith(f"{path}: {expected}")


def test_check_exits_2_with_one_line_per_problem_and_no_traceback(tmp_path):
    data = example_data()
    data["sources"][0]["path"] = str(tmp_path / "examples")
    expected = [breaker(data) for breaker in (break_unknown_key, break_cron, break_type, break_timezone)]
    path = write_config(tmp_path, data)
    result = run_check(path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == len(expected), result.stderr
    for line, wanted in zip(sorted(lines), sorted(f"{path}: {e}" for e in expected), strict=True):
        assert line.startswith(wanted)
    assert "Traceback" not in result.stderr


def test_invalid_yaml_names_the_line(tmp_path):
    path = tmp_path / "newsletter.yaml"
    path.write_text("timezone: Europe/Paris\ndigests: [\n  - name: x\n", encoding="utf-8")
    result = run_check(path)
    assert result.returncode == 2
    assert result.stderr.startswith(f"{path}: line ")
    assert "invalid YAML" in result.stderr


def test_database_url_with_credentials_must_come_from_env(tmp_path, monkeypatch):
    data = example_data()
    data["sources"][0]["path"] = str(tmp_path / "examples")
    data["database"] = {"url": "postgresql+psycopg://user:secret@127.0.0.1/db"}
    with pytest.raises(ConfigError) as caught:
        load_config(write_config(tmp_path, data))
    assert "database.url: a URL with credentials must come from an env var" in caught.value.problems[0]
    assert "secret" not in caught.value.problems[0].split("database.url")[1]
    data["database"] = {"url_env": "TEST_DB_URL"}
    config = load_config(write_config(tmp_path, data))
    monkeypatch.setenv("TEST_DB_URL", "postgresql+psycopg://u:p@127.0.0.1/db")
    assert config.database_url() == "postgresql+psycopg://u:p@127.0.0.1/db"


def test_missing_secrets_are_listed_by_env_var_name_never_by_value(tmp_path, monkeypatch):
    config = load_config(EXAMPLE)
    names = secret_env_names(config)
    assert {"X_API_KEY", "MASTODON_ACCESS_TOKEN", "BLUESKY_APP_PASSWORD", "NEWSLETTER_SECRET"} <= set(names)
    monkeypatch.setenv("X_API_KEY", "very-secret-value")
    monkeypatch.delenv("MASTODON_ACCESS_TOKEN", raising=False)
    missing = missing_secrets(config)
    assert "X_API_KEY" not in missing and "MASTODON_ACCESS_TOKEN" in missing
    result = subprocess.run(
        [sys.executable, "-m", "newsletter", "check", "--config", str(EXAMPLE)],
        capture_output=True, text=True, timeout=120, env={**os.environ, "X_API_KEY": "very-secret-value"},
    )
    assert result.returncode == 0, result.stderr
    assert "missing secret: environment variable MASTODON_ACCESS_TOKEN is not set" in result.stderr
    assert "very-secret-value" not in result.stdout + result.stderr


def test_the_session_key_is_never_a_missing_secret(tmp_path, monkeypatch):
    monkeypatch.delenv("NEWSLETTER_SESSION_SECRET", raising=False)
    data = example_data()
    data["sources"][0]["path"] = str(tmp_path / "examples")
    for host in ["127.0.0.1", "0.0.0.0", "review.example.org"]:
        data["review"] = {"host": host}
        config = load_config(write_config(tmp_path, data))
        assert "NEWSLETTER_SESSION_SECRET" in secret_env_names(config)
        assert "NEWSLETTER_SESSION_SECRET" not in missing_secrets(config), host


def test_check_refuses_an_unsubscribe_secret_too_short_to_sign_with():
    result = subprocess.run(
        [sys.executable, "-m", "newsletter", "check", "--config", str(EXAMPLE)],
        capture_output=True, text=True, timeout=120, env={**os.environ, "NEWSLETTER_SECRET": "short-secret"},
    )
    assert result.returncode == 2
    assert "unsubscribe.secret_env: environment variable NEWSLETTER_SECRET is shorter than 16 characters" in (
        result.stderr)
    assert "short-secret" not in result.stdout + result.stderr


def test_example_config_documents_every_channel_key():
    """Every key a channel of any type accepts appears in config/example.yaml (set or commented)."""
    from newsletter.plugins import publisher_config

    text = EXAMPLE.read_text(encoding="utf-8")
    for type_name in ("x", "mastodon", "bluesky", "linkedin", "threads"):
        model = publisher_config(type_name)
        undocumented = [key for key in model.model_fields if f" {key}:" not in text]
        assert not undocumented, f"{type_name}: {undocumented} missing from {EXAMPLE.name}"


def test_example_config_documents_every_bounces_key():
    """Every key of the `bounces` section and its subsections appears in config/example.yaml."""
    from newsletter.config import BouncesConfig, BrevoWebhookConfig, ImapMailboxConfig, SnsWebhookConfig

    text = EXAMPLE.read_text(encoding="utf-8")
    for model in (BouncesConfig, ImapMailboxConfig, SnsWebhookConfig, BrevoWebhookConfig):
        undocumented = [key for key in model.model_fields if f" {key}:" not in text]
        assert not undocumented, f"{model.__name__}: {undocumented} missing from {EXAMPLE.name}"


def test_lists_name_only_lists_a_digest_goes_to(tmp_path):
    data = example_data()
    data["lists"] = {"abonnes": {"title": "La lettre des essais"}, "abonne": {"title": "Coquille"}}
    with pytest.raises(ConfigError) as error:
        load_config(write_config(tmp_path, data))
    assert error.value.problems == [f"{tmp_path / 'newsletter.yaml'}: (top level): lists: no digest goes to "
                                    "abonne (digests go to: abonnes)"]


def test_a_list_is_shown_by_its_title_else_its_digest_sender_else_the_newsletter(tmp_path):
    data = example_data()
    data["lists"] = {"abonnes": {"title": "La lettre des essais"}}
    config = load_config(write_config(tmp_path, data))
    assert config.list_title("abonnes") == "La lettre des essais"
    del data["lists"]
    assert load_config(write_config(tmp_path, data)).list_title("abonnes") == "La lettre de l'emploi des jeunes"
    data["digests"][0].pop("from_name")
    data["branding"]["name"] = "Le fil"
    assert load_config(write_config(tmp_path, data)).list_title("abonnes") == "Le fil"


def test_public_limits_must_be_positive(tmp_path):
    data = example_data()
    data["public"] = {"confirmations_per_address": 0}
    with pytest.raises(ConfigError, match=r"public\.confirmations_per_address: Input should be greater than 0"):
        load_config(write_config(tmp_path, data))
