"""The Source seam: every source kind yields RawDocuments for extraction."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import ClassVar, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt

from newsletter.core.models import RawDocument
from newsletter.core.schedules import ScheduleSpec


class SourceConfig(BaseModel):
    """Settings every source has; each kind extends it with its own keys."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    type: str
    schedule: ScheduleSpec | None = None
    backfill: NonNegativeInt = 0
    announce_updates: bool = False
    tags: list[str] = Field(default_factory=list)
    language: Literal["fr", "en"] | None = None


@dataclass
class FetchState:
    """What a fetch reads from and leaves for the next run: HTTP validators, item failures.

    `complete` sources (a folder) list everything they hold, so a stored document missing from
    a complete fetch was removed; `not_modified` means the source answered 304 or served the very
    body it served last time (`fingerprint`, a hash of it). Each failure is (key, reason) where
    key is the item's identity or file path; each skip is (key, reason) for an item that holds
    nothing to announce (an empty or binary file).
    """

    etag: str | None = None
    last_modified: str | None = None
    fingerprint: str | None = None
    not_modified: bool = False
    failures: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


class Source(Protocol):
    """A place announcements are published; `fetch` yields what is there now."""

    type_name: ClassVar[str]
    Config: ClassVar[type[SourceConfig]]
    complete: ClassVar[bool]

    def fetch(self, state: FetchState) -> Iterator[RawDocument]:
        """Yield every document the source currently holds; item failures go to `state`."""
        ...

    def describe(self) -> str:
        """One line describing the source's settings, secrets redacted."""
        ...
