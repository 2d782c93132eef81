"""Simulated process deaths for in-process tests of crash recovery."""

from __future__ import annotations

from newsletter.store import Store


def process_died(store: Store) -> None:
    """What the store's process dying looks like to the others: its claim owner is gone (as if
    its heartbeat had stopped long ago), so its claims are orphans; later claims get a new owner."""
    store.claim_owner.close()
