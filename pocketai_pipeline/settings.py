"""Settings read from the environment when the code location loads (see the README's settings table)."""

import os
from pathlib import Path


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


def pocketai_home() -> Path:
    """`POCKETAI_HOME`: the embedded PostgreSQL and local files; `.pocketai/` in the working directory by default."""
    home = Path(os.environ.get("POCKETAI_HOME") or ".pocketai").resolve()
    if home.exists() and not home.is_dir():
        raise ValueError(f"POCKETAI_HOME={str(home)!r} is not a directory; unset it or give e.g. POCKETAI_HOME=.pocketai")
    return home


def check_secret_token(name: str) -> None:
    """A token is one word: whitespace or control characters (a pasted newline) would break its header."""
    value = os.environ.get(name)
    if value and any(char.isspace() or not char.isprintable() for char in value):
        # The value is not echoed: it is a secret.
        raise ValueError(f"{name} holds whitespace or control characters (a pasted newline?); set it to the token "
                         f"alone, e.g. {name}=hf_…, or unset it")
