"""`make bench` keeps working: the whole bench at a tiny size (100 models), every writer and scenario.

A benchmark, not a timed test: nothing here asserts a speed. dlt runs only when its venv
(benchmarks/.venv-dlt, made by `make bench`) is there, so the suite needs no network.
"""

import csv

import dagster as dg
import pytest

from benchmarks import sync_bench
from benchmarks.listings import SCENARIOS

pytestmark = pytest.mark.slow


def test_bench_runs_every_writer_and_scenario_at_a_tiny_size(tmp_path, capsys):
    writers = [w for w in sync_bench.WRITERS if w != "dlt" or (sync_bench.DLT_VENV / ".installed").exists()]
    assert sync_bench.main(["--sizes", "100", "--writers", *writers, "--out", str(tmp_path)]) == 0

    printed = capsys.readouterr().out
    assert "Machine:" in printed and "pipeline s" in printed
    assert (tmp_path / "latest.md").read_text().count("\n| 100 |") == len(SCENARIOS)
    cells = {(row["scenario"], row["writer"]): row for row in csv.DictReader(open(tmp_path / "latest.csv"))}
    assert set(cells) == {(scenario, writer) for scenario in SCENARIOS for writer in writers}
    assert all(float(row["seconds"]) > 0 for row in cells.values())
    # The figures the README's targets read: an identical re-sync writes only the applied-listing row.
    assert int(cells["first", "pipeline"]["rows_written"]) >= 100
    assert int(cells["identical", "pipeline"]["rows_written"]) == 1
    assert int(cells["identical", "dagster"]["rows_written"]) == 1
    assert int(cells["removed", "pipeline"]["lookups"]) == 10  # rule 7: each missing model on its own
    assert cells["first", "dagster"]["run_status"] == "SUCCESS"
    assert float(cells["first", "dagster"]["noop_seconds"]) > float(cells["first", "dagster"]["noop_steps_seconds"]) > 0


def test_the_dagster_noop_has_the_sync_steps_dagster_shape():
    """The bench's Dagster floor means something only while it mirrors the real steps."""
    from benchmarks.dagster_noop import defs as noop
    from pocketai_pipeline.definitions import defs

    def shape(definitions: dg.Definitions) -> dict:
        graph = definitions.resolve_asset_graph()
        return {
            key.to_user_string(): (
                graph.get(key).partitions_def,
                graph.get(key).pools,
                graph.get(key).assets_def.op.retry_policy is not None,
                {(check.name, graph.get_check_spec(check).blocking) for check in graph.get(key).check_keys},
            )
            for key in map(dg.AssetKey, sync_bench.ASSETS.split(","))
        }

    assert shape(noop) == shape(defs)
    assert noop.resolve_job_def("__ASSET_JOB").executor_def == defs.resolve_job_def("hf_litert_sync_job").executor_def


def test_a_peer_skipped_at_one_size_is_estimated_at_the_next_from_the_largest_size_it_ran():
    cells = [sync_bench.Cell(10_000, "first", "old", seconds=35.0, wall_seconds=36.0),
             sync_bench.Cell(100_000, "first", "old", skipped="est. 360 s")]
    assert sync_bench.should_skip("old", 100_000, "first", cells[:1], peer_max_seconds=300) == "est. 360 s"
    assert sync_bench.should_skip("old", 1_000_000, "first", cells, peer_max_seconds=300) == "est. 3,600 s"
    assert sync_bench.should_skip("old", 100_000, "first", cells[:1], peer_max_seconds=400) == ""
    assert sync_bench.should_skip("pipeline", 1_000_000, "first", cells, peer_max_seconds=1) == ""
