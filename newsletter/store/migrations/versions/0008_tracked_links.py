"""Click counting (`tracking.clicks`): the links of each issue that go through first-party
redirects, with their click counts.

Revision ID: 0008_tracked_links
Revises: 0007_digest_edits
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_tracked_links"
down_revision: str | None = "0007_digest_edits"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create tracked_links, indexed by issue."""
    op.create_table(
        "tracked_links",
        sa.Column("token", sa.String(32), nullable=False),
        sa.Column("issue_id", sa.String(200), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("clicks", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_click_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("token", name="pk_tracked_links"),
    )
    op.create_index("ix_tracked_links_issue_id", "tracked_links", ["issue_id"])


def downgrade() -> None:
    """Drop tracked_links."""
    op.drop_table("tracked_links")
