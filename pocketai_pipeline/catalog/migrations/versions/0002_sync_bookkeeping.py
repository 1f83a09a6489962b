"""Sync bookkeeping: one row per Hub listing the merge applied (rule 9 compares against the newest).

Revision ID: 0002_sync_bookkeeping
Revises: 0001_catalog
Create Date: 2025-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_sync_bookkeeping"
down_revision = "0001_catalog"
branch_labels = None
depends_on = None


def _count(name: str) -> sa.Column:
    return sa.Column(name, sa.Integer, nullable=False)


def upgrade() -> None:
    op.create_table(
        "hf_sync_applied_listings",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("partition_key", sa.Text, nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        _count("listed"),
        _count("created"),
        _count("updated"),
        _count("unchanged"),
        _count("restored"),
        _count("removed"),
        _count("skipped_not_owned"),
        sa.Column("removal_blocked", sa.Boolean, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("hf_sync_applied_listings")
