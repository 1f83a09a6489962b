"""The running UI in a real browser: Debian's chromium, headless, on the deployment of the `end_to_end` fixture.

Chromium renders each page until the single-page app is idle (`--virtual-time-budget`), then dumps the DOM
and takes a screenshot (kept in test-artifacts/browser/). Install it with `make browser-deps`.
"""

import html
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest

from pocketai_pipeline_tests.processes import ARTIFACTS, SYNC_ASSETS, run_to_completion

HUB_ASSET = "huggingface_hub_models"
LOCATION = "pocketai_pipeline.definitions"
GROUP = "hf_litert_sync"
SCREENSHOTS = ARTIFACTS / "browser"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--no-first-run", "--disable-sync", "--hide-scrollbars", "--window-size=1600,1000",
    # Run the app's timers and requests until it is idle (at most 60 s of page time), then draw everything.
    "--virtual-time-budget=60000", "--run-all-compositor-stages-before-draw",
]
BROWSER_TIMEOUT_SECONDS = 120
# Within this many pixels of a node's box, an edge's end belongs to that node (arrowheads stop short of it).
EDGE_SLACK = 12

LINEAGE_QUERY = "{ assetNodes { assetKey { path } dependencyKeys { path } } }"
LATEST_MATERIALIZATION_QUERY = """
query($assetKey: AssetKeyInput!) {
  assetOrError(assetKey: $assetKey) {
    ... on Asset {
      assetMaterializations(limit: 1) {
        runId
        partition
        metadataEntries { label ... on IntMetadataEntry { intValue } }
      }
    }
  }
}"""


def browse(url: str, screenshot_name: str, tmp_path: Path) -> str:
    """The page's DOM once rendered; its screenshot goes to test-artifacts/browser/<screenshot_name>."""
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail("Debian's chromium is not installed: run `make browser-deps` (apt-get install -y chromium)")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    screenshot = SCREENSHOTS / screenshot_name
    screenshot.unlink(missing_ok=True)
    result = run_to_completion(
        [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'chromium'}", f"--screenshot={screenshot}", "--dump-dom", url],
        timeout_seconds=BROWSER_TIMEOUT_SECONDS,
    )
    assert result.returncode == 0 and screenshot.exists(), result.stderr[-3000:]
    return result.stdout


def page_text(dom: str) -> str:
    dom = re.sub(r"<(script|style|svg)\b.*?</\1>", " ", dom, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", dom)).split())


class AssetGraph(HTMLParser):
    """The asset nodes (their names and boxes) and the lineage edges (their end points) of a rendered graph."""

    def __init__(self, dom: str) -> None:
        super().__init__()
        self.boxes: dict[str, tuple[float, float, float, float]] = {}
        self.edge_ends: list[tuple[tuple[float, float], tuple[float, float]]] = []
        self._open_box: tuple[float, float, float, float] | None = None
        self.feed(dom)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "foreignobject":
            self._open_box = tuple(float(attributes[k]) for k in ("x", "y", "width", "height"))
        elif tag == "path" and attributes.get("stroke") == "var(--color-lineage-edge)":
            points = re.findall(r"(-?[\d.]+),(-?[\d.]+)", attributes["d"])
            self.edge_ends.append((tuple(map(float, points[0])), tuple(map(float, points[-1]))))

    def handle_data(self, data: str) -> None:
        # A node's first text is its asset name, middle-truncated when long (`ml_mod…_file_facts`).
        if self._open_box is not None and data.strip():
            self.boxes[data.strip()] = self._open_box
            self._open_box = None

    def names(self, assets: list[str]) -> dict[str, str]:
        """Each box's label → the one asset it can stand for (a truncated label keeps the name's start and end)."""
        def stands_for(label: str, name: str) -> bool:
            start, _, end = label.partition("…")
            return name == label or ("…" in label and name.startswith(start) and name.endswith(end))

        return {label: next((name for name in assets if stands_for(label, name)), label) for label in self.boxes}

    def node_at(self, point: tuple[float, float]) -> str | None:
        x, y = point
        for name, (left, top, width, height) in self.boxes.items():
            if left - EDGE_SLACK <= x <= left + width + EDGE_SLACK and top - EDGE_SLACK <= y <= top + height + EDGE_SLACK:
                return name
        return None

    def edges(self) -> set[tuple[str | None, str | None]]:
        return {(self.node_at(start), self.node_at(end)) for start, end in self.edge_ends}


@pytest.mark.slow
def test_the_asset_graph_shows_the_five_assets_and_their_lineage(end_to_end, tmp_path):
    assert end_to_end.today_run["status"] == "SUCCESS", end_to_end.today_run
    dom = browse(f"{end_to_end.deployment.url}/locations/{LOCATION}/asset-groups/{GROUP}", "asset-graph.png", tmp_path)

    graph = AssetGraph(dom)
    lineage = [HUB_ASSET, *SYNC_ASSETS]
    chain = set(zip(lineage, lineage[1:]))
    names = graph.names(lineage)
    assert sorted(names.values()) == sorted(lineage), page_text(dom)[:2000]
    assert {(names.get(start), names.get(end)) for start, end in graph.edges()} == chain
    assert "Materialize all (5)" in page_text(dom)  # the external Hub asset is not materializable
    # The same lineage as the API has it.
    nodes = end_to_end.deployment.graphql(LINEAGE_QUERY)["assetNodes"]
    assert {(dep["path"][0], node["assetKey"]["path"][0]) for node in nodes for dep in node["dependencyKeys"]} == chain


@pytest.mark.slow
def test_the_ml_models_page_shows_the_latest_materialization_and_its_metadata(end_to_end, tmp_path):
    latest = end_to_end.deployment.graphql(LATEST_MATERIALIZATION_QUERY, {"assetKey": {"path": ["ml_models"]}})
    [materialization] = latest["assetOrError"]["assetMaterializations"]
    counts = {e["label"]: e["intValue"] for e in materialization["metadataEntries"] if "intValue" in e}
    assert {"created", "updated", "unchanged", "removed", "skipped", "dagster/row_count"} <= set(counts)

    overview = page_text(browse(f"{end_to_end.deployment.url}/assets/ml_models", "ml_models.png", tmp_path))
    assert f"Row count {counts['dagster/row_count']}" in overview
    assert "Latest check results" in overview and "Freshness policy" in overview

    events = page_text(browse(f"{end_to_end.deployment.url}/assets/ml_models?view=events", "ml_models-events.png", tmp_path))
    assert f"Partition {materialization['partition']} materialized in run {materialization['runId'][:8]}" in events
    for label, value in counts.items():
        assert re.search(rf"(^| ){re.escape(label)} {value}( |$)", events), f"{label} {value} not on the events page"
