"""Is a synced model the listing lacks really gone? One lookup of its own (contract rule 7)."""

import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

from pocketai_pipeline.hub.client import REQUEST_ERRORS, HubClient, HubRateLimitError
from pocketai_pipeline.sync.removals import RemovalCheck, removal_verdict

RATE_LIMITED = "not looked up: the Hub's rate limit stopped the lookups this run"


def model_path(hf_model_id: str) -> str:
    """`/api/models/<id>`, the id's `/` kept and everything else that needs it percent-encoded."""
    return f"/api/models/{quote(hf_model_id, safe='/')}"


def check_removals(
    client: HubClient, hf_model_ids: Iterable[str], filters: tuple[str, ...], workers: int = 4
) -> RemovalCheck:
    """Look up each model, `workers` at a time; only a definite answer confirms a removal, anything else
    leaves it unverified. Once the rate limit stops one lookup, the ones not yet made are not made."""
    rate_limited = threading.Event()

    def look_up(hf_model_id: str) -> tuple[bool, str]:
        if rate_limited.is_set():
            return False, RATE_LIMITED
        try:
            response = client.request(client.url(model_path(hf_model_id)))
            return removal_verdict(response.status_code, response.content, filters)
        except HubRateLimitError as error:
            rate_limited.set()
            return False, f"{type(error).__name__}: {error}"
        except REQUEST_ERRORS as error:
            return False, f"{type(error).__name__}: {error}"

    hf_model_ids = list(hf_model_ids)
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="removal-lookup") as pool:
        verdicts = list(pool.map(look_up, hf_model_ids))
    confirmed = [hf_model_id for hf_model_id, (removed, _) in zip(hf_model_ids, verdicts) if removed]
    unverified = {hf_model_id: reason for hf_model_id, (removed, reason) in zip(hf_model_ids, verdicts) if not removed}
    return RemovalCheck(confirmed=confirmed, unverified=unverified)
