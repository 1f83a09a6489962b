"""Settings read from the environment when the code location loads (see the README's settings table)."""

import os


def env_number(name: str, default: float) -> float:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"{name}={value!r} is not a number; unset it or give e.g. {name}={default:g}") from None
    if number < 0:
        raise ValueError(f"{name}={value!r} must not be negative")
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
