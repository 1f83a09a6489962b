"""The catalog database as a Dagster resource: one migrated SQLAlchemy engine per process and URL."""

import threading
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

import dagster as dg
import pandas as pd
import psycopg
import pyarrow as pa
from sqlalchemy import URL, Engine, create_engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from pocketai_pipeline.catalog import embedded
from pocketai_pipeline.catalog.details import details_targets, write_details
from pocketai_pipeline.catalog.file_facts import pending_file_facts, write_file_facts
from pocketai_pipeline.catalog.audit import CatalogIds, catalog_ids, missing_synced, null_license_rows
from pocketai_pipeline.catalog.merge import MergeResult, merge_records
from pocketai_pipeline.catalog.queries import query
from pocketai_pipeline.catalog.schema import SYSTEM_EMAIL, SYSTEM_USERNAME, migrate_to_head
from pocketai_pipeline.sync.details import DetailsTarget
from pocketai_pipeline.sync.file_facts_refresh import FileFacts, NewHeader, PendingFile
from pocketai_pipeline.sync.files import ModelFile
from pocketai_pipeline.sync.removals import RemovalCheck

DRIVER = "postgresql+psycopg"
# postgres:// is the Heroku spelling, which SQLAlchemy does not know.
_POSTGRES_SCHEMES = {"postgresql", "postgres", DRIVER}

# Dagster builds a new resource object for every step; the engine (and its pool) is per process.
_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


class CatalogConnectionError(RuntimeError):
    """The catalog database could not be reached or migrated; the message says where and never holds a password."""


def catalog_url(database_url: str) -> URL:
    """``database_url`` as a psycopg 3 SQLAlchemy URL; only PostgreSQL URLs are accepted."""
    try:
        url = make_url(database_url)
    except (ArgumentError, ValueError):
        raise ValueError(
            "DATABASE_URL is not a URL; expected postgresql+psycopg://user:password@host:5432/database"
        ) from None  # ArgumentError's message repeats the URL, password included
    if url.drivername not in _POSTGRES_SCHEMES:
        raise ValueError(
            f"DATABASE_URL must be a PostgreSQL URL (postgresql+psycopg://user:password@host:5432/database), "
            f"not {url.drivername}://; the catalog uses psycopg 3"
        )
    return url.set(drivername=DRIVER)


def embedded_url(home: Path) -> URL:
    """The catalog database of the embedded PostgreSQL under ``home``, started if need be."""
    try:
        return make_url(embedded.database_url(home))
    except Exception as error:  # pgserver fails in many ways (permissions, ports, a corrupt data dir)
        raise CatalogConnectionError(
            f"cannot start the embedded PostgreSQL under {home} (POCKETAI_HOME): {error}; "
            "fix or remove that directory, or set DATABASE_URL to use another database"
        ) from error


class CatalogResource(dg.ConfigurableResource):
    """The Pocket AI catalog (PostgreSQL), migrated to the newest schema before first use.

    ``database_url`` unset means the embedded PostgreSQL under ``home`` (POCKETAI_HOME).
    """

    database_url: str | None = None
    home: str = ".pocketai"
    system_username: str = SYSTEM_USERNAME
    system_email: str = SYSTEM_EMAIL

    def engine(self) -> Engine:
        """The catalog's engine, created and migrated on first use in this process."""
        key = self.database_url or f"embedded:{Path(self.home).resolve()}"
        with _engines_lock:
            if key not in _engines:
                _engines[key] = self._connect()
            return _engines[key]

    def merge(
        self, records: pd.DataFrame | pa.Table | Iterable[pd.DataFrame | pa.Table], *, fetched_at: datetime, partition_key: str,
        removals: RemovalCheck = RemovalCheck(), accept_shrink: bool = False,
    ) -> MergeResult:
        """Merge one complete listing's records into ml_models (see `merge_records`)."""
        return merge_records(
            self.engine(), records, fetched_at=fetched_at, partition_key=partition_key, removals=removals,
            accept_shrink=accept_shrink, system_username=self.system_username, system_email=self.system_email,
        )

    def newest_applied_fetched_at(self) -> datetime | None:
        """When the newest listing the catalog applied was fetched (rule 9); None before the first merge."""
        with self.engine().connect() as conn:
            return conn.execute(query("newest_applied_fetched_at")).scalar()

    def catalog_ids(self) -> CatalogIds:
        """Every row's Hub id, whether it is synced (the system user's) and whether it is active."""
        return catalog_ids(self.engine(), self.system_username)

    def missing_synced_models(self, listed_ids: pa.Array) -> tuple[int, list[str]]:
        """(active synced models, those the listing lacks): each is looked up on the Hub before it is marked."""
        return missing_synced(self.catalog_ids(), listed_ids)

    def null_license_rows(self) -> int:
        return null_license_rows(self.engine())

    def details_targets(self) -> tuple[list[DetailsTarget], int]:
        """(synced models whose files are not those of their revision, how many already are)."""
        return details_targets(self.engine(), self.system_username)

    def write_details(self, target: DetailsTarget, files: list[ModelFile], description: str | None) -> bool:
        return write_details(self.engine(), target, files, description, self.system_username)

    def pending_file_facts(self) -> list[PendingFile]:
        """Runtime files of synced models whose facts are pending (rule 13)."""
        return pending_file_facts(self.engine(), self.system_username)

    def write_file_facts(self, rows: list[FileFacts], new_header: NewHeader | None) -> None:
        write_file_facts(self.engine(), rows, new_header)

    def recent_syncs(self, limit: int = 14) -> list[dict]:
        """The last `limit` applied listings (hf_sync_applied_listings), newest first."""
        with self.engine().connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query("recent_syncs"), {"limit": limit})]

    def _connect(self) -> Engine:
        if self.database_url:
            url, where = catalog_url(self.database_url), "DATABASE_URL"
        else:
            home = Path(self.home).resolve()
            url, where = embedded_url(home), f"the embedded PostgreSQL under {home} (POCKETAI_HOME)"
        engine = create_engine(url, pool_pre_ping=True)
        try:
            migrate_to_head(engine)
        except DBAPIError as error:
            engine.dispose()
            raise CatalogConnectionError(connection_failure(where, url, error)) from error
        return engine


def connection_failure(where: str, url: URL, error: DBAPIError) -> str:
    """One line naming the database (never its password), what PostgreSQL said, and what to check."""
    said = " ".join(str(error.orig).split())
    if url.password:
        said = said.replace(str(url.password), "***")
    if isinstance(error.orig, psycopg.errors.InsufficientPrivilege):
        fix = ("run the migrations as the catalog's owner (make migrate), then give this role the grants "
               "the README's 'Least privilege' lists")
    else:
        fix = "check the host, port, database, user and password, and that the server is up"
    return f"cannot connect to or migrate the catalog database at {where} = {url!r}: {said}; {fix}"
