"""An in-memory sliding-window counter per client, for the sign-in form: a client that failed
too often in the window waits (HTTP 429) until its oldest failure leaves the window."""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from datetime import datetime, timedelta

MAX_CLIENTS = 10_000


class SlidingWindow:
    """At most `limit` events per key in any `window`; the least recently seen keys are forgotten
    beyond `MAX_CLIENTS` so memory stays bounded."""

    def __init__(self, limit: int, window: timedelta):
        self.limit = limit
        self.window = window
        self._events: OrderedDict[str, deque[datetime]] = OrderedDict()
        self._lock = threading.Lock()

    def _recent(self, key: str, now: datetime) -> deque[datetime]:
        events = self._events.setdefault(key, deque())
        self._events.move_to_end(key)
        while events and events[0] <= now - self.window:
            events.popleft()
        while len(self._events) > MAX_CLIENTS:
            self._events.popitem(last=False)
        return events

    def wait(self, key: str, now: datetime) -> float:
        """Seconds `key` must wait before its next attempt (0 when it may try now)."""
        with self._lock:
            events = self._recent(key, now)
            if len(events) < self.limit:
                return 0.0
            return max(1.0, (events[0] + self.window - now).total_seconds())

    def record(self, key: str, now: datetime) -> None:
        """Count one event (a failed attempt) for `key`."""
        with self._lock:
            self._recent(key, now).append(now)
