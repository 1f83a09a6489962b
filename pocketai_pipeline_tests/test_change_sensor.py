"""hf_litert_change_sensor against the fake Hub, and its pure cursor decisions."""

import json
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import dagster as dg
import pytest
from dagster._core.definitions.sensor_definition import SensorExecutionData  # what evaluate_tick returns
from dagster._core.remote_origin import RegisteredCodeLocationOrigin, RemoteJobOrigin, RemoteRepositoryOrigin

from pocketai_pipeline.defs.assets import SYNC_ASSETS
from pocketai_pipeline.defs.automation import build_sensors
from pocketai_pipeline.sync.change_detection import ChangeCursor, baseline, detect_change, run_key
from pocketai_pipeline.defs.automation.change_sensor import change_sensor
from pocketai_pipeline.settings import AutomationSettings
from pocketai_pipeline.hub.resource import HubResource
from pocketai_pipeline.defs.jobs import hf_litert_sync_job
from pocketai_pipeline.defs.resources import build_resources
from pocketai_pipeline_tests.fake_hub import FakeHub

HF_TOKEN = "hf_ChangeSensorTokenNeverShown0123456789"


def model(model_id: str, last_modified: str, tags: tuple[str, ...] = ("litert",)) -> dict:
    return {"id": model_id, "lastModified": last_modified, "tags": list(tags), "private": False}


LISTING = [
    model("google/gemma-litert", "2026-11-20T10:00:00.000Z"),
    model("qualcomm/whisper-litert", "2026-11-21T08:30:00.000Z"),
    model("edge/mobilenet-litert", "2026-11-21T08:30:00.000Z"),
    model("other/not-litert", "2026-11-25T00:00:00.000Z", tags=("onnx",)),
]


@pytest.fixture(scope="module")
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as test_instance:
        yield test_instance


def tick(instance: dg.DagsterInstance, hub: HubResource, cursor: str | None = None) -> SensorExecutionData:
    sensor = change_sensor(900)
    location = dg.Definitions(
        assets=SYNC_ASSETS, jobs=[hf_litert_sync_job], sensors=[sensor], resources=build_resources()
    )
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, resources={"hub": hub}, repository_def=location.get_repository_def()
    )
    return sensor.evaluate_tick(context)


def today() -> str:
    return datetime.now(UTC).date().isoformat()


@pytest.fixture
def hub(fake_hub: FakeHub) -> HubResource:
    fake_hub.set_models(LISTING)
    return HubResource(endpoint=fake_hub.url, token=HF_TOKEN, filter="litert", max_retries=0)


def test_the_first_tick_records_a_baseline_from_one_small_newest_first_page(instance, fake_hub, hub):
    result = tick(instance, hub)

    assert not result.run_requests
    assert "baseline" in result.skip_message
    assert ChangeCursor.from_json(result.cursor) == ChangeCursor(
        datetime(2026, 11, 21, 8, 30, tzinfo=UTC), frozenset({"qualcomm/whisper-litert", "edge/mobilenet-litert"})
    )
    [request] = fake_hub.requests
    assert request.path == "/api/models"
    assert {name: values[-1] for name, values in request.query.items()} | {"full": "true"} == {
        "filter": "litert", "sort": "lastModified", "direction": "-1", "limit": "20", "full": "true",
    }


def test_nothing_new_is_a_skip_with_the_cursor_kept(instance, hub):
    cursor = tick(instance, hub).cursor
    result = tick(instance, hub, cursor)
    assert not result.run_requests
    assert result.skip_message.startswith("no model modified since")
    assert result.cursor == cursor


