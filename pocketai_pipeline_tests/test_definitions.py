"""The code location loads, keeps the contract's names, and works through Dagster's own CLI."""

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa

from pocketai_pipeline.definitions import defs
from pocketai_pipeline_tests.synthetic import synthetic_listing

REPO = Path(__file__).resolve().parents[1]
DAGSTER = str(Path(sys.executable).with_name("dagster"))
SYNC_ASSETS = {"hf_litert_listing", "litert_model_records", "ml_models", "ml_model_details", "ml_model_file_facts"}


def test_definitions_keep_the_contract_names():
    graph = defs.resolve_asset_graph()
    assert {key.to_user_string() for key in graph.get_all_asset_keys()} >= SYNC_ASSETS
    for name in SYNC_ASSETS:
        node = graph.get(dg.AssetKey(name))
        assert node.group_name == "hf_litert_sync"
        assert isinstance(node.partitions_def, dg.DailyPartitionsDefinition)
        assert node.partitions_def.timezone == "UTC"
    assert len({graph.get(dg.AssetKey(name)).partitions_def for name in SYNC_ASSETS}) == 1
    job = defs.resolve_job_def("hf_litert_sync_job")
    assert {key.to_user_string() for key in job.asset_layer.executable_asset_keys} == SYNC_ASSETS
    schedule = defs.resolve_schedule_def("hf_litert_daily_schedule")
    assert (schedule.cron_schedule, schedule.execution_timezone) == ("0 2 * * *", "UTC")
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    for name in ("hf_litert_change_sensor", "hf_litert_sync_failure_sensor"):
        assert defs.resolve_sensor_def(name).default_status == dg.DefaultSensorStatus.RUNNING


def test_partitions_cover_today_and_the_thirty_days_before():
    partitions = defs.resolve_asset_graph().get(dg.AssetKey("ml_models")).partitions_def
    keys = set(partitions.get_partition_keys())
    today = datetime.now(UTC).date()
    assert {str(today - timedelta(days=n)) for n in range(31)} <= keys
    assert str(today + timedelta(days=1)) not in keys


def cli_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", "DATABASE_URL", "DAGSTER_PG_URL", "HF_TOKEN")}
    return {**env, "POCKETAI_HOME": str(tmp_path), "HF_HUB_DISABLE_TELEMETRY": "1", **extra}


def test_loading_the_code_location_leaves_out_what_only_the_details_and_facts_steps_use():
    """Every run process loads the definitions: markdown-it (cards) and litert-lm-builder with absl and
    protobuf (file headers) wait for the steps that need them."""
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, pocketai_pipeline.definitions; print(' '.join(sys.modules))"],
        capture_output=True, text=True, check=True, cwd=REPO,
    ).stdout.split()
    assert not {"markdown_it", "litert_lm_builder", "absl", "google.protobuf"} & set(loaded)


def test_dagster_definitions_validate_passes_without_deprecation_warnings(tmp_path, dagster_pg_url):
    result = subprocess.run(
        [DAGSTER, "definitions", "validate", "-m", "pocketai_pipeline.definitions"],
        cwd=REPO, env=cli_env(tmp_path, DAGSTER_PG_URL=dagster_pg_url), capture_output=True, text=True, timeout=180,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "deprecat" not in output.lower(), output


@pytest.mark.slow
def test_dagster_cli_materializes_today_then_the_job_changes_nothing(tmp_path, fake_hub, database_url, dagster_pg_url):
    fake_hub.set_models(synthetic_listing(120))
    fake_hub.page_size = 50
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    env = cli_env(tmp_path, HF_ENDPOINT=fake_hub.url, DATABASE_URL=database_url, DAGSTER_PG_URL=dagster_pg_url)
    engine = sa.create_engine(database_url)

    def dagster(*args: str) -> None:
        result = subprocess.run([DAGSTER, *args, "-m", "pocketai_pipeline.definitions"],
                                cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stdout + result.stderr

    def rows() -> list:
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT hf_model_id, xmin::text FROM ml_models WHERE removed_upstream_at IS NULL")).all()

    dagster("asset", "materialize", "--select", "*", "--partition", today)
    assert len(rows()) == 120
    assert (tmp_path / "data" / "hf_litert_listing" / f"{today}.jsonl.zst").exists()
    before = rows()

    dagster("job", "execute", "-j", "hf_litert_sync_job", "--tags", json.dumps({"dagster/partition": today}))
    assert rows() == before
    engine.dispose()
