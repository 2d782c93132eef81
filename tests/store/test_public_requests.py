"""Public request counters: one atomic count per request, a window that starts afresh once over,
the same on SQLite and PostgreSQL, and old windows pruned."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from newsletter.core.models import RequestKind
from newsletter.store import Store

NOW = datetime(2025, 3, 21, 10, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=10)


def test_counts_grow_within_a_window_and_restart_after_it(store: Store) -> None:
    counts = store.public_requests
    first = counts.count_request(RequestKind.CLIENT, "a" * 64, NOW, WINDOW)
    assert (first.count, first.resets_at) == (1, NOW + WINDOW)
    later = counts.count_request(RequestKind.CLIENT, "a" * 64, NOW + timedelta(minutes=9), WINDOW)
    assert (later.count, later.resets_at) == (2, NOW + WINDOW)
    assert counts.count_request(RequestKind.ADDRESS, "a" * 64, NOW, WINDOW).count == 1  # kinds apart
    fresh = counts.count_request(RequestKind.CLIENT, "a" * 64, NOW + WINDOW, WINDOW)
    assert (fresh.count, fresh.resets_at) == (1, NOW + 2 * WINDOW)


def test_old_windows_are_forgotten(store: Store) -> None:
    counts = store.public_requests
    counts.count_request(RequestKind.CLIENT, "old", NOW, WINDOW)
    counts.count_request(RequestKind.CLIENT, "new", NOW + timedelta(hours=1), WINDOW)
    assert counts.forget_before(NOW + timedelta(minutes=30)) == 1
    assert counts.count_request(RequestKind.CLIENT, "old", NOW + timedelta(hours=1), WINDOW).count == 1
    assert counts.count_request(RequestKind.CLIENT, "new", NOW + timedelta(hours=1), WINDOW).count == 2
