"""What the Dagster UI sends over GraphQL for its buttons, so tests go through the doors users use.

Modelled on dagster-webserver's UI (js_modules/dagster-ui/packages/ui-core/src/assets/
LaunchAssetExecutionButton.tsx, LaunchAssetChoosePartitionsDialog.tsx, asInput.tsx and
instance/backfill/BackfillUtils.tsx): "Materialize all…" on a partitioned asset group, one partition
chosen, launches a run of the assets' common job with the partition's tags and run config; several
partitions chosen on the implicit asset job launch a pure asset backfill.
"""

import time
from collections.abc import Callable
from typing import Any, Protocol

RUN_DONE = {"SUCCESS", "FAILURE", "CANCELED"}
BACKFILL_DONE = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}

LAUNCH_ASSET_LOADER_QUERY = """
query LaunchAssetLoaderQuery($assetKeys: [AssetKeyInput!]!) {
  assetNodes(assetKeys: $assetKeys) {
    assetKey { path }
    jobNames
    isExecutable
    repository { name location { name } }
    assetChecksOrError { ... on AssetChecks { checks { name jobNames canExecuteIndividually } } }
  }
}"""

REPOSITORY_QUERY = "{ repositoriesOrError { ... on RepositoryConnection { nodes { name location { name } } } } }"
CONFIG_PARTITION_FOR_ASSET_JOB_QUERY = """
query ConfigPartitionForAssetJob($selector: PipelineSelector!, $partitionName: String!, $assetKeys: [AssetKeyInput!]) {
  pipelineOrError(params: $selector) {
    __typename
    ... on Pipeline {
      partition(partitionName: $partitionName, selectedAssetKeys: $assetKeys) {
        tagsOrError { __typename ... on PartitionTags { results { key value } } ... on PythonError { message } }
        runConfigOrError { __typename ... on PartitionRunConfig { yaml } ... on PythonError { message } }
      }
    }
  }
}"""

LAUNCH_PIPELINE_EXECUTION_MUTATION = """
mutation LaunchPipelineExecution($executionParams: ExecutionParams!) {
  launchPipelineExecution(executionParams: $executionParams) {
    __typename
    ... on LaunchRunSuccess { run { id runId pipelineName } }
    ... on PipelineNotFoundError { message }
    ... on InvalidSubsetError { message }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on PythonError { message stack }
  }
}"""

LAUNCH_PARTITION_BACKFILL_MUTATION = """
mutation LaunchPartitionBackfill($backfillParams: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $backfillParams) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PartitionSetNotFoundError { message }
    ... on UnauthorizedError { message }
    ... on PipelineNotFoundError { message }
    ... on PythonError { message stack }
  }
}"""

RUN_QUERY = """
query Run($runId: ID!) {
  runOrError(runId: $runId) { __typename ... on Run { runId status jobName tags { key value } } }
}"""

BACKFILL_QUERY = """
query Backfill($backfillId: String!) {
  partitionBackfillOrError(backfillId: $backfillId) {
    __typename
    ... on PartitionBackfill {
      status
      partitionNames
      runs { runId status tags { key value } }
      error { message }
    }
  }
}"""


class GraphQL(Protocol):
    def __call__(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]: ...


def asset_key_inputs(names: list[str]) -> list[dict[str, list[str]]]:
    return [{"path": [name]} for name in names]


def common_job(asset_nodes: list[dict[str, Any]]) -> str:
    """The first job every asset is in, as the UI's getCommonJob picks it."""
    jobs = [job for job in asset_nodes[0]["jobNames"] if all(job in node["jobNames"] for node in asset_nodes)]
    if not jobs:
        raise AssertionError(f"no job has all of {[node['assetKey']['path'] for node in asset_nodes]}")
    return jobs[0]


def asset_check_inputs(asset_nodes: list[dict[str, Any]], job: str) -> list[dict[str, Any]]:
    """The checks that run with the assets (the UI's getAssetCheckHandleInputs)."""
    return [
        {"name": check["name"], "assetKey": {"path": node["assetKey"]["path"]}}
        for node in asset_nodes
        for check in node["assetChecksOrError"].get("checks", [])
        if check["canExecuteIndividually"] == "REQUIRES_MATERIALIZATION" or job in check["jobNames"]
    ]


