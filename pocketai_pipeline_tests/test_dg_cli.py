"""Dagster's own `dg` CLI from the repo root (issue 19, item 5): `[tool.dg]` in pyproject.toml makes the repo a
project whose code location is `pocketai_pipeline.definitions`, so `dg check defs` and `dg list defs` work as a
Dagster 1.13 user types them, and a bad setting ends them with its sentence as the last line. (`dg launch` finds
the code location the same way; it is not run here, to keep `make test` short.)
"""

import json
from pathlib import Path

from pocketai_pipeline_tests.processes import BIN, REPO, deployment_env
from pocketai_pipeline_tests.test_dev_commands import UNREACHABLE_HUB, assert_nothing_left, run

DG = str(BIN / "dg")
CONTRACT_ASSETS = {"hf_litert_listing", "litert_model_records", "ml_models", "ml_model_details", "ml_model_file_facts"}


def dg(home: Path, *args: str, **settings: str):
    """`dg ARGS` from the repo root, on `home`."""
    env = deployment_env(**{"POCKETAI_HOME": str(home), "DAGSTER_HOME": str(REPO), "HF_ENDPOINT": UNREACHABLE_HUB,
                            **settings})
    return run([DG, *args], env, 180)


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
    sensors = {sensor["name"] for sensor in listed["sensors"]}
    assert sensors == {"hf_litert_change_sensor", "hf_litert_sync_failure_sensor"}


def test_dg_check_defs_ends_a_bad_setting_with_its_sentence(tmp_path: Path) -> None:
    done = dg(tmp_path / "home", "check", "defs", POCKETAI_HF_FILTER=",,")
    assert done.returncode != 0
    last = (done.stdout + done.stderr).strip().splitlines()[-1]
    assert last.startswith("POCKETAI_HF_FILTER=',,'") and "litert" in last, done.stdout + done.stderr
