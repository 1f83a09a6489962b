"""Stored listings and records: local folders and a real S3-compatible server (moto), streaming, atomicity."""

import errno
import json
import signal
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import boto3
import dagster as dg
import pandas as pd
import pyarrow.parquet as pq
import pytest
from upath import UPath

from pocketai_pipeline.defs.assets import hf_litert_listing, litert_model_records, ml_models
from pocketai_pipeline.defs.io_managers import (
    ListingIOManager,
    RecordFrames,
    RecordsIOManager,
    StoredListing,
    StoredRecords,
)
from pocketai_pipeline.defs.partitions import daily_partitions
from pocketai_pipeline.defs.resources import build_resources
from pocketai_pipeline.settings import check_storage_url
from pocketai_pipeline.sync.normalize import normalize_listing
from pocketai_pipeline.sync.records import RECORD_DTYPES
from pocketai_pipeline_tests.stored_files import zstd_text
from pocketai_pipeline_tests.synthetic import edge_case_models, synthetic_listing

TODAY = datetime.now(UTC).strftime("%Y-%m-%d")
LISTING_KEY = f"hf_litert_listing/{TODAY}.jsonl.zst"
RECORDS_KEY = f"litert_model_records/{TODAY}.parquet"


ASSETS = [hf_litert_listing, litert_model_records, ml_models]


def materialize(resources, selection=None) -> dg.ExecuteInProcessResult:
    return dg.materialize(ASSETS, partition_key=TODAY, resources=resources, selection=selection, raise_on_error=False)


def with_storage(resources: dict, url: str) -> dict:
    return {**resources, "listing_io_manager": ListingIOManager(base_dir=url),
            "records_io_manager": RecordsIOManager(base_dir=url)}


def metadata(result: dg.ExecuteInProcessResult, node: str) -> dict:
    [event] = result.asset_materializations_for_node(node)
    return {key: value.value for key, value in event.metadata.items()}


def error_text(result: dg.ExecuteInProcessResult, node: str) -> str:
    error, parts = result.failure_data_for_node(node).error, []
    while error is not None:
        parts.append(error.message)
        error = error.cause
    return "\n".join(parts)


def bucket_of(url: str) -> tuple[str, str]:
    bucket, prefix = url.removeprefix("s3://").split("/", 1)
    return bucket, prefix


def object_keys(url: str) -> list[str]:
    bucket, prefix = bucket_of(url)
    listed = boto3.client("s3").list_objects_v2(Bucket=bucket)
    return sorted(item["Key"].removeprefix(prefix + "/") for item in listed.get("Contents", []))


def files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


@pytest.fixture
def listing(fake_hub):
    models = synthetic_listing(120) + edge_case_models()
    fake_hub.set_models(models)
    fake_hub.page_size = 25
    return models


# Object storage ---------------------------------------------------------------------------------------


def test_a_sync_on_s3_stores_one_object_per_asset_and_ml_models_reads_them_back(
    sync_resources, listing, s3_storage
):
    resources = with_storage(sync_resources, s3_storage)

    first = materialize(resources)

    assert first.success
    assert object_keys(s3_storage) == [LISTING_KEY, RECORDS_KEY]
    stored = StoredListing(UPath(f"{s3_storage}/{LISTING_KEY}"))
    served = [m for f in ("litert", "litert-lm", "tflite") for m in listing
              if isinstance(m.get("tags"), list) and f in m["tags"]]
    assert list(stored.models) == served and stored.count == len(served)
    listing_metadata = metadata(first, "hf_litert_listing")
    assert listing_metadata["count"] == len(served)
    assert listing_metadata["path"] == f"{s3_storage}/{LISTING_KEY}"
    assert "testing" not in repr(listing_metadata)  # the AWS credentials of the fixture
    created = metadata(first, "ml_models")["created"]
    assert created > 100

    again = materialize(resources, selection=[ml_models])

    assert again.success
    assert metadata(again, "ml_models")["unchanged"] == created
    records = StoredRecords(UPath(f"{s3_storage}/{RECORDS_KEY}"))
    assert records.num_rows == created and records.attrs["fetched_at"] == stored.fetched_at.isoformat()


