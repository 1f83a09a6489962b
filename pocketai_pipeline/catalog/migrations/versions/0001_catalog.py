"""Catalog tables: users, ml_models, model_versions and the license_type enum.

Revision ID: 0001_catalog
Revises:
Create Date: 2025-11-25
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001_catalog"
down_revision = None
branch_labels = None
depends_on = None

# Frozen copy of pocketai_pipeline.sync.licenses.LICENSE_TYPES as of this revision:
# a later change to the mapping needs its own migration (ALTER TYPE ... ADD VALUE).
LICENSE_TYPES = (
    "apache_2_0", "mit", "bsd", "gpl", "lgpl", "agpl", "mpl_2_0", "cc0", "cc_by", "cc_by_sa",
    "cc_by_nc", "cc_by_nd", "openrail", "llama", "gemma", "other", "unknown",
)  # fmt: skip

license_type = postgresql.ENUM(*LICENSE_TYPES, name="license_type", create_type=False)


def _id() -> sa.Column:
    return sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True)


def _timestamp(name: str) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now())


def upgrade() -> None:
    license_type.create(op.get_bind())
    op.create_table(
        "users",
        _id(),
        sa.Column("username", sa.Text, nullable=False, unique=True),
        sa.Column("email", sa.Text),
        sa.Column("is_developer", sa.Boolean, nullable=False, server_default=sa.false()),
        _timestamp("created_at"),
    )
    op.create_table(
        "ml_models",
        _id(),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("hf_model_id", sa.Text, unique=True),
        sa.Column("origin_repo_url", sa.Text),
        sa.Column("author_id", sa.BigInteger, sa.ForeignKey("users.id"), nullable=False, index=True),
        sa.Column("tags", postgresql.ARRAY(sa.Text), nullable=False, server_default=sa.text("'{}'")),
        sa.Column("task", sa.Text),
        sa.Column("license_type", license_type, nullable=False, server_default="unknown"),
        sa.Column("downloads", sa.BigInteger),
        sa.Column("likes", sa.BigInteger),
        sa.Column("gated", sa.Boolean),
        sa.Column("hf_sha", sa.Text),
        sa.Column("hf_created_at", sa.DateTime(timezone=True)),
        sa.Column("hf_last_modified", sa.DateTime(timezone=True)),
        sa.Column("removed_upstream_at", sa.DateTime(timezone=True)),
        _timestamp("created_at"),
        _timestamp("updated_at"),
    )
    op.create_table(
        "model_versions",
        _id(),
        sa.Column("model_id", sa.BigInteger, sa.ForeignKey("ml_models.id"), nullable=False),
        sa.Column("version", sa.Text, nullable=False),
        sa.Column("created_by", sa.BigInteger, sa.ForeignKey("users.id"), index=True),
        _timestamp("created_at"),
        sa.UniqueConstraint("model_id", "version"),
    )


def downgrade() -> None:
    op.drop_table("model_versions")
    op.drop_table("ml_models")
    op.drop_table("users")
    license_type.drop(op.get_bind())
