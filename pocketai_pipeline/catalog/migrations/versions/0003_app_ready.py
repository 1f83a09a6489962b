"""App-ready catalog: more of the listing on ml_models, per-model files, verified-removal bookkeeping.

Existing rows keep everything; the new listing columns are filled by the next sync (their values
differ from the defaults here, so the merge rewrites each synced row once).

Revision ID: 0003_app_ready
Revises: 0002_sync_bookkeeping
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003_app_ready"
down_revision = "0002_sync_bookkeeping"
branch_labels = None
depends_on = None


def _text_array(name: str) -> sa.Column:
    return sa.Column(name, postgresql.ARRAY(sa.Text), nullable=False, server_default=sa.text("'{}'"))


def upgrade() -> None:
    op.add_column("ml_models", sa.Column("hf_license_id", sa.Text))
    op.add_column("ml_models", sa.Column("hf_license_name", sa.Text))
    op.add_column("ml_models", sa.Column("library_name", sa.Text))
    op.add_column("ml_models", _text_array("base_models"))
    op.add_column("ml_models", _text_array("runtime_formats"))
    op.add_column("ml_models", sa.Column("files_synced_sha", sa.Text))
    op.create_table(
        "ml_model_files",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("model_id", sa.BigInteger, sa.ForeignKey("ml_models.id", ondelete="CASCADE"), nullable=False),
        sa.Column("hf_sha", sa.Text, nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("size_bytes", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.Text),
        sa.Column("is_runtime_file", sa.Boolean, nullable=False),
        sa.UniqueConstraint("model_id", "path"),
    )
    op.add_column("hf_sync_applied_listings", sa.Column("active", sa.Integer))
    op.add_column("hf_sync_applied_listings", sa.Column("removal_unverified", sa.Integer))
    op.add_column(
        "hf_sync_applied_listings",
        sa.Column("shrink_accepted", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.add_column("hf_sync_applied_listings", sa.Column("duration_seconds", sa.Float))


def downgrade() -> None:
    for column in ("duration_seconds", "shrink_accepted", "removal_unverified", "active"):
        op.drop_column("hf_sync_applied_listings", column)
    op.drop_table("ml_model_files")
    for column in ("files_synced_sha", "runtime_formats", "base_models", "library_name", "hf_license_name", "hf_license_id"):
        op.drop_column("ml_models", column)
