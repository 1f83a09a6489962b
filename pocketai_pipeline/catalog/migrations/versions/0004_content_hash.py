"""ml_models.hf_sync_hash: the content hash of the synced fields, so a re-sync ships only what changed.

NULL for existing rows: the next sync rewrites each synced row once (as a changed row) and stores
its hash; from then on an identical record is neither shipped nor written.

Revision ID: 0004_content_hash
Revises: 0003_app_ready
Create Date: 2026-12-08
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_content_hash"
down_revision = "0003_app_ready"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("ml_models", sa.Column("hf_sync_hash", sa.LargeBinary))


def downgrade() -> None:
    op.drop_column("ml_models", "hf_sync_hash")