def test_a_listing_page_that_fails_on_s3_stores_nothing(sync_resources, listing, fake_hub, s3_storage):
    fake_hub.fail_on_page(2, status=500)

    failed = materialize(with_storage(sync_resources, s3_storage), selection=[hf_litert_listing])

    assert not failed.success
    assert object_keys(s3_storage) == []
    assert not boto3.client("s3").list_multipart_uploads(Bucket=bucket_of(s3_storage)[0]).get("Uploads")


def test_a_listing_page_that_fails_on_s3_leaves_the_stored_partition_as_it_was(
    sync_resources, listing, fake_hub, s3_storage
):
    resources = with_storage(sync_resources, s3_storage)
    bucket, prefix = bucket_of(s3_storage)
    s3 = boto3.client("s3")
    assert materialize(resources, selection=[hf_litert_listing]).success
    etag = s3.head_object(Bucket=bucket, Key=f"{prefix}/{LISTING_KEY}")["ETag"]
    fake_hub.fail_on_page(3, status=500)

    assert not materialize(resources, selection=[hf_litert_listing]).success
    assert s3.head_object(Bucket=bucket, Key=f"{prefix}/{LISTING_KEY}")["ETag"] == etag
    assert object_keys(s3_storage) == [LISTING_KEY]


def test_a_partition_missing_from_s3_is_a_clear_error(sync_resources, s3_storage):
    result = materialize(with_storage(sync_resources, s3_storage), selection=[ml_models])

    assert not result.success
    assert (f"No stored litert_model_records for partition {TODAY} at {s3_storage}/{RECORDS_KEY}; "
            "materialize that partition of it first.") in error_text(result, "ml_models")


def test_a_missing_bucket_is_an_error_naming_the_setting(sync_resources, listing, s3_storage):
    result = materialize(with_storage(sync_resources, "s3://no-such-bucket-here/prefix"), selection=[hf_litert_listing])

    assert not result.success
    assert "POCKETAI_STORAGE_URL" in error_text(result, "hf_litert_listing")
    assert "s3://no-such-bucket-here/prefix" in error_text(result, "hf_litert_listing")


# Local folders ----------------------------------------------------------------------------------------


def test_a_local_sync_streams_the_listing_and_leaves_no_temp_file(sync_resources, listing, tmp_path):
    data = tmp_path / "data"

    result = materialize(sync_resources)

    assert result.success
    assert files_under(data) == [LISTING_KEY, RECORDS_KEY]
    header, *objects = [json.loads(line) for line in zstd_text(data / LISTING_KEY).splitlines()]  # header first
    assert header["count"] == len(objects) == metadata(result, "hf_litert_listing")["count"]
    assert header["pages"] == metadata(result, "hf_litert_listing")["pages"]


def test_a_failed_listing_leaves_nothing_in_the_folder_after_a_step_retry(sync_resources, listing, fake_hub, tmp_path):
    fake_hub.fail_on_page(2, status=500)

    result = materialize(sync_resources, selection=[hf_litert_listing])

    assert not result.success
    assert not (tmp_path / "data").exists() or files_under(tmp_path / "data") == []
    first_pages = [r for r in fake_hub.requests
                   if r.path == "/api/models" and "cursor" not in r.query and r.query["filter"] == ["litert"]]
    assert len(first_pages) == 2  # a page failing while the IO manager writes still retries the step


def test_a_refused_token_fails_at_once_in_the_asset_before_anything_is_written(
    sync_resources, listing, fake_hub, tmp_path
):
    fake_hub.fail_on_page(1, status=401)

    result = materialize(sync_resources, selection=[hf_litert_listing])

    assert not result.success
    assert "anonymous access was refused" in error_text(result, "hf_litert_listing")
    assert len([r for r in fake_hub.requests if r.path == "/api/models"]) == 1  # no step retry
    assert not (tmp_path / "data").exists() or files_under(tmp_path / "data") == []


