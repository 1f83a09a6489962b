"""Reading a runtime file's header from the Hub with HTTP `Range` requests (contract rule 13).

`GET <endpoint>/<id>/resolve/<sha>/<path>` (the Resolvers bucket); the Hub redirects LFS files to its
storage host, where huggingface_hub's session follows without the token. However the server answers,
no more than `max_bytes` of the file are read in all: a server that ignores `Range` sends the file from
its first byte, and only as much of it as the ranges asked for is read (and kept, for the next range).
"""

from urllib.parse import quote

from huggingface_hub.utils import hf_raise_for_status

from pocketai_pipeline.hub.client import REQUEST_ERRORS, HubClient, HubRateLimitError
from pocketai_pipeline.hub.details import one_line
from pocketai_pipeline.sync.file_facts_refresh import HeaderRead, PendingFile

HEADER_READS = 3
"""Range requests per `.litertlm` header, at most: its first bytes, the header, the LLM metadata."""


def resolve_path(hf_model_id: str, sha: str, path: str) -> str:
    return f"/{quote(hf_model_id, safe='/')}/resolve/{quote(sha, safe='')}/{quote(path, safe='/')}"


class RangeReader:
    """`read(start, end)`: bytes [start, end) of the file at `url`, never more than `max_bytes` in all requests."""

    def __init__(self, client: HubClient, url: str, max_bytes: int) -> None:
        self.client, self.url, self.max_bytes = client, url, max_bytes
        self.bytes_read = 0
        self.requests = 0
        self._prefix = b""  # the file's first bytes, once a server ignored Range

    def __call__(self, start: int, end: int) -> bytes:
        if end <= len(self._prefix):
            return self._prefix[start:end]
        budget = self.max_bytes - self.bytes_read
        if budget <= 0:
            return b""
        self.requests += 1
        # A server that ignores Range sends the file from byte 0: `end` bytes cover the range.
        response = self.client.request(self.url, headers={"Range": f"bytes={start}-{end - 1}"}, max_bytes=min(end, budget))
        self.bytes_read += len(response.content)
        if response.status_code == 416:  # the file ends before `start`
            return b""
        hf_raise_for_status(response)
        if response.status_code == 206:
            return response.content[: end - start]
        self._prefix = response.content
        return self._prefix[start:end]


def read_litertlm_header(client: HubClient, file: PendingFile, max_bytes: int) -> HeaderRead:
    """The header facts of one `.litertlm` file, or why they could not be read (a request failed: the file
    stays pending; the header is not one: the file is unreadable)."""
    # litert-lm-builder (with absl and protobuf) loads with the first header; the other steps never need it.
    from pocketai_pipeline.sync.litertlm_header import UnreadableHeader, read_header_facts

    reader = RangeReader(client, client.url(resolve_path(file.hf_model_id, file.sha, file.path)), max_bytes)
    try:
        facts, unreadable = read_header_facts(reader, max_bytes), None
    except UnreadableHeader as error:
        facts, unreadable = None, str(error)
    except HubRateLimitError as error:
        return HeaderRead(file, error=one_line(error), rate_limited=True, bytes_read=reader.bytes_read, requests=reader.requests)
    except REQUEST_ERRORS as error:
        return HeaderRead(file, error=one_line(error), bytes_read=reader.bytes_read, requests=reader.requests)
    return HeaderRead(file, facts=facts, unreadable=unreadable, bytes_read=reader.bytes_read, requests=reader.requests)
