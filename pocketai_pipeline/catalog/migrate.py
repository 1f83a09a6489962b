"""Migrate the catalog as its owner, and grant a sync role exactly the rights the sync needs.

    DATABASE_URL=<the owner's URL> python -m pocketai_pipeline.catalog.migrate [--grant-to ROLE]

The sync itself then runs with a DATABASE_URL of ROLE: it reads and writes the catalog's rows, and
cannot change the schema or touch the app's other tables (see the README's "Least privilege").
"""

import argparse
import os
from importlib.resources import files

from psycopg import sql
from sqlalchemy import Engine, create_engine

from pocketai_pipeline.catalog import embedded
from pocketai_pipeline.catalog.resource import catalog_url
from pocketai_pipeline.catalog.schema import migrate_to_head


def grant_sync_role(engine: Engine, role: str) -> None:
    """GRANT `role` what grant_sync_role.sql lists (run by the owner, after the migrations)."""
    statements = (files("pocketai_pipeline.catalog") / "sql" / "grant_sync_role.sql").read_text(encoding="utf-8")
    with engine.begin() as conn:
        driver = conn.connection.driver_connection
        driver.execute(sql.SQL(statements).format(role=sql.Identifier(role)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--grant-to", metavar="ROLE", help="an existing role the sync will run as")
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL") or embedded.database_url(embedded.home_dir())
    engine = create_engine(catalog_url(url))
    try:
        migrate_to_head(engine)
        print("catalog migrated to the newest schema")
        if args.grant_to:
            grant_sync_role(engine, args.grant_to)
            print(f"granted {args.grant_to} the sync's rights")
    finally:
        engine.dispose()


if __name__ == "__main__":
    main()
