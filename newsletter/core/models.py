"""Domain dataclasses shared by every stage of the pipeline.

Sources yield `RawDocument`s, extraction turns them into `Announcement`s, composers build
`Digest`s and `Post`s from those, and publishers record each send as a `Delivery`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from newsletter.core.keys import post_key


@dataclass(frozen=True)
class RawDocument:
    """One document as a source found it, before extraction.

    `identity` is the source's stable key for the document (front-matter id, canonical URL,
    feed guid or path); `metadata` carries what the source knows for sure (title, date,
    tags, lang, url, publish_at, draft) and wins over what extraction guesses; `whole_page`
    marks a fetched web page whose article extraction must find first.
    """

    source: str
    identity: str
    content: str | bytes
    content_type: str = "text/plain"
    url: str | None = None
    path: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    whole_page: bool = False


SURE = 0.7  # a quote or figure scored below this is one a person should check
CHECK_NO_QUOTE = "no_quote"
CHECK_SPEAKER = "ambiguous_speaker"
CHECK_FIGURE = "figure_without_phrase"


@dataclass
class Quote:
    """A passage someone said, without its quotation marks; `score` (0-1) is how sure the
    speaker is (1 when named next to it, lower when resolved from a pronoun or role, 0.5 when
    nobody is said to speak)."""

    text: str
    speaker: str | None = None
    role: str | None = None
    score: float = 1.0


@dataclass
class Figure:
    """A numeric statistic as written (`raw`) and normalised (`value`, `unit`, `kind`);
    `score` (0-1) is how sure its meaning is (lower without an `about` phrase)."""

    raw: str
    value: float
    value_max: float | None = None
    unit: str | None = None
    kind: str = "count"
    qualifier: str | None = None
    about: str | None = None
    sentence: str = ""
    score: float = 1.0


@dataclass
class Announcement:
    """A clean, structured announcement: what digests and posts are built from."""

    identity: str
    source: str
    title: str
    body: str = ""
    url: str | None = None
    published: date | None = None
    language: str = "fr"
    lede: str = ""
    tags: list[str] = field(default_factory=list)
    acronyms: dict[str, str] = field(default_factory=dict)
    quotes: list[Quote] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    key_quote: int | None = None
    key_figures: list[int] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    content_hash: str = ""
    id: str = ""

    @property
    def main_quote(self) -> Quote | None:
        """The ranked key quote, if any."""
        return self.quotes[self.key_quote] if self.key_quote is not None else None

    @property
    def main_figures(self) -> list[Figure]:
        """The key figures, best first."""
        return [self.figures[i] for i in self.key_figures]

    @property
    def checks(self) -> list[str]:
        """Why a person should check this extraction: `no_quote`, `ambiguous_speaker` (a quote
        whose speaker is unsure), `figure_without_phrase` (a key figure scored unsure)."""
        reasons = []
        if not self.quotes:
            reasons.append(CHECK_NO_QUOTE)
        elif any(q.score < SURE for q in ([self.main_quote] if self.main_quote else self.quotes)):
            reasons.append(CHECK_SPEAKER)
        if any(f.score < SURE for f in self.main_figures or self.figures):
            reasons.append(CHECK_FIGURE)
        return reasons

    @property
    def needs_check(self) -> bool:
        """Whether the extraction is weak enough that a person should look before it goes out."""
        return bool(self.checks)

    def extracted(self) -> dict[str, Any]:
        """The extracted part as plain JSON-ready data, for storage."""
        return {
            "tags": self.tags,
            "acronyms": self.acronyms,
            "quotes": [asdict(q) for q in self.quotes],
            "figures": [asdict(f) for f in self.figures],
            "key_quote": self.key_quote,
            "key_figures": self.key_figures,
            "warnings": self.warnings,
        }


@dataclass
class DigestEdits:
    """A person's changes to one digest issue, kept through every re-render: a subject and an
    intro typed in the digest editor (plain text, never a template); None keeps the config's."""

    subject: str | None = None
    intro: str | None = None

    def to_json(self) -> dict[str, str]:
        """The edits as stored (only those made)."""
        return {k: v for k, v in (("subject", self.subject), ("intro", self.intro)) if v is not None}

    @classmethod
    def from_json(cls, data: dict[str, str] | None) -> DigestEdits:
        """Edits read back from the store (none when the column is empty)."""
        data = data or {}
        return cls(subject=data.get("subject"), intro=data.get("intro"))


@dataclass
class Digest:
    """One frozen digest issue: its announcements and the compiled parts with placeholders."""

    name: str
    issue_id: str
    subject: str
    list_name: str
    announcement_ids: list[str]
    html: str
    text: str
    preheader: str = ""
    scheduled_for: datetime | None = None
    edits: DigestEdits = field(default_factory=DigestEdits)
    tracked_links: list[tuple[str, str]] = field(default_factory=list)  # (token, url) with tracking.clicks


