"""Every environment variable the code location reads, read here when it loads (the README's settings table)."""

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar
from urllib.parse import unquote, urlsplit


def env_number(name: str, default: float) -> float:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"{name}={value!r} is not a number; unset it or give e.g. {name}={default:g}") from None
    if number < 0:
        raise ValueError(f"{name}={value!r} must not be negative; unset it or give e.g. {name}={default:g}")
    return number


def hub_step_retries() -> int:
    """Step-level retries of the Hub fetch (after the per-request retries gave up)."""
    return int(env_number("POCKETAI_HUB_STEP_RETRIES", 3))


def hub_step_retry_delay_seconds() -> float:
    """First delay before a step-level retry; it doubles each time, with jitter."""
    return env_number("POCKETAI_HUB_STEP_RETRY_DELAY_SECONDS", 30)


def details_time_budget_seconds() -> float:
    """How long one run may spend fetching per-model details (contract rule 12)."""
    return env_number("POCKETAI_DETAILS_TIME_BUDGET_SECONDS", 1800)


STORAGE_SCHEMES = ("s3", "gs", "gcs", "file")
STORAGE_EXAMPLE = "a local folder such as /var/lib/pocketai/data, or s3://my-bucket/pocketai, gs://my-bucket/pocketai"


def storage_url(home: os.PathLike) -> str:
    """`POCKETAI_STORAGE_URL`: where stored listings and records live; default `$POCKETAI_HOME/data`."""
    value = os.environ.get("POCKETAI_STORAGE_URL", "").strip()
    return check_storage_url(value) if value else os.path.join(home, "data")


def check_storage_url(value: str) -> str:
    """A local folder, or an object storage URL with a bucket and no credentials in it."""
    scheme, separator, rest = value.partition("://")
    if not value.strip():
        raise ValueError(f"POCKETAI_STORAGE_URL is empty; unset it or give {STORAGE_EXAMPLE}")
    if not separator:
        return value
    if scheme.lower() not in STORAGE_SCHEMES:
        raise ValueError(
            f"POCKETAI_STORAGE_URL has the unsupported scheme {scheme + '://'!r}; give {STORAGE_EXAMPLE}"
        )
    bucket = rest.split("/", 1)[0]
    if "@" in bucket:
        # Do not echo the value: it may hold a secret.
        raise ValueError(
            "POCKETAI_STORAGE_URL must not carry credentials; give them through the environment "
            "(AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY for s3://, GOOGLE_APPLICATION_CREDENTIALS for gs://)"
        )
    if scheme.lower() != "file" and not bucket:
        raise ValueError(f"POCKETAI_STORAGE_URL={value!r} names no bucket; give e.g. {scheme}://my-bucket/pocketai")
    return value.rstrip("/")


def hf_endpoint(default: str) -> str:
    """`HF_ENDPOINT`: the Hub's base URL (checked by the hub resource)."""
    return os.environ.get("HF_ENDPOINT", "").strip() or default


def hf_filter(default: str) -> str:
    """`POCKETAI_HF_FILTER`: comma-separated Hub filters (checked by the hub resource)."""
    return os.environ.get("POCKETAI_HF_FILTER", "").strip() or default


def is_set(name: str) -> bool:
    return bool(os.environ.get(name))


def pocketai_home() -> Path:
    """`POCKETAI_HOME`: the embedded PostgreSQL and local files; `.pocketai/` in the working directory by default."""
    home = Path(os.environ.get("POCKETAI_HOME") or ".pocketai").resolve()
    if home.exists() and not home.is_dir():
        raise ValueError(f"POCKETAI_HOME={str(home)!r} is not a directory; unset it or give e.g. POCKETAI_HOME=.pocketai")
    return home


def check_secrets(check_database_url: Callable[[str], object]) -> None:
    """The secret settings, checked when the code location loads; their values are never echoed.

    `HF_TOKEN` is one word (whitespace or a control character, a pasted newline, would break its header);
    `DATABASE_URL` is given to `check_database_url`, which raises naming the variable.
    """
    token = os.environ.get("HF_TOKEN")
    if token and any(char.isspace() or not char.isprintable() for char in token):
        raise ValueError("HF_TOKEN holds whitespace or control characters (a pasted newline?); set it to the token "
                         "alone, e.g. HF_TOKEN=hf_…, or unset it")
    if os.environ.get("DATABASE_URL"):
        check_database_url(os.environ["DATABASE_URL"])


