"""Bounces and complaints: every report applied (DSN from the bounce mailbox, SES or Brevo
webhook), unique by its event id so a report delivered twice is applied once; deliveries
indexed by recipient.

Revision ID: 0006_bounces
Revises: 0005_public_requests
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_bounces"
down_revision: str | None = "0005_public_requests"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create bounce_events and its indexes; index deliveries by recipient (a report finds the
    issue last sent to its address)."""
    op.create_table(
        "bounce_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(300), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("email_hash", sa.String(64), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=True),
        sa.Column("issue_id", sa.String(200), nullable=True),
        sa.Column("diagnostic", sa.Text(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["subscriber_id"], ["subscribers.id"], ondelete="SET NULL",
                                name="fk_bounce_events_subscriber_id_subscribers"),
        sa.PrimaryKeyConstraint("id", name="pk_bounce_events"),
        sa.UniqueConstraint("event_id", name="uq_bounce_events_event_id"),
    )
    op.create_index("ix_bounce_events_occurred_at", "bounce_events", ["occurred_at"])
    op.create_index("ix_bounce_events_email_hash_kind", "bounce_events", ["email_hash", "kind"])
    op.create_index("ix_bounce_events_issue_id", "bounce_events", ["issue_id"])
    op.create_index("ix_deliveries_target", "deliveries", ["target"])


def downgrade() -> None:
    """Drop bounce_events and the recipient index."""
    op.drop_index("ix_deliveries_target", table_name="deliveries")
    op.drop_table("bounce_events")
