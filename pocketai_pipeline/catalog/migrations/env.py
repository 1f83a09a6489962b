"""Alembic environment, driven only from ``pocketai_pipeline.catalog.schema``.

The caller hands over an open connection (already in a transaction and holding the migration
lock) in ``config.attributes``; migrations run inside that transaction, so an upgrade is all or
nothing. There is no alembic.ini and no offline (SQL script) mode.
"""

from alembic import context

config = context.config
if context.is_offline_mode():
    raise RuntimeError("offline migrations are not supported; use pocketai_pipeline.catalog.schema.migrate_to_head")

context.configure(
    connection=config.attributes["connection"],
    version_table=config.attributes["version_table"],
)
with context.begin_transaction():
    context.run_migrations()
