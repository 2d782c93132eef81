"""Public request counters: how many subscribe requests one address (hashed) or one client
(hashed) made in its current window, shared by every process of the review app.

Revision ID: 0005_public_requests
Revises: 0004_users
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_public_requests"
down_revision: str | None = "0004_users"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create public_requests, keyed by (kind, key), with an index for pruning old windows."""
    op.create_table(
        "public_requests",
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "key", name="pk_public_requests"),
    )
    op.create_index("ix_public_requests_window_start", "public_requests", ["window_start"])


def downgrade() -> None:
    """Drop the counters."""
    op.drop_index("ix_public_requests_window_start", table_name="public_requests")
    op.drop_table("public_requests")