def test_a_modified_model_requests_one_sync_of_todays_partition_and_moves_the_cursor(instance, fake_hub, hub):
    cursor = tick(instance, hub).cursor
    fake_hub.set_models(LISTING + [model("google/gemma-litert", "2026-11-25T09:00:00.000Z")])

    before = today()
    result = tick(instance, hub, cursor)
    [request] = result.run_requests
    assert request.partition_key in {before, today()}
    new_cursor = ChangeCursor.from_json(result.cursor)
    assert new_cursor == ChangeCursor(datetime(2026, 11, 25, 9, tzinfo=UTC), frozenset({"google/gemma-litert"}))
    assert request.run_key == run_key(new_cursor)

    # The same change seen again from the old cursor asks for the same run (Dagster drops the duplicate) ...
    assert tick(instance, hub, cursor).run_requests[0].run_key == request.run_key
    # ... and from the new cursor it is no change at all.
    assert not tick(instance, hub, result.cursor).run_requests


def test_a_new_model_at_the_cursors_instant_is_a_change(instance, fake_hub, hub):
    cursor = tick(instance, hub).cursor
    fake_hub.set_models(LISTING + [model("new/same-millisecond-litert", "2026-11-21T08:30:00.000Z")])

    result = tick(instance, hub, cursor)
    assert len(result.run_requests) == 1
    assert ChangeCursor.from_json(result.cursor).ids == {
        "qualcomm/whisper-litert", "edge/mobilenet-litert", "new/same-millisecond-litert",
    }


def test_every_filter_is_polled(instance, fake_hub):
    fake_hub.set_models(LISTING)
    hub = HubResource(endpoint=fake_hub.url, filter="litert,onnx", max_retries=0)
    result = tick(instance, hub)
    assert [request.query["filter"] for request in fake_hub.requests] == [["litert"], ["onnx"]]
    assert ChangeCursor.from_json(result.cursor).ids == {"other/not-litert"}


def test_the_default_filters_are_all_polled_so_a_litert_lm_only_model_is_a_change(instance, fake_hub):
    fake_hub.set_models(LISTING)
    hub = HubResource(endpoint=fake_hub.url, max_retries=0)  # the contract's default: litert,litert-lm,tflite
    cursor = tick(instance, hub).cursor
    assert [request.query["filter"] for request in fake_hub.requests] == [["litert"], ["litert-lm"], ["tflite"]]
    fake_hub.set_models(LISTING + [model("litert-community/Gemma3-1B-IT", "2026-11-26T00:00:00.000Z", ("litert-lm",))])

    result = tick(instance, hub, cursor)

    assert len(result.run_requests) == 1
    assert ChangeCursor.from_json(result.cursor).ids == {"litert-community/Gemma3-1B-IT"}


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.mark.parametrize(
    ("fail", "cause", "tries"),
    [
        # Retried once within the tick, then given up.
        (lambda hub: hub.fail_next(500, count=2, body=json.dumps({"error": f"token {HF_TOKEN} rejected"})), "500", 2),
        # 30 s is within the sync's bound (300 s) but not a sensor tick's: the sensor does not wait it out.
        (lambda hub: hub.rate_limit_next(30, count=2), "rate limit", 1),
    ],
)
def test_a_hub_error_is_a_skip_naming_the_cause_with_the_cursor_kept(instance, fake_hub, fail, cause, tries):
    fake_hub.set_models(LISTING)
    hub = HubResource(endpoint=fake_hub.url, token=HF_TOKEN, filter="litert")  # the resource's own retry bounds: 5 retries, 300 s
    cursor = tick(instance, hub).cursor
    fail(fake_hub)

    started = time.monotonic()
    result = tick(instance, hub, cursor)
    assert time.monotonic() - started < 5
    assert len(fake_hub.requests) == 1 + tries  # the baseline, then this tick's
    assert not result.run_requests
    assert result.skip_message.startswith("could not ask the Hub")
    assert cause in result.skip_message
    assert HF_TOKEN not in result.skip_message
    assert result.cursor == cursor


def test_a_server_error_is_retried_once_within_the_tick(instance, fake_hub):
    fake_hub.set_models(LISTING)
    fake_hub.fail_next(503)
    result = tick(instance, HubResource(endpoint=fake_hub.url, filter="litert"), cursor=ChangeCursor(None).to_json())
    assert len(fake_hub.requests) == 2
    assert len(result.run_requests) == 1


