"""Errors no retry within the run can mend fail their step at once, in one sentence that names the fix.

A wrong HF_ENDPOINT or HF_TOKEN, a catalog database that refuses the login or cannot be migrated:
Dagster's step retries would only repeat them, with the Hub's backoff in between. The traceback
goes to the debug log; the step's error (UI, alert, `make sync`) is the sentence alone.
"""

import traceback
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg

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
