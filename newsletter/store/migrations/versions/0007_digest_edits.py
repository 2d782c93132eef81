"""Digest issues keep a person's edits (subject, intro typed in the digest editor) so that every
re-render of the issue keeps them.

Revision ID: 0007_digest_edits
Revises: 0006_bounces
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_digest_edits"
down_revision: str | None = "0006_bounces"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add digest_issues.edits (JSON, empty for issues nobody edited)."""
    with op.batch_alter_table("digest_issues") as batch:
        batch.add_column(sa.Column("edits", sa.JSON(), nullable=True))


def downgrade() -> None:
    """Drop digest_issues.edits."""
    with op.batch_alter_table("digest_issues") as batch:
        batch.drop_column("edits")
