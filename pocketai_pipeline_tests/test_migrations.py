"""The Alembic migrations build exactly the contract's catalog tables, downgrade cleanly, and survive a race."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from alembic import command
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

from pocketai_pipeline.catalog.queries import query
from pocketai_pipeline.catalog.schema import MIGRATIONS_DIR, VERSION_TABLE, alembic_config, migrate_to_head
from pocketai_pipeline_tests.catalog_helpers import catalog_engine, wait_for_lock_waiters

CONTRACT_LICENSE_TYPES = [
    "apache_2_0", "mit", "bsd", "gpl", "lgpl", "agpl", "mpl_2_0", "cc0", "cc_by", "cc_by_sa",
    "cc_by_nc", "cc_by_nd", "openrail", "llama", "gemma", "other", "unknown",
]  # fmt: skip

# (column, type, nullable) as the contract's "Catalog tables" lists them.
CONTRACT_COLUMNS = {
    "users": [
        ("id", "int8", False),
        ("username", "text", False),
        ("email", "text", True),
        ("is_developer", "bool", False),
        ("created_at", "timestamptz", False),
    ],
    "ml_models": [
        ("id", "int8", False),
        ("name", "text", False),
        ("description", "text", True),
        ("hf_model_id", "text", True),
        ("origin_repo_url", "text", True),
        ("author_id", "int8", False),
        ("tags", "_text", False),
        ("task", "text", True),
        ("license_type", "license_type", False),
        ("downloads", "int8", True),
        ("likes", "int8", True),
        ("gated", "bool", True),
        ("hf_sha", "text", True),
        ("hf_created_at", "timestamptz", True),
        ("hf_last_modified", "timestamptz", True),
        ("removed_upstream_at", "timestamptz", True),
        ("created_at", "timestamptz", False),
        ("updated_at", "timestamptz", False),
        ("hf_license_id", "text", True),
        ("hf_license_name", "text", True),
        ("library_name", "text", True),
        ("base_models", "_text", False),
        ("runtime_formats", "_text", False),
        ("files_synced_sha", "text", True),
        ("hf_sync_hash", "bytea", True),
        ("hf_gated", "text", True),
    ],
    "ml_model_files": [
        ("id", "int8", False),
        ("model_id", "int8", False),
        ("hf_sha", "text", False),
        ("path", "text", False),
        ("size_bytes", "int8", False),
        ("sha256", "text", True),
        ("is_runtime_file", "bool", False),
        ("format", "text", True),
        ("quantization", "text", True),
        ("max_context_tokens", "int4", True),
        ("target_soc", "text", True),
        ("platform", "text", True),
        ("min_device_memory_gb", "int2", True),
        ("facts_status", "text", True),
        ("facts_error", "text", True),
        ("container_version", "text", True),
        ("input_modalities", "_text", True),
        ("backends", "_text", True),
        ("supports_thinking", "bool", True),
        ("supports_function_calling", "bool", True),
        ("supports_speculative_decoding", "bool", True),
        ("min_runtime_version", "text", True),
    ],
    "ml_model_file_revisions": [
        ("model_id", "int8", False),
        ("hf_sha", "text", False),
        ("path", "text", False),
        ("size_bytes", "int8", False),
        ("sha256", "text", True),
        ("synced_at", "timestamptz", False),
    ],
    "model_versions": [
        ("id", "int8", False),
        ("model_id", "int8", False),
        ("version", "text", False),
        ("created_by", "int8", True),
        ("created_at", "timestamptz", False),
    ],
}

CONTRACT_CONSTRAINTS = {
    "users": {"PRIMARY KEY (id)", "UNIQUE (username)"},
    "ml_models": {"PRIMARY KEY (id)", "UNIQUE (hf_model_id)", "FOREIGN KEY (author_id) REFERENCES users(id)"},
    "model_versions": {
        "PRIMARY KEY (id)",
        "UNIQUE (model_id, version)",
        "FOREIGN KEY (model_id) REFERENCES ml_models(id)",
        "FOREIGN KEY (created_by) REFERENCES users(id)",
    },
    "ml_model_files": {
        "PRIMARY KEY (id)",
        "UNIQUE (model_id, path)",
        "FOREIGN KEY (model_id) REFERENCES ml_models(id) ON DELETE CASCADE",
    },
    "ml_model_file_revisions": {
        "PRIMARY KEY (model_id, hf_sha, path)",
        "FOREIGN KEY (model_id) REFERENCES ml_models(id) ON DELETE CASCADE",
    },
}
# The columns of the view app_runtime_files, in the contract's order (the rule-13 columns after download_url).
APP_RUNTIME_FILES_COLUMNS = [
    "hf_model_id", "name", "description", "task", "license_type", "hf_license_id", "hf_license_name", "gated",
    "hf_gated", "hf_sha", "path", "size_bytes", "sha256", "download_url", "format", "quantization",
    "max_context_tokens", "input_modalities", "backends", "target_soc", "platform", "supports_thinking",
    "supports_function_calling", "supports_speculative_decoding", "min_runtime_version", "container_version",
    "min_device_memory_gb", "facts_status", "facts_error",
]  # fmt: skip


@pytest.fixture
def engine(database_url: str):
    with catalog_engine(database_url, migrated=False) as engine:
        yield engine


def head_revision() -> str:
    return ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE}).get_current_revision()


def public_tables(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).scalars())


def license_type_values(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                text(
                    "SELECT e.enumlabel FROM pg_enum AS e JOIN pg_type AS t ON t.oid = e.enumtypid"
                    " WHERE t.typname = 'license_type' ORDER BY e.enumsortorder"
                )
            ).scalars()
        )


def test_upgrade_builds_the_contract_tables(engine: Engine):
    migrate_to_head(engine)

    assert current_revision(engine) == head_revision()
    assert public_tables(engine) == {
        "users", "ml_models", "model_versions", "ml_model_files", "hf_sync_applied_listings", VERSION_TABLE,
        "ml_model_file_revisions", "litertlm_headers",
    }  # fmt: skip
    with engine.connect() as conn:
        for table, expected in CONTRACT_COLUMNS.items():
            columns = conn.execute(
                text(
                    "SELECT column_name, udt_name, is_nullable = 'YES' FROM information_schema.columns"
                    " WHERE table_schema = 'public' AND table_name = :table ORDER BY ordinal_position"
                ),
                {"table": table},
            ).all()
            assert [tuple(column) for column in columns] == expected, table
            constraints = conn.execute(
                text(
                    "SELECT pg_get_constraintdef(oid) FROM pg_constraint"
                    " WHERE conrelid = CAST(:table AS regclass) AND contype IN ('p', 'u', 'f')"
                ),
                {"table": table},
            ).scalars()
            assert set(constraints) == CONTRACT_CONSTRAINTS[table], table
        generated_ids = conn.execute(
            text(
                "SELECT table_name FROM information_schema.columns"
                " WHERE table_schema = 'public' AND column_name = 'id' AND is_identity = 'YES'"
            )
        ).scalars()
        assert set(generated_ids) == {"users", "ml_models", "model_versions", "ml_model_files", "hf_sync_applied_listings"}
        indexed = conn.execute(
            text("SELECT indexdef FROM pg_indexes WHERE tablename = 'ml_models' AND indexdef LIKE '%(author_id)'")
        ).scalars()
        assert list(indexed), "the merge filters ml_models by author_id"
        view = conn.execute(text(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'app_runtime_files' ORDER BY ordinal_position"
        )).scalars()
        assert list(view) == APP_RUNTIME_FILES_COLUMNS
        # download_url percent-encodes each path segment's UTF-8, keeping the unreserved characters.
        encoded = conn.execute(text("SELECT url_path_segment('a b/é~.-_%'), url_path_segment('')")).one()
        assert tuple(encoded) == ("a%20b%2F%C3%A9~.-_%25", "")
    assert license_type_values(engine) == CONTRACT_LICENSE_TYPES


def test_license_type_enum_matches_the_license_mapping(engine: Engine):
    from pocketai_pipeline.sync.licenses import LICENSE_TYPES

    migrate_to_head(engine)

    assert license_type_values(engine) == list(LICENSE_TYPES)


def test_timestamps_and_defaults_fill_in(engine: Engine):
    migrate_to_head(engine)
    with engine.begin() as conn:
        user_id = conn.execute(text("INSERT INTO users (username) VALUES ('ada') RETURNING id")).scalar_one()
        model = conn.execute(
            text("INSERT INTO ml_models (name, author_id) VALUES ('m', :user_id) RETURNING *"), {"user_id": user_id}
        ).one()

    assert model.tags == [] and model.base_models == [] and model.runtime_formats == []
    assert model.license_type == "unknown"
    assert model.created_at == model.updated_at
    assert model.created_at.utcoffset() is not None


def test_downgrade_to_base_and_upgrade_again(engine: Engine):
    migrate_to_head(engine)
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "base")

    assert public_tables(engine) == {VERSION_TABLE}
    assert license_type_values(engine) == []
    assert current_revision(engine) is None

    migrate_to_head(engine)

    assert current_revision(engine) == head_revision()
    assert license_type_values(engine) == CONTRACT_LICENSE_TYPES


def test_migrating_again_changes_nothing(engine: Engine):
    migrate_to_head(engine)
    migrate_to_head(engine)

    assert current_revision(engine) == head_revision()


def test_concurrent_migrations_of_a_fresh_database_both_succeed(database_url: str, engine: Engine):
    """Both migrators are made to wait on the lock at the same time; the loser finds the schema at head."""
    with engine.connect() as holder, ThreadPoolExecutor(max_workers=2) as pool:
        holder.execute(query("lock_migrations"))
        migrations = [pool.submit(migrate_in_own_engine, database_url) for _ in range(2)]
        wait_for_lock_waiters(engine, count=2)
        assert not any(migration.done() for migration in migrations)
        holder.rollback()

        for migration in migrations:
            migration.result(timeout=60)

    assert current_revision(engine) == head_revision()
    assert license_type_values(engine) == CONTRACT_LICENSE_TYPES


def test_concurrent_migrations_without_help_both_succeed(database_url: str, engine: Engine):
    start = threading.Barrier(4)
    with ThreadPoolExecutor(max_workers=4) as pool:
        migrations = [pool.submit(migrate_in_own_engine, database_url, start) for _ in range(4)]
        for migration in migrations:
            migration.result(timeout=60)

    assert current_revision(engine) == head_revision()


def migrate_in_own_engine(database_url: str, start: threading.Barrier | None = None) -> None:
    with catalog_engine(database_url, migrated=False) as engine:
        if start is not None:
            start.wait(timeout=30)
        migrate_to_head(engine)


def test_upgrading_a_catalog_of_the_first_schema_keeps_every_row(engine: Engine):
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0002_sync_bookkeeping")
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO users (username, email, is_developer) VALUES ('hf_sync_system', 'system@pocket-ai.local', true),"
            " ('alice', NULL, false)"
        ))
        conn.execute(text(
            "INSERT INTO ml_models (name, description, hf_model_id, author_id, tags, license_type, hf_sha)"
            " SELECT 'm' || n, 'd' || n, 'org/m' || n, (SELECT id FROM users WHERE username = 'hf_sync_system'),"
            " ARRAY['litert'], 'mit', 'sha' || n FROM generate_series(1, 25) AS n"
        ))
        conn.execute(text("INSERT INTO model_versions (model_id, version) SELECT id, '1.0' FROM ml_models"))
        conn.execute(text(
            "INSERT INTO hf_sync_applied_listings (partition_key, fetched_at, listed, created, updated, unchanged,"
            " restored, removed, skipped_not_owned, removal_blocked)"
            " VALUES ('2026-11-30', now(), 25, 25, 0, 0, 0, 0, 0, false)"
        ))
        before = {table: conn.execute(text(f"SELECT * FROM {table} ORDER BY id")).all()
                  for table in ("users", "ml_models", "model_versions", "hf_sync_applied_listings")}

    migrate_to_head(engine)

    with engine.connect() as conn:
        models = conn.execute(text("SELECT * FROM ml_models ORDER BY id")).all()
        assert [row[: len(before["ml_models"][0])] for row in models] == before["ml_models"]
        assert {(row.base_models == [], row.runtime_formats == [], row.files_synced_sha) for row in models} == {(True, True, None)}
        for table in ("users", "model_versions"):
            assert conn.execute(text(f"SELECT * FROM {table} ORDER BY id")).all() == before[table]
        applied = conn.execute(text("SELECT * FROM hf_sync_applied_listings")).all()
        assert [row[: len(before["hf_sync_applied_listings"][0])] for row in applied] == before["hf_sync_applied_listings"]


def test_upgrading_a_catalog_with_files_keeps_every_row_and_starts_their_history(engine: Engine):
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0004_content_hash")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO users (username, is_developer) VALUES ('hf_sync_system', true)"))
        conn.execute(text(
            "INSERT INTO ml_models (name, hf_model_id, author_id, tags, license_type, gated, hf_sha, files_synced_sha)"
            " SELECT 'm' || n, 'org/m' || n, (SELECT id FROM users), ARRAY['litert'], 'mit', n = 1, 'sha' || n, 'sha' || n"
            " FROM generate_series(1, 3) AS n"
        ))
        conn.execute(text(
            "INSERT INTO ml_model_files (model_id, hf_sha, path, size_bytes, sha256, is_runtime_file)"
            " SELECT m.id, m.hf_sha, f.path, f.size, f.sha256, f.runtime FROM ml_models AS m,"
            " (VALUES ('README.md', 10, NULL, false), ('int8/model.TFLite', 2000, repeat('a', 64), true),"
            "         ('gemma_q4.litertlm', 3000, repeat('b', 64), true), ('x.task', 40, repeat('c', 64), true))"
            " AS f(path, size, sha256, runtime)"
        ))
        before = {table: conn.execute(text(f"SELECT * FROM {table} ORDER BY id")).all() for table in ("ml_models", "ml_model_files")}

    migrate_to_head(engine)

    with engine.connect() as conn:
        for table, rows in before.items():
            after = conn.execute(text(f"SELECT * FROM {table} ORDER BY id")).all()
            assert [row[: len(rows[0])] for row in after] == rows
        assert set(conn.execute(text("SELECT hf_gated FROM ml_models")).scalars()) == {None}  # filled by the next sync
        facts = conn.execute(text("SELECT DISTINCT path, format, facts_status FROM ml_model_files ORDER BY path")).all()
        assert facts == [("README.md", None, None), ("gemma_q4.litertlm", "litert-lm", "pending"),
                         ("int8/model.TFLite", "litert", "pending"), ("x.task", "mediapipe-task", "pending")]
        history = conn.execute(text(
            "SELECT model_id, hf_sha, path, size_bytes, sha256 FROM ml_model_file_revisions ORDER BY model_id, path"
        )).all()
        current = conn.execute(text(
            "SELECT model_id, hf_sha, path, size_bytes, sha256 FROM ml_model_files ORDER BY model_id, path"
        )).all()
        assert history == current and len(history) == 12