@dataclass
class Media:
    """An image attached to a post."""

    path: str
    alt_text: str
    mime_type: str = "image/png"


@dataclass
class Post:
    """One social post (or thread) for one channel, fitted to the platform's length rule;
    `language` (the announcement's, an ISO 639-1 code) is passed to services that tag posts."""

    channel: str
    platform: str
    announcement_id: str
    variant: str
    text: str
    length: int
    limit: int
    thread: list[str] = field(default_factory=list)
    media: list[Media] = field(default_factory=list)
    slot: datetime | None = None
    language: str = "fr"

    @property
    def idempotency_key(self) -> str:
        """The ledger key: one post per announcement, variant and channel."""
        return post_key(self.announcement_id, self.variant, self.channel)


POSTS_PER_SLOT = 1  # posts a channel publishes at each of its slots, unless a run says more


class DeliveryStatus(StrEnum):
    """Where a ledger row stands; only `sent` means the provider accepted it."""

    PENDING = "pending"
    AWAITING_APPROVAL = "awaiting_approval"
    CLAIMED = "claimed"
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"
    UNCERTAIN = "uncertain"
    DELETED = "deleted"


@dataclass
class Delivery:
    """One ledger row: one message to one recipient, or one post to one channel."""

    key: str
    kind: str
    target: str
    status: DeliveryStatus = DeliveryStatus.PENDING
    attempts: int = 0
    provider_id: str | None = None
    provider_url: str | None = None
    error: str | None = None
    next_attempt_at: datetime | None = None
    issue_id: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)


QUEUED_STATUSES = (DeliveryStatus.PENDING, DeliveryStatus.AWAITING_APPROVAL)


def post_to_payload(post: Post) -> dict[str, Any]:
    """A post as the JSON stored in its ledger row."""
    payload = asdict(post)
    payload.pop("slot", None)
    return payload


def post_from_payload(payload: dict[str, Any]) -> Post:
    """The post stored in a ledger row."""
    data = dict(payload)
    data["media"] = [Media(**m) for m in data.get("media", [])]
    data["thread"] = list(data.get("thread", []))
    return Post(**data)


class AnnouncementStatus(StrEnum):
    """Whether a stored announcement may be used."""

    ACTIVE = "active"
    WITHDRAWN = "withdrawn"
    DRAFT = "draft"


class DigestIssueStatus(StrEnum):
    """Where a digest issue stands."""

    AWAITING_APPROVAL = "awaiting_approval"
    APPROVED = "approved"
    SENDING = "sending"
    PAUSED = "paused"
    SENT = "sent"
    SKIPPED = "skipped"


class DeliveryKind(StrEnum):
    """What a ledger row delivers; decides what crash recovery may retry."""

    EMAIL = "email"
    POST = "post"
    CONFIRMATION = "confirmation"
    NOTIFICATION = "notification"


class RequestKind(StrEnum):
    """What a public request counter counts: requests about one address, or from one client."""

    ADDRESS = "address"
    CLIENT = "client"


class RunOutcome(StrEnum):
    """How a job run ended (`running` until it does)."""

    RUNNING = "running"
    OK = "ok"
    FAILED = "failed"
    SKIPPED = "skipped"
    MISSED = "missed"
    INTERRUPTED = "interrupted"


class SubscriberStatus(StrEnum):
    """Whether a subscriber may be mailed."""

    ACTIVE = "active"
    UNSUBSCRIBED = "unsubscribed"
    BOUNCED = "bounced"
    COMPLAINED = "complained"


class BounceKind(StrEnum):
    """What a bounce or feedback event says about an address."""

    HARD = "hard"  # permanent failure (5.x.x, SES Permanent, Brevo hard_bounce)
    SOFT = "soft"  # temporary failure (4.x.x, SES Transient, Brevo soft_bounce)
    COMPLAINT = "complaint"  # the recipient reported the message as spam (ARF, SES, Brevo spam)
    UNSUBSCRIBE = "unsubscribe"  # the provider's own unsubscribe link (Brevo unsubscribed)


@dataclass(frozen=True)
class BounceEvent:
    """One bounce, complaint or unsubscribe reported about one recipient, from a DSN in the
    bounce mailbox (`imap`) or a provider's webhook (`ses`, `brevo`). `event_id` is unique per
    report, so the same DSN or webhook delivered twice is applied once."""

    event_id: str
    source: str
    kind: BounceKind
    recipient: str
    diagnostic: str = ""
    occurred_at: datetime | None = None
