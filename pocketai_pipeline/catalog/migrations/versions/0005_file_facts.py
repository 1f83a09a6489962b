"""Choosing a file for a phone: the Hub's gated mode, runtime-file facts, the file history and the app's view.

- `ml_models.hf_gated`: NULL for existing rows; the synced fields' hash now covers it, so the next sync
  rewrites each synced row once and fills it.
- `ml_model_files`: the rule-13 fact columns; existing runtime files start `pending` (the next run reads
  them), every other file keeps NULL.
- `litertlm_headers`: what was read from each `.litertlm` header, by sha256, so that a file is read once
  whatever model or revision holds it.
- `ml_model_file_revisions`: every file of every revision the sync has written, starting with today's.
- `app_runtime_files`: what the app reads to choose a file for a device.

Revision ID: 0005_file_facts
Revises: 0004_content_hash
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005_file_facts"
down_revision = "0004_content_hash"
branch_labels = None
depends_on = None

FACTS_STATUSES = ("pending", "read", "name_only", "unreadable")

# A URL path segment: every byte of its UTF-8 but the unreserved ones (RFC 3986) as %XX.
PERCENT_ENCODE = """
CREATE FUNCTION url_path_segment(segment text) RETURNS text LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT coalesce(string_agg(
        CASE WHEN byte BETWEEN 48 AND 57 OR byte BETWEEN 65 AND 90 OR byte BETWEEN 97 AND 122 OR byte IN (45, 46, 95, 126)
             THEN chr(byte) ELSE '%' || upper(lpad(to_hex(byte), 2, '0')) END, '' ORDER BY i), '')
    FROM generate_series(0, octet_length(segment) - 1) AS i,
         LATERAL get_byte(convert_to(segment, 'UTF8'), i) AS byte
$$
"""

# One row per runtime file of every active synced model whose files are those of its current revision.
APP_RUNTIME_FILES = """
CREATE VIEW app_runtime_files AS
SELECT m.hf_model_id, m.name, m.description, m.task, m.license_type, m.hf_license_id, m.hf_license_name,
       m.gated, m.hf_gated, m.hf_sha, f.path, f.size_bytes, f.sha256,
       'https://huggingface.co/' || m.hf_model_id || '/resolve/' || m.hf_sha || '/'
           || (SELECT string_agg(url_path_segment(segment), '/' ORDER BY n)
               FROM unnest(string_to_array(f.path, '/')) WITH ORDINALITY AS s(segment, n)) AS download_url,
       f.format, f.quantization, f.max_context_tokens, f.input_modalities, f.backends, f.target_soc, f.platform,
       f.supports_thinking, f.supports_function_calling, f.supports_speculative_decoding, f.min_runtime_version,
       f.container_version, f.min_device_memory_gb, f.facts_status, f.facts_error
FROM ml_models AS m
JOIN ml_model_files AS f ON f.model_id = m.id AND f.hf_sha = m.hf_sha
WHERE f.is_runtime_file
  AND m.removed_upstream_at IS NULL
  AND m.files_synced_sha = m.hf_sha
  AND m.author_id = (SELECT id FROM users WHERE username = 'hf_sync_system')
"""


def _text_array(name: str) -> sa.Column:
    return sa.Column(name, postgresql.ARRAY(sa.Text))


def _header_columns() -> list[sa.Column]:
    """What only a `.litertlm` header tells."""
    return [
        sa.Column("container_version", sa.Text),
        _text_array("input_modalities"),
        _text_array("backends"),
        sa.Column("supports_thinking", sa.Boolean),
        sa.Column("supports_function_calling", sa.Boolean),
        sa.Column("supports_speculative_decoding", sa.Boolean),
        sa.Column("min_runtime_version", sa.Text),
    ]


def upgrade() -> None:
    op.add_column("ml_models", sa.Column("hf_gated", sa.Text))
    for column in [
        sa.Column("format", sa.Text),
        sa.Column("quantization", sa.Text),
        sa.Column("max_context_tokens", sa.Integer),
        sa.Column("target_soc", sa.Text),
        sa.Column("platform", sa.Text),
        sa.Column("min_device_memory_gb", sa.SmallInteger),
        sa.Column("facts_status", sa.Text),
        sa.Column("facts_error", sa.Text),
        *_header_columns(),
    ]:
        op.add_column("ml_model_files", column)
    op.execute(
        "UPDATE ml_model_files SET facts_status = 'pending', format = CASE"
        " WHEN lower(path) LIKE '%.tflite' THEN 'litert' WHEN lower(path) LIKE '%.litertlm' THEN 'litert-lm'"
        " ELSE 'mediapipe-task' END WHERE is_runtime_file"
    )
    op.create_check_constraint(
        "ml_model_files_facts_status",
        "ml_model_files",
        sa.text(f"facts_status IN {FACTS_STATUSES!r} AND (facts_status IS NULL) = (NOT is_runtime_file)"),
    )
    op.create_index("ml_model_files_pending_facts", "ml_model_files", ["model_id"],
                    postgresql_where=sa.text("facts_status = 'pending'"))
    op.create_table(
        "litertlm_headers",
        sa.Column("sha256", sa.Text, primary_key=True),
        sa.Column("status", sa.Text, sa.CheckConstraint("status IN ('read', 'unreadable')"), nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("max_context_tokens", sa.Integer),
        sa.Column("target_soc", sa.Text),
        *_header_columns(),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_table(
        "ml_model_file_revisions",
        sa.Column("model_id", sa.BigInteger, sa.ForeignKey("ml_models.id", ondelete="CASCADE"), nullable=False),
        sa.Column("hf_sha", sa.Text, nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("size_bytes", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.Text),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("model_id", "hf_sha", "path"),
    )
    op.execute(
        "INSERT INTO ml_model_file_revisions (model_id, hf_sha, path, size_bytes, sha256)"
        " SELECT model_id, hf_sha, path, size_bytes, sha256 FROM ml_model_files"
    )
    op.execute(PERCENT_ENCODE)
    op.execute(APP_RUNTIME_FILES)


def downgrade() -> None:
    op.execute("DROP VIEW app_runtime_files")
    op.execute("DROP FUNCTION url_path_segment(text)")
    op.drop_table("ml_model_file_revisions")
    op.drop_table("litertlm_headers")
    op.drop_index("ml_model_files_pending_facts", "ml_model_files")
    op.drop_constraint("ml_model_files_facts_status", "ml_model_files")
    for column in ("format", "quantization", "max_context_tokens", "target_soc", "platform", "min_device_memory_gb",
                   "facts_status", "facts_error", *(column.name for column in _header_columns())):
        op.drop_column("ml_model_files", column)
    op.drop_column("ml_models", "hf_gated")
