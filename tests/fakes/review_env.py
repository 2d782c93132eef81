"""A review web app over a real SQLite store, real composed posts and a real SMTP server.

`review_env` gives a config (digest `hebdo` to list `main`, an X channel that requires
approval and a Mastodon channel that does not), a store seeded with announcements (one with
hostile HTML/JS in every text field) and queued posts, and a Starlette TestClient.
"""

from __future__ import annotations

import re
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import uvicorn
import yaml
from sqlalchemy import text
from starlette.testclient import TestClient

from newsletter.config import Config, load_config
from newsletter.core.models import Announcement, Figure, Quote
from newsletter.core.roles import Role
from newsletter.pipeline.accounts import add_user
from newsletter.pipeline.posting import queue_posts
from newsletter.store import Store
from newsletter.web.app import create_app
from tests.fakes.smtp import TEST_SECRET, TEST_SECRET_ENV, SmtpServer, free_port

NOW = datetime(2025, 3, 21, 10, 0, tzinfo=UTC)  # a Friday; the digest goes on Mondays at 9:00
HOSTILE = '<script>alert("xss")</script><img src=x onerror=alert(1)>'
SESSION_SECRET_ENV = "NEWSLETTER_SESSION_SECRET"
TEST_SESSION_SECRET = "session-key-for-the-review-tests-0123456789"
PASSWORD = "correct horse battery staple"
USERS = {"alice": Role.ADMIN, "paul": Role.APPROVER, "edith": Role.EDITOR}  # each with PASSWORD
SESSION_COOKIE = "newsletter_session"
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def announcements() -> list[Announcement]:
    """Two announcements with quotes and figures, and one whose every text carries HTML/JS."""
    return [
        Announcement(
            identity="apprentissage", source="communiques", id="apprentissage",
            title="Apprentissage : près de 900 000 contrats signés en 2024",
            url="https://ministere.example.org/communiques/apprentissage", published=date(2025, 3, 20),
            lede="Le nombre de contrats d'apprentissage a atteint un niveau record.",
            quotes=[
                Quote("L'apprentissage est devenu une voie d'excellence pour notre jeunesse", "Astrid Martin",
                      "ministre du Travail"),
                Quote("Nous continuerons à soutenir les entreprises qui forment", "Astrid Martin", "ministre"),
            ],
            figures=[
                Figure("près de 900 000", 900000, qualifier="près de", about="contrats signés"),
                Figure("7,4 %", 7.4, kind="percent", about="de hausse en un an"),
            ],
            key_quote=0, key_figures=[0, 1], content_hash="h1",
        ),
        Announcement(
            identity="emploi", source="agenda", id="emploi-jeunes",
            title="Emploi des jeunes : un nouveau plan", url="https://ministere.example.org/agenda/emploi",
            published=date(2025, 3, 10), lede="Un plan pour l'emploi des jeunes.",
            quotes=[Quote("Chaque jeune doit avoir une solution", "Paul Durand", "secrétaire d'État")],
            key_quote=0, content_hash="h2",
        ),
        Announcement(
            identity="hostile", source="communiques", id="hostile",
            title=f"Annonce {HOSTILE}", url="javascript:alert(1)", published=date(2025, 3, 19),
            lede=f"Chapeau {HOSTILE}",
            quotes=[Quote(f"Citation {HOSTILE}", f"Orateur {HOSTILE}", "rôle")],
            figures=[Figure("12 000", 12000, about=f"postes {HOSTILE}")],
            key_quote=0, key_figures=[0], content_hash="h3",
        ),
    ]


def write_config(folder: Path, smtp: SmtpServer | None, **extra: Any) -> Path:
    """The review test config (SQLite and data under `folder`)."""
    data: dict[str, Any] = {
        "public_base_url": "http://127.0.0.1:8080",
        "data_dir": "data",
        "outbox_dir": "outbox",
        "branding": {"organisation": "Ministère des Essais", "name": "La lettre des essais"},
        "smtp": {"host": "127.0.0.1", "port": smtp.port if smtp else 2525, "timeout": 5},
        "unsubscribe": {"secret_env": TEST_SECRET_ENV},
        "digests": [{"name": "hebdo", "schedule": "0 9 * * MON", "list": "main",
                     "from_address": "lettre@example.org"}],
        "channels": [
            {"name": "x-main", "type": "x", "account": "@ministere", "require_approval": True,
             "variants": ["quote"], "slots": ["0 10 * * MON-FRI"]},
            {"name": "masto", "type": "mastodon", "account": "@ministere@social.example",
             "base_url": "http://127.0.0.1:9", "variants": ["quote"], "slots": ["0 12 * * *"]},
        ],
        **extra,
    }
    path = folder / "newsletter.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


