"""Review users get an email address: approvers and admins who have one are told by mail when
something awaits their approval.

Revision ID: 0009_user_email
Revises: 0008_tracked_links
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_user_email"
down_revision: str | None = "0008_tracked_links"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add users.email (none for existing users)."""
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("email", sa.String(320), nullable=True))


def downgrade() -> None:
    """Drop users.email."""
    with op.batch_alter_table("users") as batch:
        batch.drop_column("email")
