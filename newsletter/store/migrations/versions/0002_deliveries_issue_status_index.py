"""Deliveries: index (issue_id, status, id), so that claiming an issue's next pending rows reads
only pending rows instead of scanning past every row already sent.

Revision ID: 0002_deliveries_issue_status
Revises: 0001_initial
Create Date: 2026-11-23
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002_deliveries_issue_status"
down_revision: str | None = "0001_initial"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Replace the issue_id index by one that also orders each issue's rows by status and id."""
    op.create_index("ix_deliveries_issue_status_id", "deliveries", ["issue_id", "status", "id"])
    op.drop_index("ix_deliveries_issue_id", table_name="deliveries")


def downgrade() -> None:
    """Back to the plain issue_id index."""
    op.create_index("ix_deliveries_issue_id", "deliveries", ["issue_id"])
    op.drop_index("ix_deliveries_issue_status_id", table_name="deliveries")