def test_an_unreachable_hub_is_a_skip(instance):
    result = tick(instance, HubResource(endpoint=closed_port_url(), max_retries=0), cursor="unchanged")
    assert "could not ask the Hub" in result.skip_message and "could not be reached" in result.skip_message
    assert result.cursor == "unchanged"


def test_a_hub_that_never_answers_is_a_skip_after_the_timeout(instance):
    with socket.socket() as silent:  # accepts connections (the kernel's backlog) but never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        host, port = silent.getsockname()
        hub = HubResource(endpoint=f"http://{host}:{port}", timeout_seconds=0.3, max_retries=0)
        started = time.monotonic()
        result = tick(instance, hub, cursor="unchanged")
    assert time.monotonic() - started < 3
    assert "could not ask the Hub" in result.skip_message and "Timeout" in result.skip_message
    assert result.cursor == "unchanged"


@pytest.fixture
def add_run(instance) -> Iterator[Callable[[str, dg.DagsterRunStatus], dg.DagsterRun]]:
    """Record a run of `job_name` in `status` in the shared instance; deleted after the test."""
    added: list[str] = []

    def add(job_name: str, status: dg.DagsterRunStatus) -> dg.DagsterRun:
        # Dagster requires queued runs to say which code location will launch them.
        location = RegisteredCodeLocationOrigin("pocketai_pipeline")
        origin = RemoteJobOrigin(RemoteRepositoryOrigin(location, "__repository__"), job_name)
        run = instance.add_run(
            dg.DagsterRun(job_name=job_name, run_id=str(uuid.uuid4()), status=status, remote_job_origin=origin)
        )
        added.append(run.run_id)
        return run

    yield add
    for run_id in added:
        instance.delete_run(run_id)


@pytest.mark.parametrize(
    "status",
    [
        dg.DagsterRunStatus.QUEUED,
        dg.DagsterRunStatus.STARTING,
        dg.DagsterRunStatus.STARTED,
        dg.DagsterRunStatus.SUSPENDED,
        dg.DagsterRunStatus.CANCELING,
    ],
)
def test_while_a_sync_run_is_queued_or_running_the_hub_is_not_asked(instance, fake_hub, hub, add_run, status):
    busy = add_run("hf_litert_sync_job", status)

    result = tick(instance, hub, cursor="unchanged")

    assert fake_hub.requests == []
    assert not result.run_requests
    assert busy.run_id in result.skip_message and status.value in result.skip_message
    assert result.cursor == "unchanged"


def test_finished_sync_runs_and_busy_runs_of_other_jobs_do_not_hold_the_sensor(instance, fake_hub, hub, add_run):
    for status in (dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED):
        add_run("hf_litert_sync_job", status)
    add_run("some_other_job", dg.DagsterRunStatus.STARTED)

    result = tick(instance, hub)

    assert len(fake_hub.requests) == 1
    assert "baseline" in result.skip_message


def test_an_unreadable_cursor_is_replaced_by_a_new_baseline(instance, hub):
    result = tick(instance, hub, cursor="not json")
    assert "baseline" in result.skip_message
    assert ChangeCursor.from_json(result.cursor).last_modified == datetime(2026, 11, 21, 8, 30, tzinfo=UTC)


def test_the_interval_comes_from_the_environment_in_minutes(monkeypatch):
    monkeypatch.delenv("POCKETAI_CHANGE_SENSOR_MINUTES", raising=False)
    change, _failure = build_sensors()
    assert change.name == "hf_litert_change_sensor"
    assert change.minimum_interval_seconds == 15 * 60
    assert change.job_name == "hf_litert_sync_job"
    assert AutomationSettings.from_env({"POCKETAI_CHANGE_SENSOR_MINUTES": "5"}).change_sensor_interval_seconds == 300
    assert AutomationSettings.from_env({"POCKETAI_CHANGE_SENSOR_MINUTES": "0.5"}).change_sensor_interval_seconds == 30