def test_a_crash_while_writing_leaves_no_partition(tmp_path):
    """A process killed in the middle of writing records (one row group written, the next never comes)."""
    script = textwrap.dedent(f"""
        import sys, time
        from upath import UPath
        from pocketai_pipeline.defs.io_managers import RecordsIOManager
        from pocketai_pipeline.sync.normalize import normalize_listing
        from pocketai_pipeline_tests.synthetic import synthetic_listing
        import dagster as dg

        store = RecordsIOManager(base_dir={str(tmp_path)!r}).create_io_manager(dg.build_init_resource_context())
        records = normalize_listing(synthetic_listing(50)).records

        def frames():
            yield records
            print("first row group written", flush=True)
            time.sleep(600)

        store.dump_to_path(None, frames(), UPath({str(tmp_path / "records.parquet")!r}))
    """)
    with subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True) as writer:
        assert writer.stdout.readline().strip() == "first row group written"
        writer.send_signal(signal.SIGKILL)
    assert not (tmp_path / "records.parquet").exists()

    context = dg.build_input_context(
        asset_key=dg.AssetKey("litert_model_records"), partition_key=TODAY, asset_partitions_def=daily_partitions
    )
    with pytest.raises(FileNotFoundError, match=f"No stored litert_model_records for partition {TODAY} at "):
        RecordsIOManager(base_dir=str(tmp_path)).create_io_manager(dg.build_init_resource_context()).load_input(context)


def test_an_unwritable_folder_is_an_error_naming_the_setting_and_the_path(sync_resources, listing, tmp_path):
    (tmp_path / "a-file").write_text("not a folder")
    base = tmp_path / "a-file" / "data"

    result = materialize(with_storage(sync_resources, str(base)), selection=[hf_litert_listing])

    assert not result.success
    text = error_text(result, "hf_litert_listing")
    assert "POCKETAI_STORAGE_URL (default $POCKETAI_HOME/data)" in text and str(base / "hf_litert_listing") in text


