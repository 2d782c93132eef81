"""The runner's own `GET /health` (`newsletter run --health-port`), for container health checks.

It answers what the review app's `/health` answers (`collect_health`): 200 with `{"ok": true}`
when a runner holds the lease and no job's last run failed, 503 with the problems otherwise.
It listens on loopback by default and serves nothing else.
"""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from newsletter.config import Config
from newsletter.runtime.status import collect_health
from newsletter.store import Store, utcnow

log = logging.getLogger(__name__)


class HealthListener:
    """A background HTTP listener answering `GET /health` from the store."""

    def __init__(self, config: Config, store: Store, port: int, host: str = "127.0.0.1"):
        self.server = ThreadingHTTPServer((host, port), _handler(config, store))
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name="health", daemon=True)

    @property
    def port(self) -> int:
        """The port actually bound (useful when asked for port 0)."""
        return int(self.server.server_address[1])

    def __enter__(self) -> HealthListener:
        self.thread.start()
        log.info("health check listening on http://%s:%d/health", *self.server.server_address[:2])
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def _handler(config: Config, store: Store) -> type[BaseHTTPRequestHandler]:
    class HealthHandler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?", 1)[0] != "/health":
                self._reply(404, {"ok": False, "problems": ["only /health is served here"]})
                return
            try:
                data = collect_health(config, store, utcnow())
            except Exception as error:
                data = {"ok": False, "problems": [f"cannot read the store: {error}"]}
            self._reply(200 if data["ok"] else 503, {key: data.get(key) for key in ("ok", "problems", "runner")})

        def _reply(self, status: int, body: dict[str, Any]) -> None:
            payload = json.dumps(body, ensure_ascii=False).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("health: " + format, *args)

    return HealthHandler
