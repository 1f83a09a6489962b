"""The catalog schema: Alembic migrations run programmatically, and the sync's system user."""

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine

from pocketai_pipeline.catalog.queries import query

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# Not Alembic's default `alembic_version`: the Pocket AI app may keep its own Alembic history
# in the same database.
VERSION_TABLE = "pocketai_pipeline_alembic_version"
# Contract rule 1: the user that owns every synced model.
SYSTEM_USERNAME = "hf_sync_system"
SYSTEM_EMAIL = "system@pocket-ai.local"


def alembic_config(connection: Connection) -> Config:
    """An Alembic config that runs this package's migrations on ``connection``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    config.attributes["version_table"] = VERSION_TABLE
    return config


def migrate_to_head(engine: Engine) -> None:
    """Upgrade the catalog to the newest migration; safe when several processes do it at once.

    All pending migrations run in one transaction that first takes an advisory lock, so a second
    process waits, then finds the schema at head and does nothing.
    """
    with engine.begin() as conn:
        conn.execute(query("lock_migrations"))
        command.upgrade(alembic_config(conn), "head")


def ensure_system_user(
    conn: Connection, username: str = SYSTEM_USERNAME, email: str = SYSTEM_EMAIL
) -> int:
    """The id of the sync's system user, created (is_developer) on first need, never twice.

    Looks first so that an existing user costs no write and no identity value; a concurrent
    insert makes ours wait and do nothing, and the second look then sees the winner's row.
    """
    params = {"username": username, "email": email}
    user_id = conn.execute(query("find_user"), params).scalar()
    if user_id is None:
        user_id = conn.execute(query("insert_system_user"), params).scalar()
    if user_id is None:
        user_id = conn.execute(query("find_user"), params).scalar_one()
    return user_id
