"""Initial schema: announcements, sources, subscribers, digests, deliveries, runs, lease, audit.

Revision ID: 0001_initial
Revises:
Create Date: 2026-05-20
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001_initial"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create every table of the first schema."""
    op.create_table(
        "announcements",
        sa.Column("id", sa.String(200), nullable=False),
        sa.Column("source", sa.String(100), nullable=False),
        sa.Column("identity", sa.String(1000), nullable=False),
        sa.Column("url", sa.Text()),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("published", sa.Date()),
        sa.Column("language", sa.String(16), nullable=False),
        sa.Column("lede", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("extracted", sa.JSON(), nullable=False),
        sa.Column("content_hash", sa.String(128), nullable=False),
        sa.Column("first_seen", UTC_DATETIME, nullable=False),
        sa.Column("updated", UTC_DATETIME, nullable=False),
        sa.Column("announce", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("publish_at", UTC_DATETIME),
        sa.Column("announced_at", UTC_DATETIME),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_announcements"),
    )
    op.create_index("ix_announcements_source_content_hash", "announcements", ["source", "content_hash"])
    op.create_index("ix_announcements_first_seen", "announcements", ["first_seen"])
    op.create_index("ix_announcements_announced_at", "announcements", ["announced_at"])

    op.create_table(
        "source_state",
        sa.Column("source", sa.String(100), nullable=False),
        sa.Column("etag", sa.Text()),
        sa.Column("last_modified", sa.Text()),
        sa.Column("first_contact_at", UTC_DATETIME),
        sa.Column("last_success_at", UTC_DATETIME),
        sa.Column("last_error", sa.Text()),
        sa.Column("failing_since", UTC_DATETIME),
        sa.Column("data", sa.JSON()),
        sa.PrimaryKeyConstraint("source", name="pk_source_state"),
    )

    op.create_table(
        "subscribers",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("name", sa.Text()),
        sa.Column("locale", sa.String(16)),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("consent_source", sa.Text()),
        sa.Column("consent_at", UTC_DATETIME),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_subscribers"),
        sa.UniqueConstraint("email", name="uq_subscribers_email"),
    )

    op.create_table(
        "lists",
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("description", sa.Text()),
        sa.PrimaryKeyConstraint("name", name="pk_lists"),
    )

    op.create_table(
        "list_members",
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("list_name", sa.String(100), nullable=False),
        sa.Column("added_at", UTC_DATETIME),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name="fk_list_members_subscriber_id_subscribers",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["list_name"],
            ["lists.name"],
            name="fk_list_members_list_name_lists",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("subscriber_id", "list_name", name="pk_list_members"),
    )
    op.create_index("ix_list_members_list_name", "list_members", ["list_name"])

    op.create_table(
        "list_opt_outs",
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("list_name", sa.String(100), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name="fk_list_opt_outs_subscriber_id_subscribers",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("subscriber_id", "list_name", name="pk_list_opt_outs"),
    )

    op.create_table(
        "suppressions",
        sa.Column("email_hash", sa.String(64), nullable=False),
        sa.Column("reason", sa.String(50), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("email_hash", name="pk_suppressions"),
    )

    op.create_table(
        "digest_issues",
        sa.Column("id", sa.String(200), nullable=False),
        sa.Column("digest", sa.String(100), nullable=False),
        sa.Column("list_name", sa.String(100), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("scheduled_for", UTC_DATETIME),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("preheader", sa.Text(), nullable=False),
        sa.Column("announcement_ids", sa.JSON(), nullable=False),
        sa.Column("html", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("approved_by", sa.Text()),
        sa.Column("approved_at", UTC_DATETIME),
        sa.Column("finished_at", UTC_DATETIME),
        sa.Column("skip_reason", sa.Text()),
        sa.Column("rendered_at", UTC_DATETIME),
        sa.PrimaryKeyConstraint("id", name="pk_digest_issues"),
    )
    op.create_index("ix_digest_issues_digest_created_at", "digest_issues", ["digest", "created_at"])

    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(500), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("issue_id", sa.String(200)),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTC_DATETIME),
        sa.Column("claimed_at", UTC_DATETIME),
        sa.Column("sent_at", UTC_DATETIME),
        sa.Column("provider_id", sa.Text()),
        sa.Column("provider_url", sa.Text()),
        sa.Column("error", sa.Text()),
        sa.Column("payload", sa.JSON()),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(["issue_id"], ["digest_issues.id"], name="fk_deliveries_issue_id_digest_issues"),
        sa.PrimaryKeyConstraint("id", name="pk_deliveries"),
        sa.UniqueConstraint("key", name="uq_deliveries_key"),
    )
    op.create_index("ix_deliveries_status_next_attempt_at", "deliveries", ["status", "next_attempt_at"])
    op.create_index("ix_deliveries_issue_id", "deliveries", ["issue_id"])

    op.create_table(
        "runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("job", sa.String(100), nullable=False),
        sa.Column("scheduled_for", UTC_DATETIME),
        sa.Column("started_at", UTC_DATETIME, nullable=False),
        sa.Column("finished_at", UTC_DATETIME),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("message", sa.Text()),
        sa.PrimaryKeyConstraint("id", name="pk_runs"),
    )
    op.create_index("ix_runs_job_started_at", "runs", ["job", "started_at"])

    op.create_table(
        "runner_lease",
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("holder", sa.String(200), nullable=False),
        sa.Column("acquired_at", UTC_DATETIME, nullable=False),
        sa.Column("heartbeat_at", UTC_DATETIME, nullable=False),
        sa.Column("expires_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_runner_lease"),
    )

    op.create_table(
        "channel_state",
        sa.Column("channel", sa.String(100), nullable=False),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text()),
        sa.Column("paused_at", UTC_DATETIME),
        sa.Column("data", sa.JSON()),
        sa.PrimaryKeyConstraint("channel", name="pk_channel_state"),
    )

    op.create_table(
        "actions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", UTC_DATETIME, nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(100), nullable=False),
        sa.Column("target", sa.Text()),
        sa.Column("detail", sa.JSON()),
        sa.PrimaryKeyConstraint("id", name="pk_actions"),
    )
    op.create_index("ix_actions_at", "actions", ["at"])


def downgrade() -> None:
    """Drop every table of the first schema."""
    for table in (
        "actions",
        "channel_state",
        "runner_lease",
        "runs",
        "deliveries",
        "digest_issues",
        "suppressions",
        "list_opt_outs",
        "list_members",
        "lists",
        "subscribers",
        "source_state",
        "announcements",
    ):
        op.drop_table(table)
