"""Every setting of the contract's settings table with a bad value (issue 9, item 2): the code location stops
loading (or, for the catalog URL, the first step that needs it fails) with an error that names the variable
and shows a valid value, and never echoes a secret.

Each case imports `pocketai_pipeline.definitions` in a fresh interpreter with only that variable set (the
subprocesses run a few at a time, once per module); DAGSTER_PG_URL is read when the instance loads
(dagster.yaml), so its case also loads the instance.

The make commands (issue 19, item 1): each case through devserver's `sync` (what `make sync` runs), in this
process, ends with one line per bad setting and no traceback, before anything starts; `make sync`, `make dev`
and `make demo` themselves with one bad value each; with a dead database and an unreachable Hub, `make sync`
names both (item 2).
"""

import os
import subprocess
import sys
import traceback
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from pocketai_pipeline import devserver
from pocketai_pipeline.catalog.resource import CatalogResource
from pocketai_pipeline_tests.catalog_snapshot import snapshot, sync
from pocketai_pipeline_tests.processes import program_lines
from pocketai_pipeline_tests.synthetic import synthetic_listing

REPO = Path(__file__).resolve().parents[1]
TOKEN_WITH_NEWLINE = "hf_SecretPart1\nSecretPart2"
LOAD = """
import os, sys
try:
    import pocketai_pipeline.definitions
    if os.environ.get("DAGSTER_PG_URL"):
        import dagster as dg
        dg.DagsterInstance.get()
except Exception as error:
    print(f"LOAD ERROR {type(error).__name__}: {error}")
    sys.exit(3)
print("LOADED")
"""

# (variable, bad value, what a valid value looks like in the message); the case id is the index.
CASES = [
    ("DATABASE_URL", "mysql://app:pw-in-url@db/catalog", "postgresql+psycopg://"),
    ("DATABASE_URL", "not a url", "postgresql+psycopg://"),
    ("POCKETAI_HOME", "<a regular file>", "director"),
    ("POCKETAI_STORAGE_URL", "ftp://x", "s3://"),
    ("DAGSTER_PG_URL", "sqlite://", "postgresql+psycopg2://"),
    ("HF_ENDPOINT", "huggingface.co", "https://huggingface.co"),
    ("HF_ENDPOINT", "ftp://x", "https://huggingface.co"),
    ("HF_TOKEN", TOKEN_WITH_NEWLINE, "HF_TOKEN"),
    ("POCKETAI_HF_FILTER", ",,", "litert"),
    ("POCKETAI_DETAILS_TIME_BUDGET_SECONDS", "soon", "POCKETAI_DETAILS_TIME_BUDGET_SECONDS=1800"),
    ("POCKETAI_DETAILS_TIME_BUDGET_SECONDS", "-5", "POCKETAI_DETAILS_TIME_BUDGET_SECONDS=1800"),
    ("POCKETAI_FILE_FACTS_TIME_BUDGET_SECONDS", "soon", "POCKETAI_FILE_FACTS_TIME_BUDGET_SECONDS=1800"),
    ("POCKETAI_FILE_FACTS_MAX_BYTES", "0", "POCKETAI_FILE_FACTS_MAX_BYTES=4194304"),
    ("POCKETAI_FILE_FACTS_MAX_BYTES", "4MB", "POCKETAI_FILE_FACTS_MAX_BYTES=4194304"),
    ("POCKETAI_SYNC_CRON", "every day", "0 2 * * *"),
    ("POCKETAI_SYNC_SCHEDULE_ENABLED", "maybe", "POCKETAI_SYNC_SCHEDULE_ENABLED=true"),
    ("POCKETAI_ALERT_WEBHOOK_URL", "not-a-url", "https://"),
]
IDS = [f"{name}={value!r}" for name, value, _ in CASES]


def clean_env(home: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("POCKETAI_", "HF_", "DAGSTER_")) and k != "DATABASE_URL"}
    return {**env, "HF_HUB_DISABLE_TELEMETRY": "1", "POCKETAI_HOME": str(home), "DAGSTER_HOME": str(REPO), **settings}


@pytest.fixture(scope="module")
def loads(tmp_path_factory) -> dict[str, subprocess.CompletedProcess]:
    """Each case's import of the definitions, run three at a time."""
    root = tmp_path_factory.mktemp("settings")

    def load(index: int) -> subprocess.CompletedProcess:
        name, value, _ = CASES[index]
        home = root / f"home-{index}"
        home.mkdir()
        if value == "<a regular file>":
            value = str(root / f"file-{index}")
            Path(value).write_text("a file, not a directory")
        env = clean_env(home, **{name: value})
        return subprocess.run([sys.executable, "-c", LOAD], cwd=REPO, env=env, capture_output=True, text=True,
                              timeout=120)

    with ThreadPoolExecutor(max_workers=3) as pool:
        return dict(zip(IDS, pool.map(load, range(len(CASES)))))


@pytest.mark.parametrize(("name", "value", "example"), CASES, ids=IDS)
def test_a_bad_setting_stops_the_code_location_loading_naming_it_with_an_example(loads, name, value, example):
    done = loads[f"{name}={value!r}"]
    output = done.stdout + done.stderr
    assert done.returncode == 3, f"{name}={value!r} loaded:\n{output[-2000:]}"
    message = done.stdout.split("LOAD ERROR", 1)[1]
    assert name in message, message
    assert example in message, message
    for secret in ("pw-in-url", "SecretPart1", "SecretPart2"):
        assert secret not in output


