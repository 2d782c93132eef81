"""`newsletter users …` as an admin runs them, then signing in to the review app with the result."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from newsletter.cli import app
from newsletter.config import load_config
from newsletter.store import Store
from tests.fakes.review_env import app_client, sign_in
from tests.fakes.smtp import write_mail_config

runner = CliRunner()
PASSPHRASE = "un long mot de passe d'essai"


def run(config: Path, *args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, [*args, "-c", str(config)], input=stdin)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_mail_config(tmp_path, None)


def test_add_list_passwd_role_and_remove_a_user(config: Path) -> None:
    code, out, _ = run(config, "users", "add", "alice", "--role", "approver", "--password-stdin", stdin=PASSPHRASE)
    assert code == 0 and "user alice added (approver)" in out
    code, out, _ = run(config, "users", "list")
    assert code == 0 and "alice" in out and "approver" in out and "never" in out
    assert PASSPHRASE not in out
    loaded = load_config(config)
    with Store.open(loaded.database_url()) as store:
        stored = store.users.credentials("alice")
        assert stored is not None and stored.password_hash.startswith("$argon2id$")
    with app_client(loaded, base_url=loaded.public_base_url) as client:
        assert sign_in(client, "alice", PASSPHRASE).status_code == 303
        assert run(config, "users", "passwd", "alice", stdin="a different passphrase\na different passphrase\n")[0] == 0
        assert client.get("/upcoming", follow_redirects=False).status_code == 303  # the session ended
        assert sign_in(client, "alice", PASSPHRASE).status_code == 401
        assert sign_in(client, "alice", "a different passphrase").status_code == 303
    assert run(config, "users", "role", "alice", "admin")[0] == 0
    code, out, _ = run(config, "users", "remove", "alice")
    assert code == 0 and "removed" in out
    code, out, _ = run(config, "users", "list")
    assert "no users yet" in out
    with Store.open(loaded.database_url()) as store:
        assert [a.action for a in store.audit.list_actions()] == ["user.remove", "user.role", "user.passwd",
                                                                   "user.add"]


def test_bad_requests_say_what_is_wrong(config: Path) -> None:
    code, _, err = run(config, "users", "add", "bob", "--password-stdin", stdin="short")
    assert code == 1 and "at least 12 characters" in err
    code, _, err = run(config, "users", "add", "bob", "--role", "boss", "--password-stdin", stdin=PASSPHRASE)
    assert code == 2 and "boss" in err
    assert run(config, "users", "add", "bob", "--password-stdin", stdin=PASSPHRASE)[0] == 0
    code, _, err = run(config, "users", "add", "bob", "--password-stdin", stdin=PASSPHRASE)
    assert code == 1 and "already a user named 'bob'" in err
    code, _, err = run(config, "users", "passwd", "nobody", "--password-stdin", stdin=PASSPHRASE)
    assert code == 1 and "no user named 'nobody'" in err


def test_an_api_token_is_printed_once_and_stored_hashed(config: Path) -> None:
    run(config, "users", "add", "robot", "--password-stdin", stdin=PASSPHRASE)
    code, out, _ = run(config, "users", "token", "robot", "--label", "monitoring")
    token = out.strip()
    assert code == 0 and token.startswith("nl_") and len(token) > 40
    loaded = load_config(config)
    with Store.open(loaded.database_url()) as store, store.engine.connect() as conn:
        dump = "\n".join(" ".join(map(str, row)) for row in conn.exec_driver_sql("SELECT * FROM api_tokens"))
    assert token not in dump and "monitoring" in dump
    with app_client(loaded, base_url=loaded.public_base_url) as client:
        assert client.get("/history", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_approvers_get_an_address_for_notifications(config: Path) -> None:
    code, out, _ = run(config, "users", "add", "paul", "--role", "approver", "--email", "Paul@Ministere.example.org",
                       "--password-stdin", stdin=PASSPHRASE)
    assert code == 0, out
    with Store.open(load_config(config).database_url()) as store:
        assert store.users.get_user("paul").email == "paul@ministere.example.org"
    code, out, _ = run(config, "users", "email", "paul", "valideur@ministere.example.org")
    assert code == 0 and "notifications go to valideur@ministere.example.org" in out
    code, _, err = run(config, "users", "email", "paul", "pas une adresse")
    assert code == 1 and "'pas une adresse' is not a valid address" in err
    code, out, _ = run(config, "users", "email", "paul", "")
    assert code == 0 and "no notifications" in out
    with Store.open(load_config(config).database_url()) as store:
        assert store.users.get_user("paul").email is None
