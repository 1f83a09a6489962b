"""One model's details at one revision: its files with sizes and LFS sha256, and its model card (rule 12)."""

from urllib.parse import quote

from huggingface_hub.utils import hf_raise_for_status

from pocketai_pipeline.hub.client import REQUEST_ERRORS, HubClient, HubRateLimitError, HubResponseError, strip_query
from pocketai_pipeline.hub.removals import model_path
from pocketai_pipeline.sync.details import DetailsTarget, Fetched, ModelDetails
from pocketai_pipeline.sync.files import InvalidManifest, ModelFile, parse_manifest

# What can go wrong with one model's details; each leaves that model as it was, to be tried next run.
DETAIL_ERRORS = (*REQUEST_ERRORS, InvalidManifest)


def revision_path(hf_model_id: str, sha: str) -> str:
    return f"{model_path(hf_model_id)}/revision/{quote(sha, safe='')}"


def card_path(hf_model_id: str, sha: str) -> str:
    return f"/{quote(hf_model_id, safe='/')}/resolve/{quote(sha, safe='')}/README.md"


def fetch_files(client: HubClient, hf_model_id: str, sha: str) -> list[ModelFile]:
    """`GET /api/models/<id>/revision/<sha>?blobs=true`, parsed; raises one of DETAIL_ERRORS or HubRateLimitError."""
    response = client.get(client.url(revision_path(hf_model_id, sha)), {"blobs": "true"})
    return parse_manifest(response.json(), sha)


def fetch_card(client: HubClient, hf_model_id: str, sha: str) -> str | None:
    """The model card at `sha`, or None when the model has none (404)."""
    response = client.request(client.url(card_path(hf_model_id, sha)))
    if response.status_code == 404:
        return None
    hf_raise_for_status(response)
    content_type = response.headers.get("content-type", "")
    if content_type.startswith(("text/html", "application/json")):
        raise HubResponseError(f"GET {strip_query(str(response.url))} sent {content_type}, not the model card")
    return response.content.decode("utf-8", errors="replace")




def fetch_details(client: HubClient, target: DetailsTarget) -> Fetched:
    """Both requests of one model (files, then card); any failure leaves the model for the next run."""
    requests = 0
    try:
        requests += 1
        files = fetch_files(client, target.hf_model_id, target.sha)
        requests += 1
        card = fetch_card(client, target.hf_model_id, target.sha)
    except HubRateLimitError as error:
        return Fetched(target, None, one_line(error), requests, rate_limited=True)
    except DETAIL_ERRORS as error:
        return Fetched(target, None, one_line(error), requests)
    return Fetched(target, ModelDetails(files, card), None, requests)


def one_line(error: Exception, limit: int = 300) -> str:
    first = next((line.strip() for line in str(error).splitlines() if line.strip()), "")
    text = f"{type(error).__name__}: {first}"
    return text if len(text) <= limit else text[: limit - 1] + "…"
