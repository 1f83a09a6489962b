"""Failure alerts: what goes into one, with secrets taken out, and posting it to a webhook."""

import json
import re
import urllib.request
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

REDACTED = "***"
ERROR_SUMMARY_CHARS = 500
# The password of any `scheme://user:password@host` in a message, whether or not the environment knows it.
URL_PASSWORD = re.compile(r"(?P<userinfo>\b[a-z][a-z0-9+.-]*://[^:/@\s]*:)[^\s/]+@", re.IGNORECASE)


class ErrorInfo(Protocol):
    """The shape of Dagster's serialized errors (`event.event_specific_data.error`)."""

    cls_name: str | None
    message: str
    cause: "ErrorInfo | None"


def redact(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret value, and any password inside a URL, replaced by ***."""
    for secret in sorted({secret for secret in secrets if secret}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return URL_PASSWORD.sub(rf"\g<userinfo>{REDACTED}@", text)


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def root_error(error: ErrorInfo) -> ErrorInfo:
    """The error the step's code raised, under Dagster's wrappers (step execution, retry policy)."""
    while error.cause is not None and is_dagster_wrapper(error.cls_name):
        error = error.cause
    return error


def is_dagster_wrapper(cls_name: str | None) -> bool:
    return bool(cls_name) and (cls_name.startswith("Dagster") or cls_name == "RetryRequestedFromPolicy")


def error_summary(message: str, secrets: Iterable[str], limit: int = ERROR_SUMMARY_CHARS) -> str:
    """A one-line, secret-free summary of an error message. Redacted before truncated: no half secret survives."""
    one_line = " ".join(line.strip() for line in message.splitlines() if line.strip())
    return truncate(redact(one_line, secrets), limit)


def failure_alert(
    *, job: str, run_id: str, partition: str | None, failed_steps: Sequence[str], error: str, dagster_url: str
) -> dict[str, Any]:
    """The JSON body posted to the webhook (documented in the README)."""
    return {
        "job": job,
        "run_id": run_id,
        "partition": partition,
        "failed_steps": list(failed_steps),
        "error": error,
        "run_url": f"{dagster_url}/runs/{run_id}",
    }


def post_json(url: str, body: dict[str, Any], timeout_seconds: float) -> None:
    """POST `body` as JSON; raises OSError (URLError, HTTPError, timeouts) when the receiver fails."""
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=timeout_seconds):
        pass
