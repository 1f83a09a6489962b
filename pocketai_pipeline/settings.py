"""Every environment variable the code location reads, read here when it loads (the README's settings table)."""

import atexit
import os
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar
from urllib.parse import unquote, urlsplit


def env_number(name: str, default: float) -> float:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    example = f"{name}={int(default) if float(default).is_integer() else default}"  # 4194304, not 4.1943e+06
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"{name}={value!r} is not a number; unset it or give e.g. {example}") from None
    if number < 0:
        raise ValueError(f"{name}={value!r} must not be negative; unset it or give e.g. {example}")
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


def file_facts_time_budget_seconds() -> float:
    """How long one run may spend reading runtime-file headers (contract rule 13)."""
    return env_number("POCKETAI_FILE_FACTS_TIME_BUDGET_SECONDS", 1800)


def file_facts_max_bytes() -> int:
    """The most bytes read from one runtime file (contract rule 13): a positive whole number."""
    name, default = "POCKETAI_FILE_FACTS_MAX_BYTES", 4194304
    number = env_number(name, default)
    if number < 1 or number != int(number):
        raise ValueError(f"{name}={os.environ[name]!r} is not a positive whole number of bytes; "
                         f"unset it or give e.g. {name}={default}")
    return int(number)


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
    check_hf_token()
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


# --- Every setting at once: what `make sync`, `make dev`, `make demo` and the code location check first.

POSTGRES_SCHEME = re.compile(r"^postgres(ql)?(\+\w+)?://")


class SettingsError(ValueError):
    """Settings with a bad value: one sentence per setting (on its own line), naming it with a valid example."""

    def __init__(self, sentences: list[str]) -> None:
        super().__init__("\n".join(sentences))
        self.sentences = sentences


def check_dagster_pg_url(url: str) -> str:
    """`DAGSTER_PG_URL` (or the embedded one) as the psycopg2 URL dagster-postgres needs; not echoed (a password)."""
    if not POSTGRES_SCHEME.match(url):
        raise ValueError(
            "DAGSTER_PG_URL must be a PostgreSQL URL such as postgresql+psycopg2://user:password@host/dagster"
        )
    return POSTGRES_SCHEME.sub("postgresql+psycopg2://", url)


def check_hf_token() -> None:
    """`HF_TOKEN` is one word: whitespace or a control character (a pasted newline) would break its header."""
    token = os.environ.get("HF_TOKEN")
    if token and any(char.isspace() or not char.isprintable() for char in token):
        raise ValueError("HF_TOKEN holds whitespace or control characters (a pasted newline?); set it to the token "
                         "alone, e.g. HF_TOKEN=hf_…, or unset it")


def sync_cron() -> str:
    """`POCKETAI_SYNC_CRON`: the daily schedule's cron (UTC)."""
    return os.environ.get("POCKETAI_SYNC_CRON", "").strip() or DEFAULT_SYNC_CRON


def _setting_checks() -> list[Callable[[], object]]:
    """One call per setting, each raising ValueError with its sentence. Imported here: they import this module."""
    from pocketai_pipeline.catalog.resource import catalog_url
    from pocketai_pipeline.defs.automation import schedule_on
    from pocketai_pipeline.hub.resource import DEFAULT_ENDPOINT, DEFAULT_FILTER, HubResource

    def if_set(name: str, check: Callable[[str], object]) -> Callable[[], object]:
        return lambda: check(os.environ[name]) if os.environ.get(name) else None

    def parsed(name: str, parse: Callable[[str, str | None], object]) -> Callable[[], object]:
        return lambda: parse(name, os.environ.get(name))

    return [
        if_set("DATABASE_URL", catalog_url),
        pocketai_home,
        lambda: storage_url("."),
        if_set("DAGSTER_PG_URL", check_dagster_pg_url),
        lambda: HubResource(endpoint=hf_endpoint(DEFAULT_ENDPOINT)),
        check_hf_token,
        lambda: HubResource(filter=hf_filter(DEFAULT_FILTER)),
        details_time_budget_seconds,
        file_facts_time_budget_seconds,
        file_facts_max_bytes,
        lambda: schedule_on(sync_cron(), enabled=True),
        parsed("POCKETAI_SYNC_SCHEDULE_ENABLED", parse_enabled),
        parsed("POCKETAI_ALERT_WEBHOOK_URL", parse_http_url),
        parsed("POCKETAI_CHANGE_SENSOR_MINUTES", parse_interval_seconds),
        parsed("POCKETAI_DAGSTER_URL", parse_http_url),
        hub_step_retries,
        hub_step_retry_delay_seconds,
    ]


def sentences_of(error: ValueError) -> list[str]:
    """The sentences of a settings error; pydantic's wrapping (a resource field's validator) taken off."""
    errors = getattr(error, "errors", None)
    if callable(errors):  # pydantic.ValidationError
        return [str(item["ctx"]["error"]) if "error" in item.get("ctx", {}) else item["msg"] for item in errors()]
    return str(error).splitlines() or [type(error).__name__]


def setting_problems() -> list[str]:
    """A sentence for every setting whose value is bad, in the README's order; [] when all are good."""
    problems: list[str] = []
    for check in _setting_checks():
        try:
            check()
        except ValueError as error:
            problems += sentences_of(error)
    return list(dict.fromkeys(problems))


def check_settings() -> None:
    """Raise one SettingsError naming every bad setting, before anything is started or built."""
    if problems := setting_problems():
        raise SettingsError(problems)


_sentences_at_exit: list[str] = []


def check_settings_at_load() -> None:
    """check_settings for the code location's import. Dagster's CLI prints a load error with its stack and then a
    summary line of its own, so the sentences are printed again when the process exits: the console's last lines."""
    try:
        check_settings()
    except SettingsError as error:
        if not _sentences_at_exit:
            atexit.register(_print_sentences_at_exit)
        _sentences_at_exit[:] = error.sentences
        raise


def _print_sentences_at_exit() -> None:
    try:
        print(*_sentences_at_exit, sep="\n", file=sys.stderr, flush=True)
    except (OSError, ValueError):  # stderr already closed
        pass
