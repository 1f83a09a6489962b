"""Errors no retry within the run can mend fail their step at once, in one sentence that names the fix.

A wrong HF_ENDPOINT or HF_TOKEN, a catalog database that refuses the login or cannot be migrated, a
database role without a privilege the sync needs:
Dagster's step retries would only repeat them, with the Hub's backoff in between. The traceback
goes to the debug log; the step's error (UI, alert, `make sync`) is the sentence alone.
"""

import traceback
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
import psycopg
from sqlalchemy.exc import ProgrammingError

from pocketai_pipeline.catalog.queries import CatalogReadError
from pocketai_pipeline.catalog.resource import CatalogConnectionError
from pocketai_pipeline.hub.client import HubSetupError

SETUP_ERRORS = (HubSetupError, CatalogConnectionError)


@contextmanager
def failing_fast(context: dg.AssetExecutionContext) -> Iterator[None]:
    try:
        yield
    except SETUP_ERRORS as error:
        context.log.debug(traceback.format_exc())
        raise dg.Failure(description=str(error), allow_retries=False) from None
    except (ProgrammingError, CatalogReadError) as error:
        said = privilege_refused(error)
        if said is None:
            raise
        context.log.debug(traceback.format_exc())
        raise dg.Failure(
            description=f"DATABASE_URL's role lacks a privilege the sync needs ({said}): grant what the README's "
            "'Least privilege' lists (python -m pocketai_pipeline.catalog.migrate --grant-to ROLE)",
            allow_retries=False,
        ) from None


def privilege_refused(error: ProgrammingError | CatalogReadError) -> str | None:
    """What PostgreSQL said, when it refused a privilege the sync needs; None for any other error."""
    if isinstance(error, CatalogReadError):
        return str(error) if error.sqlstate == "42501" else None
    if isinstance(error.orig, psycopg.errors.InsufficientPrivilege):
        return " ".join(str(error.orig).split())
    return None
