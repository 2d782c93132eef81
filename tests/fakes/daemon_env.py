"""The daemon's test environment: a config writer, a store with announcements and subscribers,
and a webhook receiver on loopback that records the alerts it gets."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from newsletter.config import Config, load_config
from newsletter.store import Store
from tests.fakes.smtp import TEST_SECRET_ENV, sample_announcements


@dataclass
class WebhookReceiver:
    """A loopback HTTP endpoint recording each JSON body POSTed to it."""

    url: str = ""
    received: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def kinds(self) -> list[str]:
        """The `kind` of each alert received, in order."""
        with self.lock:
            return [alert["kind"] for alert in self.received]


def _webhook_handler(receiver: WebhookReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            with receiver.lock:
                receiver.received.append(json.loads(body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

    return Handler


@pytest.fixture
def webhook() -> Iterator[WebhookReceiver]:
    """A webhook receiver on 127.0.0.1 for the duration of a test."""
    receiver = WebhookReceiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _webhook_handler(receiver))
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/alerts"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


def write_daemon_config(folder: Path, *, smtp_port: int = 2525, digest_schedule: Any = "0 9 * * MON",
                        **sections: Any) -> Path:
    """A config file for daemon tests: digest `hebdo` to list `main` through SMTP on loopback;
    `sections` add or replace top-level keys (sources, channels, alerts, scheduler, smtp...)."""
    data: dict[str, Any] = {
        "public_base_url": "https://news.example.org",
        "data_dir": "data",
        "outbox_dir": "outbox",
        "smtp": {"host": "127.0.0.1", "port": smtp_port, "timeout": 2, "connections": 2, "max_attempts": 3},
        "unsubscribe": {"secret_env": TEST_SECRET_ENV},
        "digests": [{"name": "hebdo", "schedule": digest_schedule, "list": "main",
                     "from_address": "lettre@example.org"}],
        "scheduler": {"misfire_grace_seconds": 3600, "lease_ttl_seconds": 1, "stop_timeout_seconds": 10},
        **sections,
    }
    path = folder / "newsletter.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def open_config_store(path: Path) -> tuple[Config, Store]:
    """The config at `path` and its (created) SQLite store."""
    config = load_config(path)
    return config, Store.open(config.database_url(), create=True)


def seed_announcements(store: Store, now: datetime, count: int = 2) -> None:
    """`count` announced announcements, first seen at `now`."""
    for announcement in sample_announcements(count):
        store.announcements.upsert_announcement(announcement, announce=True, now=now)
