"""Tracked links (`tracking.clicks`): each link of an issue recorded once under its token, and
the clicks counted on it (per issue and link, never per reader)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select, update
from sqlalchemy.engine import Connection

from newsletter.store.db import insert_ignoring_conflicts
from newsletter.store.tables import tracked_links


@dataclass(frozen=True)
class LinkClicks:
    """One link of an issue and how often it was followed."""

    url: str
    clicks: int


def insert_links(conn: Connection, issue_id: str, links: Iterable[tuple[str, str]], now: datetime) -> None:
    """Record the issue's (token, url) links in their order in the issue; known tokens are kept."""
    rows = [{"token": token, "issue_id": issue_id, "url": url, "position": position, "clicks": 0,
             "created_at": now} for position, (token, url) in enumerate(links)]
    if rows:
        conn.execute(insert_ignoring_conflicts(conn, tracked_links), rows)


class ClickQueries:
    """`store.clicks`: recording an issue's links and counting clicks on them."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def record_links(self, issue_id: str, links: Iterable[tuple[str, str]], now: datetime) -> None:
        """Record the issue's (token, url) links in their order in the issue; known tokens are kept."""
        with self.engine.begin() as conn:
            insert_links(conn, issue_id, links, now)

    def follow(self, token: str, now: datetime) -> str | None:
        """Count one click on the link and return where it leads; None for an unknown token."""
        t = tracked_links
        with self.engine.begin() as conn:
            found = conn.execute(
                update(t).where(t.c.token == token).values(clicks=t.c.clicks + 1, last_click_at=now)
            ).rowcount
            return conn.scalar(select(t.c.url).where(t.c.token == token)) if found else None

    def clicks_of(self, issue_id: str) -> list[LinkClicks]:
        """The issue's links in their order in the issue, with their clicks."""
        t = tracked_links
        query = select(t.c.url, t.c.clicks).where(t.c.issue_id == issue_id).order_by(t.c.position, t.c.token)
        with self.engine.connect() as conn:
            return [LinkClicks(row.url, row.clicks) for row in conn.execute(query)]