@dataclass
class ReviewEnv:
    """A seeded store, its config and a client of the review app."""

    config: Config
    store: Store
    client: TestClient
    smtp: SmtpServer
    folder: Path
    admin_cookie: str

    def csrf(self, path: str = "/upcoming") -> str:
        """The CSRF token of the client's session, read from a page's form."""
        found = CSRF_FIELD.search(self.client.get(path).text)
        assert found, f"no CSRF field on {path}"
        return found.group(1)

    def post(self, path: str, data: dict[str, str], **kwargs: Any) -> Any:
        """Post a form with the session's CSRF token, not following the redirect."""
        return self.client.post(path, data={"csrf_token": self.csrf(), **data}, follow_redirects=False, **kwargs)

    def admin_client(self, config: Config | None = None, **kwargs: Any) -> TestClient:
        """A new client of an app over this store (or `config`), signed in as `alice` (admin)."""
        client = app_client(config or self.config, **kwargs)
        client.cookies.set(SESSION_COOKIE, self.admin_cookie)
        return client

    def client_as(self, name: str | None, **kwargs: Any) -> TestClient:
        """A new client of the app over this store, signed in through the form as `name` (None: not signed in)."""
        client = app_client(self.config, **kwargs)
        if name is not None:
            sign_in(client, name)
        return client


def sign_in(client: TestClient, name: str, password: str = PASSWORD) -> Any:
    """Sign in through the login form as a person would; returns the form's response."""
    found = CSRF_FIELD.search(client.get("/login").text)
    assert found, "no CSRF field on /login"
    return client.post("/login", data={"csrf_token": found.group(1), "name": name, "password": password},
                       follow_redirects=False)


def form_post(client: TestClient, path: str, data: dict[str, str], page: str = "/upcoming") -> Any:
    """Post a form from `client` with its session's CSRF token (read from `page`), not following redirects."""
    found = CSRF_FIELD.search(client.get(page).text)
    assert found, f"no CSRF field on {page}"
    return client.post(path, data={"csrf_token": found.group(1), **data}, follow_redirects=False)


def seed(config: Config, store: Store) -> None:
    """Store the announcements as first seen a day before NOW, subscribers, the review users, and
    queue the posts."""
    for name, role in USERS.items():
        add_user(store, name, PASSWORD, role, NOW - timedelta(days=30))
    for announcement in announcements():
        store.announcements.upsert_announcement(announcement, announce=True, now=NOW - timedelta(days=1))
    store.subscribers.add_subscriber("ana@example.org", name="Ana", lists=["main"], consent_source="test")
    store.subscribers.add_subscriber("bob@example.org", lists=["main"], consent_source="test")
    queue_posts(config, store, NOW)


def app_client(config: Config, *, now: datetime = NOW, base_url: str = "http://127.0.0.1:8080",
               client_address: str = "testclient") -> TestClient:
    """A client of a new app over the config's store, with its own clock (not signed in)."""
    app = create_app(config, lambda: Store.open(config.database_url()), clock=lambda: now)
    return TestClient(app, base_url=base_url, client=(client_address, 50000))


@pytest.fixture(scope="session")
def admin_cookie(seeded_data: Path) -> str:
    """A session cookie of `alice` (admin) signed with the test session key, from one real sign-in:
    each test's client starts signed in without paying argon2 again."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(SESSION_SECRET_ENV, TEST_SESSION_SECRET)
        config = load_config(seeded_data / "newsletter.yaml")
        with app_client(config) as client:
            assert sign_in(client, "alice").status_code == 303
            cookie = client.cookies.get(SESSION_COOKIE)
    assert cookie
    return cookie


@pytest.fixture(scope="session")
def seeded_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder whose data/ holds the seeded database and drawn cards (built once: cards are slow)."""
    folder = tmp_path_factory.mktemp("review-seed")
    config = load_config(write_config(folder, None))
    with Store.open(config.database_url(), create=True) as store:
        seed(config, store)
    return folder


@pytest.fixture
def review_env(
    tmp_path: Path, seeded_data: Path, smtp_server: SmtpServer, admin_cookie: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ReviewEnv]:
    """A review app on loopback whose client is signed in as `alice` (admin), its own copy of the
    seeded store, and the SMTP server."""
    monkeypatch.setenv(TEST_SECRET_ENV, TEST_SECRET)
    monkeypatch.setenv(SESSION_SECRET_ENV, TEST_SESSION_SECRET)
    shutil.copytree(seeded_data / "data", tmp_path / "data")
    config = load_config(write_config(tmp_path, smtp_server))
    store = Store.open(config.database_url())
    with store.engine.begin() as conn:  # card paths in the queued posts point into this copy
        conn.execute(text("UPDATE deliveries SET payload = replace(payload, :seed, :copy)"),
                     {"seed": str(seeded_data), "copy": str(tmp_path)})
    with app_client(config) as client:
        client.cookies.set(SESSION_COOKIE, admin_cookie)
        yield ReviewEnv(config, store, client, smtp_server, tmp_path, admin_cookie)
    store.close()


@contextmanager
def serve_app(config: Config) -> Iterator[str]:
    """The review app for `config` on a real uvicorn server on 127.0.0.1 (a free port), in a thread."""
    app = create_app(config, lambda: Store.open(config.database_url()), clock=lambda: NOW)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning"))
    thread = threading.Thread(target=server.run, name="review-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{server.config.port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def served(review_env: ReviewEnv) -> Iterator[str]:
    """The review app on a real uvicorn server on 127.0.0.1 (a free port), in a thread."""
    with serve_app(review_env.config) as url:
        yield url
