"""Pagination shared by the review pages: the page asked for in `?page=`, and links to the others
that keep the rest of the query string (search, filters)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from urllib.parse import urlencode

from starlette.requests import Request

PAGE_PARAM = "page"


@dataclass(frozen=True)
class Pagination:
    """Page `number` (from 1) of `size` rows out of `total`, and how to link to the others."""

    number: int
    size: int
    total: int
    path: str
    query: tuple[tuple[str, str], ...] = ()
    param: str = PAGE_PARAM
    anchor: str = ""  # the part of the page the links go back to (a section's id)

    @property
    def offset(self) -> int:
        """How many rows come before this page."""
        return (self.number - 1) * self.size

    @property
    def pages(self) -> int:
        """How many pages there are (at least one, even when empty)."""
        return max(1, -(-self.total // self.size))

    @property
    def previous(self) -> str | None:
        """The link to the page before, if any."""
        return self.link(self.number - 1) if self.number > 1 else None

    @property
    def next(self) -> str | None:
        """The link to the page after, if any."""
        return self.link(self.number + 1) if self.number < self.pages else None

    def link(self, number: int) -> str:
        """The link to page `number`, with the same search and filters."""
        fragment = f"#{self.anchor}" if self.anchor else ""
        return f"{self.path}?{urlencode([*self.query, (self.param, str(number))])}{fragment}"

    def with_total(self, total: int) -> Pagination:
        """The same page once the total is known."""
        return replace(self, total=total)

    def within(self, total: int) -> Pagination:
        """The page once the total is known, the last one when fewer pages than asked (for rows
        counted before being sliced)."""
        known = replace(self, total=total)
        return replace(known, number=min(self.number, known.pages))


def requested_page(request: Request, size: int, param: str = PAGE_PARAM, anchor: str = "") -> Pagination:
    """The page the query string's `param` asks for (1 when absent or malformed); its total is
    filled in later. Links keep the rest of the query string (filters, other sections' pages)."""
    try:
        number = max(1, int(request.query_params.get(param, "1")))
    except ValueError:
        number = 1
    query = tuple((k, v) for k, v in request.query_params.multi_items() if k != param and v)
    return Pagination(number, size, 0, request.url.path, query, param, anchor)
