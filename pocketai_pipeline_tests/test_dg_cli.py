"""Dagster's own `dg` CLI from the repo root (issue 19, item 5): `[tool.dg]` in pyproject.toml makes the repo a
project whose code location is `pocketai_pipeline.definitions`, so `dg check defs`, `dg list defs` and
`dg launch --assets … --partition …` work as a Dagster 1.13 user types them, and a bad setting ends them with
its sentence as the last line.
"""

import json
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from pocketai_pipeline.catalog import embedded
from pocketai_pipeline_tests.fake_hub import FakeHub
from pocketai_pipeline_tests.processes import BIN, REPO, deployment_env
from pocketai_pipeline_tests.synthetic import synthetic_listing
from pocketai_pipeline_tests.test_dev_commands import UNREACHABLE_HUB, assert_nothing_left, run

DG = str(BIN / "dg")
CONTRACT_ASSETS = {"hf_litert_listing", "litert_model_records", "ml_models", "ml_model_details"}


def dg(home: Path, *args: str, timeout_seconds: float = 180, **settings: str):
    """`dg ARGS` from the repo root, on `home`."""
    env = deployment_env(**{"POCKETAI_HOME": str(home), "DAGSTER_HOME": str(REPO), "HF_ENDPOINT": UNREACHABLE_HUB, **settings})
    return run([DG, *args], env, timeout_seconds)


def test_dg_check_defs_loads_the_code_location(tmp_path: Path) -> None:
    done = dg(tmp_path / "home", "check", "defs")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "All definitions loaded successfully." in done.stdout, done.stdout + done.stderr
    assert "Warning" not in done.stdout + done.stderr
    assert_nothing_left(tmp_path / "home")


def test_dg_list_defs_lists_the_contract_objects(tmp_path: Path) -> None:
    done = dg(tmp_path / "home", "list", "defs", "--json")
    assert done.returncode == 0, done.stderr
    listed = json.loads(done.stdout)
    assert CONTRACT_ASSETS <= {asset["asset_key"] for asset in listed["assets"]}
    assert [job["name"] for job in listed["jobs"]] == ["hf_litert_sync_job"]
    assert [schedule["name"] for schedule in listed["schedules"]] == ["hf_litert_daily_schedule"]
    assert {sensor["name"] for sensor in listed["sensors"]} == {"hf_litert_change_sensor", "hf_litert_sync_failure_sensor"}


def test_dg_check_defs_ends_a_bad_setting_with_its_sentence(tmp_path: Path) -> None:
    done = dg(tmp_path / "home", "check", "defs", POCKETAI_HF_FILTER=",,")
    assert done.returncode != 0
    last = (done.stdout + done.stderr).strip().splitlines()[-1]
    assert last.startswith("POCKETAI_HF_FILTER=',,'") and "litert" in last, done.stdout + done.stderr


@pytest.mark.slow
def test_dg_launch_materializes_a_partition(tmp_path: Path) -> None:
    home = tmp_path / "home"
    today = datetime.now(UTC).date().isoformat()
    with FakeHub(synthetic_listing(12), page_size=5) as hub:
        done = dg(home, "launch", "--assets", "hf_litert_listing,litert_model_records,ml_models", "--partition", today,
                  timeout_seconds=300, HF_ENDPOINT=hub.url)
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    assert_nothing_left(home)
    try:
        with psycopg.connect(embedded.database_url(home, driver=None)) as conn:
            assert conn.execute("SELECT count(*) FROM ml_models").fetchone() == (12,)
    finally:
        embedded.release(home)
    assert_nothing_left(home)