def test_every_good_setting_loads(tmp_path):
    """The control: the same import with valid values of every setting."""
    env = clean_env(tmp_path, DATABASE_URL="postgresql+psycopg://app:pw@db.example:5432/catalog",
                    POCKETAI_STORAGE_URL=str(tmp_path / "data"), HF_ENDPOINT="https://huggingface.co",
                    HF_TOKEN="hf_GoodToken", POCKETAI_HF_FILTER="litert,tflite",
                    POCKETAI_DETAILS_TIME_BUDGET_SECONDS="600", POCKETAI_SYNC_CRON="30 3 * * *",
                    POCKETAI_SYNC_SCHEDULE_ENABLED="false", POCKETAI_ALERT_WEBHOOK_URL="https://hooks.example/x")
    done = subprocess.run([sys.executable, "-c", LOAD], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "LOADED" in done.stdout, done.stdout + done.stderr


@pytest.mark.parametrize("url", ["mysql://app:pw-in-url@db/catalog", "not a url"])
def test_a_bad_database_url_fails_the_first_step_that_needs_it_naming_it_with_an_example(
    fake_hub, sync_resources, tmp_path, url
):
    fake_hub.set_models(synthetic_listing(3))
    engine = sync_resources["catalog"].engine()
    before = snapshot(engine)

    result = sync({**sync_resources, "catalog": CatalogResource(database_url=url, home=str(tmp_path))})

    assert not result.success and result.retried_steps == []
    assert result.failed_steps == ["litert_model_records"]
    assert "DATABASE_URL" in result.error and "postgresql+psycopg://" in result.error, result.error
    assert "pw-in-url" not in result.error
    assert snapshot(engine) == before


# --- The make commands (issue 19) --------------------------------------------------------------------------

DEAD_DATABASE = "postgresql+psycopg://app:pw-in-url@127.0.0.1:9/catalog"
DEAD_HUB = "http://127.0.0.1:9"


def bad_value(name: str, value: str, tmp_path: Path) -> str:
    if value != "<a regular file>":
        return value
    path = tmp_path / "a-file"
    path.write_text("a file, not a directory")
    return str(path)


@pytest.mark.parametrize(("name", "value", "example"), CASES, ids=IDS)
def test_make_sync_ends_a_bad_setting_with_one_line_naming_it(monkeypatch, capsys, tmp_path, name, value, example):
    """devserver's `sync` in this process (the settings check comes before anything starts, so it is quick)."""
    for variable in [*os.environ]:
        if variable.startswith(("POCKETAI_", "HF_", "DAGSTER_")) or variable == "DATABASE_URL":
            monkeypatch.delenv(variable)
    monkeypatch.setenv("POCKETAI_HOME", str(tmp_path / "home"))
    monkeypatch.setenv(name, bad_value(name, value, tmp_path))
    monkeypatch.setattr(devserver, "DEBUG_LOG", tmp_path / "debug.log")
    monkeypatch.setattr(devserver, "preflight_problems", lambda: pytest.fail(f"{name}={value!r} passed the check"))

    with pytest.raises(SystemExit) as exited:
        devserver.main(["sync"])

    output = capsys.readouterr()
    assert exited.value.code == 2
    assert output.out == ""
    lines = output.err.strip().splitlines()
    assert len(lines) == 1, output.err
    assert name in lines[0] and example in lines[0], lines[0]
    assert "Traceback" not in output.err and "pydantic" not in output.err
    for secret in ("pw-in-url", "SecretPart1", "SecretPart2"):
        assert secret not in output.err
    assert "Traceback" in (tmp_path / "debug.log").read_text()  # the traceback went to the debug log
    assert not (tmp_path / "home" / "pg").exists()


def run_make(target: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "--no-print-directory", target], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=120)


def program_output(done: subprocess.CompletedProcess) -> list[str]:
    """The command's lines, without make's own `make: *** [...] Error N` status line."""
    return program_lines(done.stdout + done.stderr)


@pytest.mark.parametrize(("target", "name", "value", "example"), [
    ("sync", "POCKETAI_HF_FILTER", ",,", "POCKETAI_HF_FILTER"),
    ("sync", "HF_ENDPOINT", "huggingface.co", "HF_ENDPOINT=https://huggingface.co"),
    ("dev", "POCKETAI_SYNC_CRON", "every day", "POCKETAI_SYNC_CRON='0 2 * * *'"),
    ("demo", "POCKETAI_FILE_FACTS_MAX_BYTES", "-1", "POCKETAI_FILE_FACTS_MAX_BYTES=4194304"),
])
def test_make_commands_end_a_bad_setting_with_the_sentence_as_their_last_line(tmp_path, target, name, value, example):
    env = clean_env(tmp_path / "home", **{name: value}, DEMO_HOME=str(tmp_path / "demo"))
    done = run_make(target, env)
    lines = program_output(done)
    assert done.returncode == 2, done.stdout + done.stderr
    assert name in lines[-1] and example in lines[-1], lines
    assert "Traceback" not in done.stdout + done.stderr
    assert not (tmp_path / "home" / "pg").exists() and not (tmp_path / "demo" / "pg").exists()


def test_make_sync_names_both_a_dead_database_and_an_unreachable_hub(tmp_path):
    env = clean_env(tmp_path / "home", DATABASE_URL=DEAD_DATABASE, HF_ENDPOINT=DEAD_HUB)
    done = subprocess.run([sys.executable, "-m", "pocketai_pipeline.devserver", "sync"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 1, done.stdout + done.stderr
    assert len(lines) == 2, done.stderr
    assert "DATABASE_URL" in lines[0] and "127.0.0.1:9" in lines[0], lines
    assert f"HF_ENDPOINT={DEAD_HUB} could not be reached" in lines[1], lines
    assert "pw-in-url" not in done.stdout + done.stderr
    assert "syncing" not in done.stdout  # no run was started
