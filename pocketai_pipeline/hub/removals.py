"""Is a synced model the listing lacks really gone? One lookup of its own (contract rule 7)."""

from collections.abc import Iterable
from urllib.parse import quote

from pocketai_pipeline.hub.client import REQUEST_ERRORS, HubClient, HubRateLimitError
from pocketai_pipeline.sync.removals import RemovalCheck, removal_verdict


def model_path(hf_model_id: str) -> str:
    """`/api/models/<id>`, the id's `/` kept and everything else that needs it percent-encoded."""
    return f"/api/models/{quote(hf_model_id, safe='/')}"


def check_removals(client: HubClient, hf_model_ids: Iterable[str], filters: tuple[str, ...]) -> RemovalCheck:
    """Look up each model; only a definite answer confirms a removal, anything else leaves it unverified."""
    confirmed: list[str] = []
    unverified: dict[str, str] = {}
    for hf_model_id in hf_model_ids:
        try:
            response = client.request(client.url(model_path(hf_model_id)))
            removed, reason = removal_verdict(response.status_code, response.content, filters)
        except (*REQUEST_ERRORS, HubRateLimitError) as error:
            removed, reason = False, f"{type(error).__name__}: {error}"
        if removed:
            confirmed.append(hf_model_id)
        else:
            unverified[hf_model_id] = reason
    return RemovalCheck(confirmed=confirmed, unverified=unverified)
