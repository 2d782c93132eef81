"""Table definitions of the state store (SQLAlchemy Core), mirrored by the Alembic migrations.

`tests/test_migrations.py` compares this metadata with the migrated schema, so a change here
needs a migration in `migrations/versions/`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    """The current time as an aware UTC datetime."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """An aware datetime stored in UTC; naive values are refused rather than guessed."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Convert to UTC (naive UTC for SQLite, which has no time zone type)."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value.isoformat()} given to the store; use UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        """Return an aware UTC datetime whatever the backend gave back."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


announcements = Table(
    "announcements",
    metadata,
    Column("id", String(200), primary_key=True),
    Column("source", String(100), nullable=False),
    Column("identity", String(1000), nullable=False),
    Column("url", Text),
    Column("title", Text, nullable=False),
    Column("published", Date),
    Column("language", String(16), nullable=False),
    Column("lede", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("extracted", JSON, nullable=False),
    Column("content_hash", String(128), nullable=False),
    Column("first_seen", UTCDateTime, nullable=False),
    Column("updated", UTCDateTime, nullable=False),
    Column("announce", Boolean, nullable=False),
    Column("status", String(20), nullable=False),
    Column("publish_at", UTCDateTime),
    Column("announced_at", UTCDateTime),
    Column("revision", Integer, nullable=False),
    Index("ix_announcements_source_content_hash", "source", "content_hash"),
    Index("ix_announcements_first_seen", "first_seen"),
    Index("ix_announcements_announced_at", "announced_at"),
)

source_state = Table(
    "source_state",
    metadata,
    Column("source", String(100), primary_key=True),
    Column("etag", Text),
    Column("last_modified", Text),
    Column("first_contact_at", UTCDateTime),
    Column("last_success_at", UTCDateTime),
    Column("last_error", Text),
    Column("failing_since", UTCDateTime),
    Column("data", JSON),
)

subscribers = Table(
    "subscribers",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("email", String(320), nullable=False, unique=True),
    Column("name", Text),
    Column("locale", String(16)),
    Column("status", String(20), nullable=False),
    Column("consent_source", Text),
    Column("consent_at", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

lists = Table(
    "lists",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("description", Text),
)

list_members = Table(
    "list_members",
    metadata,
    Column(
        "subscriber_id",
        Integer,
        ForeignKey("subscribers.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column(
        "list_name",
        String(100),
        ForeignKey("lists.name", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("added_at", UTCDateTime),
    Index("ix_list_members_list_name", "list_name"),
)

list_opt_outs = Table(
    "list_opt_outs",
    metadata,
    Column(
        "subscriber_id",
        Integer,
        ForeignKey("subscribers.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("list_name", String(100), primary_key=True),
    Column("created_at", UTCDateTime, nullable=False),
)

suppressions = Table(
    "suppressions",
    metadata,
    Column("email_hash", String(64), primary_key=True),
    Column("reason", String(50), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

digest_issues = Table(
    "digest_issues",
    metadata,
    Column("id", String(200), primary_key=True),
    Column("digest", String(100), nullable=False),
    Column("list_name", String(100), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("scheduled_for", UTCDateTime),
    Column("subject", Text, nullable=False),
    Column("preheader", Text, nullable=False),
    Column("announcement_ids", JSON, nullable=False),
    Column("html", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("status", String(20), nullable=False),
    Column("approved_by", Text),
    Column("approved_at", UTCDateTime),
    Column("finished_at", UTCDateTime),
    Column("skip_reason", Text),
    Column("rendered_at", UTCDateTime),
    Column("follows", String(200)),
    Column("edits", JSON),
    Index("ix_digest_issues_digest_created_at", "digest", "created_at"),
    UniqueConstraint("digest", "follows", name="uq_digest_issues_digest_follows"),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(500), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("issue_id", String(200), ForeignKey("digest_issues.id")),
    Column("target", Text, nullable=False),
    Column("status", String(20), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UTCDateTime),
    Column("claimed_at", UTCDateTime),
    Column("claimed_by", String(64)),
    Column("sent_at", UTCDateTime),
    Column("provider_id", Text),
    Column("provider_url", Text),
    Column("error", Text),
    Column("payload", JSON),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("key"),
    Index("ix_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
    Index("ix_deliveries_issue_status_id", "issue_id", "status", "id"),
    Index("ix_deliveries_target", "target"),
)

runs = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("job", String(100), nullable=False),
    Column("scheduled_for", UTCDateTime),
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime),
    Column("outcome", String(20), nullable=False),
    Column("counts", JSON, nullable=False),
    Column("message", Text),
    Column("owner", String(64)),
    Index("ix_runs_job_started_at", "job", "started_at"),
)

runner_lease = Table(
    "runner_lease",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("holder", String(200), nullable=False),
    Column("acquired_at", UTCDateTime, nullable=False),
    Column("heartbeat_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
)

claim_owners = Table(
    "claim_owners",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("heartbeat_at", UTCDateTime, nullable=False),
)

channel_state = Table(
    "channel_state",
    metadata,
    Column("channel", String(100), primary_key=True),
    Column("paused", Boolean, nullable=False),
    Column("reason", Text),
    Column("paused_at", UTCDateTime),
    Column("data", JSON),
)

actions = Table(
    "actions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("action", String(100), nullable=False),
    Column("target", Text),
    Column("detail", JSON),
    Index("ix_actions_at", "at"),
)


users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(80), nullable=False, unique=True),
    Column("role", String(20), nullable=False),
    Column("password_hash", String(255), nullable=False),
    Column("session_version", Integer, nullable=False, default=1),
    Column("failed_logins", Integer, nullable=False, default=0),
    Column("locked_until", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_login_at", UTCDateTime),
    Column("email", String(320)),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("label", String(80), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_used_at", UTCDateTime),
)

public_requests = Table(
    "public_requests",
    metadata,
    Column("kind", String(20), primary_key=True),
    Column("key", String(64), primary_key=True),
    Column("window_start", UTCDateTime, nullable=False),
    Column("count", Integer, nullable=False),
    Index("ix_public_requests_window_start", "window_start"),
)

bounce_events = Table(
    "bounce_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(300), nullable=False),
    Column("source", String(20), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("email_hash", String(64), nullable=False),
    Column("subscriber_id", Integer, ForeignKey("subscribers.id", ondelete="SET NULL")),
    Column("issue_id", String(200)),
    Column("diagnostic", Text, nullable=False),
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("recorded_at", UTCDateTime, nullable=False),
    Column("applied_at", UTCDateTime),
    UniqueConstraint("event_id"),
    Index("ix_bounce_events_occurred_at", "occurred_at"),
    Index("ix_bounce_events_email_hash_kind", "email_hash", "kind"),
    Index("ix_bounce_events_issue_id", "issue_id"),
)

tracked_links = Table(
    "tracked_links",
    metadata,
    Column("token", String(32), primary_key=True),
    Column("issue_id", String(200), nullable=False),
    Column("url", Text, nullable=False),
    Column("position", Integer, nullable=False),
    Column("clicks", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_click_at", UTCDateTime),
    Index("ix_tracked_links_issue_id", "issue_id"),
)