@pytest.mark.parametrize("minutes", ["0", "-5", "soon", "0.001"])
def test_a_bad_interval_is_an_error_naming_the_variable(minutes):
    with pytest.raises(ValueError, match="POCKETAI_CHANGE_SENSOR_MINUTES=.*positive number of minutes"):
        AutomationSettings.from_env({"POCKETAI_CHANGE_SENSOR_MINUTES": minutes})


# --- the pure decision ---

T1 = "2026-11-20T10:00:00.000Z"
T2 = "2026-11-21T08:30:00.000Z"
T3 = "2026-11-22T07:15:30.250Z"


def cursor_at(moment: str, *ids: str) -> ChangeCursor:
    return ChangeCursor(datetime.fromisoformat(moment), frozenset(ids))


def test_detect_change_newer_timestamp():
    decision = detect_change(cursor_at(T2, "a"), [model("b", T3), model("a", T2), model("c", T1)])
    assert decision.changed_ids == ("b",)
    assert decision.cursor == cursor_at(T3, "b")


def test_detect_change_same_timestamp_new_id_keeps_the_old_ids():
    decision = detect_change(cursor_at(T2, "a"), [model("a", T2), model("b", T2)])
    assert decision.changed_ids == ("b",)
    assert decision.cursor == cursor_at(T2, "a", "b")


@pytest.mark.parametrize(
    "models",
    [
        [],
        [model("a", T2)],
        [model("a", T1), model("z", T1)],  # older than the cursor (e.g. a model whose newer edit was reverted)
    ],
)
def test_detect_change_nothing_new(models):
    cursor = cursor_at(T2, "a")
    assert detect_change(cursor, models).changed_ids == ()
    assert detect_change(cursor, models).cursor is cursor


def test_detect_change_lists_every_changed_model_newest_first():
    decision = detect_change(cursor_at(T1, "x"), [model("b", T2), model("a", T3), model("c", T2)])
    assert decision.changed_ids == ("a", "b", "c")


def test_malformed_entries_are_ignored():
    models = [
        "not an object",
        {"lastModified": T3},
        {"id": 12345, "lastModified": T3},
        {"id": "", "lastModified": T3},
        model("no-zone", "2026-11-23T00:00:00"),
        model("garbage", "last tuesday"),
        {"id": "no-date"},
        model("ok", T2),
    ]
    assert detect_change(cursor_at(T1), models).changed_ids == ("ok",)


def test_a_baseline_of_nothing_sees_any_model_as_new():
    empty = baseline([])
    assert empty == ChangeCursor(None)
    assert detect_change(empty, [model("a", T1)]).changed_ids == ("a",)


def test_cursor_json_round_trip_and_rejects():
    cursor = cursor_at(T3, "b", "a")
    assert ChangeCursor.from_json(cursor.to_json()) == cursor
    assert json.loads(cursor.to_json()) == {"last_modified": "2026-11-22T07:15:30.250000+00:00", "ids": ["a", "b"]}
    assert ChangeCursor.from_json(ChangeCursor(None).to_json()) == ChangeCursor(None)
    for bad in ["", "[]", "{}", '{"last_modified": "yesterday", "ids": []}', '{"last_modified": null, "ids": "a"}']:
        with pytest.raises(ValueError, match="unreadable change cursor"):
            ChangeCursor.from_json(bad)


def test_run_key_depends_on_the_cursor_only():
    assert run_key(cursor_at(T2, "a", "b")) == run_key(cursor_at(T2, "b", "a"))
    assert run_key(cursor_at(T2, "a")) != run_key(cursor_at(T2, "a", "b"))
    assert run_key(cursor_at(T2, "a")) != run_key(cursor_at(T3, "a"))
