"""Dagster's own storage (runs, event logs, schedules) in PostgreSQL through dagster-postgres.

dagster.yaml names this class so the instance works the same from `make dev`, the CLI and tests:
`DAGSTER_PG_URL` when set, else the `dagster` database of the embedded PostgreSQL under
POCKETAI_HOME. dagster-postgres needs psycopg2: under psycopg 3 (what SQLAlchemy 2.1 picks for a
plain `postgresql://`) its NOTIFY-based event writes fail, so every URL is given the psycopg2 driver.

Loading the instance on the embedded PostgreSQL makes the process one of its users (catalog/embedded.py):
a CLI command that had to start it stops it again at exit, unless another process still uses it or
POCKETAI_EMBEDDED_MANAGED=1 says a parent (`make dev`) manages it.
"""

from dagster._serdes import ConfigurableClassData
from dagster_postgres import DagsterPostgresStorage

from pocketai_pipeline import settings
from pocketai_pipeline.catalog import embedded


def dagster_pg_url() -> str:
    url = settings.dagster_pg_url() or embedded.database_url(embedded.home_dir(), "dagster")
    return settings.check_dagster_pg_url(url)


class PostgresStorageFromEnv(DagsterPostgresStorage):
    @classmethod
    def config_type(cls) -> dict:
        return {}

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData | None, config_value: dict) -> "PostgresStorageFromEnv":
        return cls(postgres_url=dagster_pg_url(), inst_data=inst_data)