def test_a_full_disk_is_an_error_naming_the_setting_and_leaves_no_partition(
    sync_resources, listing, tmp_path, monkeypatch
):
    def no_space(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("pocketai_pipeline.defs.io_managers.os.fsync", no_space)

    result = materialize(sync_resources, selection=[hf_litert_listing])

    assert not result.success
    text = error_text(result, "hf_litert_listing")
    assert "No space left on device" in text and "POCKETAI_STORAGE_URL" in text
    assert str(tmp_path / "data" / LISTING_KEY) in text
    assert files_under(tmp_path / "data") == []


# The stored types -------------------------------------------------------------------------------------


def records_store(tmp_path):
    return RecordsIOManager(base_dir=str(tmp_path)).create_io_manager(dg.build_init_resource_context())


def test_records_written_in_chunks_are_row_groups_with_attrs_known_at_the_end(tmp_path):
    records = normalize_listing(synthetic_listing(90) + edge_case_models()).records
    attrs = {"fetched_at": "2026-11-25T02:00:00+00:00"}

    def chunks():
        for start in range(0, len(records), 40):
            yield records.iloc[start:start + 40]
        attrs["skipped_invalid"] = 6  # counted only once every chunk is out

    path = UPath(tmp_path / "records.parquet")
    records_store(tmp_path).dump_to_path(None, RecordFrames(chunks(), attrs), path)

    stored = StoredRecords(path)
    assert stored.attrs == {"fetched_at": "2026-11-25T02:00:00+00:00", "skipped_invalid": 6}
    assert stored.num_rows == len(records)
    assert pq.ParquetFile(path.path).num_row_groups == -(-len(records) // 40)
    frames = list(stored.iter_frames(batch_size=25))
    assert all(dict(frame.dtypes) == {c: pd.api.types.pandas_dtype(d) for c, d in RECORD_DTYPES.items()}
               for frame in frames)
    whole = pd.concat(frames, ignore_index=True)
    pd.testing.assert_frame_equal(whole, records.reset_index(drop=True))
    assert stored.ids().to_pylist() == records["hf_model_id"].tolist()
    assert whole["task"].isna().any() and all(v is pd.NA for v in whole["task"][whole["task"].isna()])
    assert whole["downloads"].dtype == "Int64" and str(whole["hf_last_modified"].dt.tz) == "UTC"


def test_a_data_frame_and_an_empty_listing_round_trip(tmp_path):
    records = normalize_listing(synthetic_listing(10)).records
    records.attrs = {"filters": ["litert"]}
    store = records_store(tmp_path)

    store.dump_to_path(None, records, UPath(tmp_path / "a.parquet"))
    store.dump_to_path(None, iter([]), UPath(tmp_path / "empty.parquet"))

    frame = StoredRecords(UPath(tmp_path / "a.parquet")).to_frame()
    pd.testing.assert_frame_equal(frame, records)
    assert frame.attrs == {"filters": ["litert"]}
    empty = StoredRecords(UPath(tmp_path / "empty.parquet"))
    assert empty.num_rows == 0 and empty.ids().to_pylist() == [] and empty.attrs == {}
    pd.testing.assert_frame_equal(empty.to_frame(), normalize_listing([]).records)


def test_records_with_other_columns_are_refused(tmp_path):
    records = normalize_listing(synthetic_listing(3)).records.drop(columns=["likes"])

    with pytest.raises(ValueError, match="expected RECORD_COLUMNS"):
        records_store(tmp_path).dump_to_path(None, records, UPath(tmp_path / "r.parquet"))
    assert files_under(tmp_path) == []


def test_the_stored_listing_reads_lazily_and_can_be_iterated_again(sync_resources, listing, tmp_path):
    assert materialize(sync_resources, selection=[hf_litert_listing]).success

    stored = StoredListing(UPath(tmp_path / "data" / LISTING_KEY))

    assert len(stored.models) == stored.count
    assert list(stored.models) == list(stored.iter_models()) == stored.to_listing().models
    assert stored.filters == ("litert", "litert-lm", "tflite") and stored.pages_by_filter["litert"] >= 2


# Settings ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/var/lib/pocketai/data", "relative/data", "s3://bucket/prefix", "gs://bucket",
                                 "file:///tmp/data"])
def test_storage_urls_that_are_accepted(url):
    assert check_storage_url(url) == url


@pytest.mark.parametrize("url, message", [
    ("ftp://host/data", "POCKETAI_STORAGE_URL has the unsupported scheme 'ftp://'; give a local folder"),
    ("s3://", "POCKETAI_STORAGE_URL='s3://' names no bucket; give e.g. s3://my-bucket/pocketai"),
    ("  ", "POCKETAI_STORAGE_URL is empty"),
])
def test_a_bad_storage_url_is_an_error_naming_the_setting_and_an_example(url, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace("'", "'")):
        check_storage_url(url)


def test_credentials_in_the_storage_url_are_refused_without_echoing_them():
    with pytest.raises(ValueError, match="must not carry credentials") as refused:
        check_storage_url("s3://AKIA123:s3cr3t@bucket/prefix")
    assert "s3cr3t" not in str(refused.value)


def test_the_code_location_reads_pocketai_storage_url(monkeypatch, tmp_path):
    monkeypatch.setenv("POCKETAI_HOME", str(tmp_path))
    monkeypatch.delenv("POCKETAI_STORAGE_URL", raising=False)
    assert build_resources()["listing_io_manager"].base_dir == str(tmp_path / "data")

    monkeypatch.setenv("POCKETAI_STORAGE_URL", "s3://bucket/pocketai/")
    resources = build_resources()
    assert resources["listing_io_manager"].base_dir == resources["records_io_manager"].base_dir == "s3://bucket/pocketai"

    monkeypatch.setenv("POCKETAI_STORAGE_URL", "ftp://nope")
    with pytest.raises(ValueError, match="POCKETAI_STORAGE_URL"):
        build_resources()