def materialize_partition(graphql: GraphQL, assets: list[str], partition: str) -> str:
    """Launch one run materializing `assets` for `partition`, as the partitions dialog does; its run id."""
    nodes = graphql(LAUNCH_ASSET_LOADER_QUERY, {"assetKeys": asset_key_inputs(assets)})["assetNodes"]
    assert nodes and all(node["isExecutable"] for node in nodes), nodes
    job = common_job(nodes)
    repository = nodes[0]["repository"]
    selector = {
        "repositoryLocationName": repository["location"]["name"],
        "repositoryName": repository["name"],
        "pipelineName": job,
        "assetSelection": asset_key_inputs(assets),
        "assetCheckSelection": asset_check_inputs(nodes, job),
    }
    partition_data = graphql(
        CONFIG_PARTITION_FOR_ASSET_JOB_QUERY,
        {"selector": {k: v for k, v in selector.items() if k != "assetCheckSelection"},
         "partitionName": partition, "assetKeys": asset_key_inputs(assets)},
    )["pipelineOrError"]["partition"]
    tags = partition_data["tagsOrError"]["results"]
    run_config = partition_data["runConfigOrError"]["yaml"]

    launched = graphql(LAUNCH_PIPELINE_EXECUTION_MUTATION, {"executionParams": {
        "mode": "default",
        "executionMetadata": {"tags": tags},
        "runConfigData": run_config,
        "selector": selector,
    }})["launchPipelineExecution"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    return launched["run"]["runId"]


def launch_job_partition(graphql: GraphQL, job: str, partition: str) -> str:
    """Launch `job` (all its assets) for `partition` as the job's launchpad does; its run id."""
    repository = graphql(REPOSITORY_QUERY)["repositoriesOrError"]["nodes"][0]
    selector = {"repositoryLocationName": repository["location"]["name"], "repositoryName": repository["name"],
                "pipelineName": job}
    partition_data = graphql(CONFIG_PARTITION_FOR_ASSET_JOB_QUERY, {
        "selector": selector, "partitionName": partition, "assetKeys": None,
    })["pipelineOrError"]["partition"]
    launched = graphql(LAUNCH_PIPELINE_EXECUTION_MUTATION, {"executionParams": {
        "mode": "default",
        "executionMetadata": {"tags": partition_data["tagsOrError"]["results"]},
        "runConfigData": partition_data["runConfigOrError"]["yaml"],
        "selector": selector,
    }})["launchPipelineExecution"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    return launched["run"]["runId"]


def launch_backfill(graphql: GraphQL, assets: list[str], partitions: list[str]) -> str:
    """Launch a backfill of `assets` over `partitions` (the dialog's pure asset backfill); its id."""
    launched = graphql(LAUNCH_PARTITION_BACKFILL_MUTATION, {"backfillParams": {
        "tags": [],
        "assetSelection": asset_key_inputs(assets),
        "partitionNames": partitions,
        "fromFailure": False,
    }})["launchPartitionBackfill"]
    assert launched["__typename"] == "LaunchBackfillSuccess", launched
    return launched["backfillId"]


def wait_for_run(graphql: GraphQL, run_id: str, timeout_seconds: float) -> dict[str, Any]:
    """The run once it has finished (the daemon dequeues and launches it)."""
    return _poll(lambda: graphql(RUN_QUERY, {"runId": run_id})["runOrError"],
                 lambda run: run["status"] in RUN_DONE, timeout_seconds, f"run {run_id}")


def wait_for_backfill(graphql: GraphQL, backfill_id: str, timeout_seconds: float) -> dict[str, Any]:
    """The backfill once the daemon has finished it."""
    return _poll(lambda: graphql(BACKFILL_QUERY, {"backfillId": backfill_id})["partitionBackfillOrError"],
                 lambda backfill: backfill["status"] in BACKFILL_DONE, timeout_seconds, f"backfill {backfill_id}")


def _poll(
    fetch: Callable[[], dict[str, Any]], done: Callable[[dict[str, Any]], bool], timeout_seconds: float, what: str
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_seconds
    while True:
        current = fetch()
        if done(current):
            return current
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not finished after {timeout_seconds}s: {current}")
        time.sleep(1)


def tag(entity: dict[str, Any], key: str) -> str | None:
    return next((t["value"] for t in entity["tags"] if t["key"] == key), None)
