"""Per-source state: HTTP validators (ETag, Last-Modified), first contact and failure tracking."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select, update

from newsletter.store.db import insert_ignoring_conflicts
from newsletter.store.tables import source_state

SOURCE_STATE_FIELDS = frozenset(c.name for c in source_state.columns) - {"source"}


class SourceStateQueries:
    """`store.source_states`: what each source last answered (validators, failures)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def get_source_state(self, name: str) -> dict[str, Any] | None:
        """The stored state of source `name` (every column but `source`), or None."""
        with self.engine.connect() as conn:
            row = conn.execute(select(source_state).where(source_state.c.source == name)).first()
        if row is None:
            return None
        return {key: value for key, value in row._mapping.items() if key != "source"}

    def save_source_state(self, name: str, **fields: Any) -> None:
        """Set the given fields of source `name`'s state (creating it); others are kept."""
        unknown = set(fields) - SOURCE_STATE_FIELDS
        if unknown:
            raise ValueError(
                f"unknown source state field(s) {', '.join(sorted(unknown))}; "
                f"known: {', '.join(sorted(SOURCE_STATE_FIELDS))}"
            )
        with self.engine.begin() as conn:
            conn.execute(insert_ignoring_conflicts(conn, source_state).values(source=name))
            if fields:
                conn.execute(update(source_state).where(source_state.c.source == name).values(**fields))