def dagster_pg_url() -> str | None:
    """`DAGSTER_PG_URL`: Dagster's own storage; None means the embedded PostgreSQL's `dagster` database."""
    return os.environ.get("DAGSTER_PG_URL") or None


# --- The schedule, the sensors and the alerts.

DEFAULT_SYNC_CRON = "0 2 * * *"
DEFAULT_CHANGE_SENSOR_MINUTES = 15.0
DEFAULT_DAGSTER_URL = "http://127.0.0.1:3000"
TRUE_WORDS = frozenset({"true", "1", "yes"})
FALSE_WORDS = frozenset({"false", "0", "no"})
# Variables whose value, or whose URL's password, must never leave the process in an alert or a log.
SECRET_VARIABLES = ("HF_TOKEN",)
SECRET_URL_VARIABLES = ("DATABASE_URL", "DAGSTER_PG_URL")

T = TypeVar("T")


@dataclass(frozen=True)
class AutomationSettings:
    sync_cron: str
    schedule_enabled: bool
    change_sensor_interval_seconds: int
    dagster_url: str
    # A webhook URL often carries its own token (Slack, Teams): kept out of reprs like the secrets.
    alert_webhook_url: str | None = field(repr=False)
    secrets: tuple[str, ...] = field(repr=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> "AutomationSettings":
        def read(parse: Callable[[str, str | None], T], name: str) -> T:  # parsers name the variable in errors
            return parse(name, environ.get(name))

        return cls(
            sync_cron=environ.get("POCKETAI_SYNC_CRON", "").strip() or DEFAULT_SYNC_CRON,
            schedule_enabled=read(parse_enabled, "POCKETAI_SYNC_SCHEDULE_ENABLED"),
            change_sensor_interval_seconds=read(parse_interval_seconds, "POCKETAI_CHANGE_SENSOR_MINUTES"),
            dagster_url=read(parse_http_url, "POCKETAI_DAGSTER_URL") or DEFAULT_DAGSTER_URL,
            alert_webhook_url=read(parse_http_url, "POCKETAI_ALERT_WEBHOOK_URL"),
            secrets=secret_values(environ),
        )


def parse_enabled(name: str, value: str | None) -> bool:
    """Unset or empty means enabled; true/1/yes and false/0/no in any case; anything else is an error."""
    word = (value or "").strip().lower() or "true"
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError(f"{name}={value!r} is neither true nor false; use {name}=true or {name}=false")


def parse_interval_seconds(name: str, minutes: str | None) -> int:
    """A positive number of minutes (fractions allowed) as whole seconds; unset means the default."""
    text = (minutes or "").strip()
    if not text:
        return round(DEFAULT_CHANGE_SENSOR_MINUTES * 60)
    try:
        seconds = round(float(text) * 60)
    except ValueError:
        seconds = 0
    if seconds < 1:
        raise ValueError(f"{name}={minutes!r} is not a positive number of minutes; use e.g. {name}=15")
    return seconds


def parse_http_url(name: str, value: str | None) -> str | None:
    """An http(s) URL without a trailing slash, or None when unset. The value is not echoed: it may hold a token."""
    url = (value or "").strip().rstrip("/")
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{name} must be an http:// or https:// URL, e.g. {name}=https://alerts.example.com/hook")
    return url


def secret_values(environ: Mapping[str, str]) -> tuple[str, ...]:
    """The secret values known from the environment: HF_TOKEN, and the passwords in the database URLs."""
    secrets = [environ.get(name, "").strip() for name in SECRET_VARIABLES]
    for name in SECRET_URL_VARIABLES:
        password = url_password(environ.get(name, ""))
        secrets += [password, unquote(password)]
    return tuple(dict.fromkeys(secret for secret in secrets if secret))


def url_password(url: str) -> str:
    try:
        return urlsplit(url.strip()).password or ""
    except ValueError:
        return ""
