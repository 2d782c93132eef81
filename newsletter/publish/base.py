"""The Publisher seam: one module per service, chosen by a channel's `type:`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, PositiveInt

from newsletter.core.models import Announcement, Post
from newsletter.core.schedules import ScheduleSpec

Variant = Literal["quote", "figure", "link"]
ApprovalRule = bool | Literal["when_unsure"]


class ChannelConfig(BaseModel):
    """Settings every social channel has; each service extends it with its own keys."""

    model_config = ConfigDict(extra="forbid")
    platform: ClassVar[str]  # whose length rule and post shape the channel follows

    name: str = Field(min_length=1)
    type: str
    account: str = ""
    slots: list[ScheduleSpec] = Field(default_factory=list)
    template: str | None = None
    hashtags: list[str] = Field(default_factory=list)
    variants: list[Variant] = Field(default_factory=lambda: ["quote"])
    require_approval: ApprovalRule = False
    thread: bool = True  # a post too long for one part becomes a thread (compose/social.py)
    card: bool = True
    limit: PositiveInt | None = None

    def holds(self, announcement: Announcement | None) -> bool:
        """Whether a post of `announcement` waits for a person: always, never, or (`when_unsure`)
        only when its extraction is weak (or the announcement is gone)."""
        if self.require_approval == "when_unsure":
            return announcement is None or announcement.needs_check
        return bool(self.require_approval)


@dataclass(frozen=True)
class Published:
    """What a service returned for an accepted post."""

    provider_id: str
    url: str | None = None


PartAccepted = Callable[[Published], None]


class Publisher(Protocol):
    """Sends a post to one service; the ledger decides whether it should.

    A thread is sent part by part: `done` holds the provider ids of the parts already accepted
    (the publisher resumes after them, never re-sending one), `on_part` is called as soon as
    each further part is accepted, and with `verify` the publisher first checks the service
    for the next part (an earlier attempt may have created it) instead of creating it blindly.
    """

    type_name: ClassVar[str]
    platform: ClassVar[str]
    Config: ClassVar[type[ChannelConfig]]

    def publish(self, post: Post, *, idempotency_key: str, done: Sequence[str] = (),
                on_part: PartAccepted | None = None, verify: bool = False) -> Published:
        """Send `post` (the parts of its thread after `done`, media on the first part);
        raise PublishError on failure. Returns the ids of every part, comma-joined."""
        ...

    def delete(self, provider_id: str) -> None:
        """Retract the published post (or thread part) with this provider id; raise PublishError on failure."""
        ...

    def describe(self) -> str:
        """One line describing the channel's settings, secrets redacted."""
        ...
