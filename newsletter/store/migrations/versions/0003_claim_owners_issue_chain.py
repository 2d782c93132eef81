"""Writers that cannot collide: claims and runs carry their owner (a process with a heartbeat), and each
digest issue records the issue it follows, unique per digest, so two racing freezes of the
same period cannot both create an issue.

Revision ID: 0003_claim_owners_issue_chain
Revises: 0002_deliveries_issue_status
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_claim_owners_issue_chain"
down_revision: str | None = "0002_deliveries_issue_status"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FIRST_ISSUE = ""


def upgrade() -> None:
    """Add claim_owners, deliveries.claimed_by, runs.owner and digest_issues.follows (back-filled in
    creation order, per digest) with its unique constraint."""
    op.create_table(
        "claim_owners",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_claim_owners"),
    )
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("claimed_by", sa.String(64), nullable=True))
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("owner", sa.String(64), nullable=True))
    with op.batch_alter_table("digest_issues") as batch:
        batch.add_column(sa.Column("follows", sa.String(200), nullable=True))
    _backfill_follows()
    with op.batch_alter_table("digest_issues") as batch:
        batch.create_unique_constraint("uq_digest_issues_digest_follows", ["digest", "follows"])


def _backfill_follows() -> None:
    """Chain the existing issues of each digest in creation order."""
    connection = op.get_bind()
    issues = sa.table("digest_issues", sa.column("id"), sa.column("digest"), sa.column("created_at"),
                      sa.column("follows"))
    previous: dict[str, str] = {}
    rows = connection.execute(sa.select(issues.c.id, issues.c.digest).order_by(issues.c.created_at, issues.c.id))
    for issue_id, digest in rows.all():
        connection.execute(
            sa.update(issues).where(issues.c.id == issue_id).values(follows=previous.get(digest, FIRST_ISSUE))
        )
        previous[digest] = issue_id


def downgrade() -> None:
    """Drop the chain and the claim owners."""
    with op.batch_alter_table("digest_issues") as batch:
        batch.drop_constraint("uq_digest_issues_digest_follows", type_="unique")
        batch.drop_column("follows")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("owner")
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("claimed_by")
    op.drop_table("claim_owners")
