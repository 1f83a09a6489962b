"""Storage faults under the IO managers' base dir (POCKETAI_STORAGE_URL, default $POCKETAI_HOME/data), on a
synced catalog (issue 9, item 2): a clear error naming the path and the setting, no half-written partition,
every catalog row with its xmin.

Tests run as root here, where chmod stops no write: an unwritable dir is a read-only tmpfs mount (EROFS) or
a path under a regular file (ENOTDIR); a full disk is a tiny tmpfs filled to the last byte (ENOSPC).
"""

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from pocketai_pipeline.defs.io_managers import ListingIOManager, RecordsIOManager
from pocketai_pipeline_tests.catalog_snapshot import YESTERDAY, applied_listings, snapshot, stored_files, sync
from pocketai_pipeline_tests.synthetic import synthetic_cards, synthetic_listing

HUB_MODELS = synthetic_listing(30)


@pytest.fixture
def synced(fake_hub, sync_resources):
    fake_hub.set_models(HUB_MODELS, cards=synthetic_cards(HUB_MODELS))
    assert sync(sync_resources).success
    engine = sync_resources["catalog"].engine()
    return engine, snapshot(engine), applied_listings(engine)


@pytest.fixture
def tmpfs(tmp_path) -> Iterator[callable]:
    """Mounts tiny tmpfs filesystems (root only), unmounted at the end."""
    mounted: list[Path] = []

    def mount(name: str, options: str) -> Path:
        point = tmp_path / name
        point.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(point)], capture_output=True)
        if done.returncode != 0:
            pytest.fail(f"cannot mount a tmpfs here (the tests run as root): {done.stderr.decode().strip()}")
        mounted.append(point)
        return point

    yield mount
    for point in reversed(mounted):
        subprocess.run(["umount", "-l", str(point)], check=False)


def full_disk(tmpfs) -> Path:
    point = tmpfs("full", "size=64k")
    (point / "data").mkdir()
    try:
        with open(point / "filler", "wb") as f:
            while True:
                f.write(b"\0" * 4096)
                f.flush()
    except OSError:
        pass
    return point / "data"


def read_only_disk(tmpfs) -> Path:
    point = tmpfs("ro", "size=64k,ro")
    return point / "data"


CASES = {
    "disk-full": (full_disk, "No space left on device"),
    "read-only-filesystem": (read_only_disk, "Read-only file system"),
}


@pytest.mark.parametrize("case", ["disk-full", "read-only-filesystem", "base-dir-under-a-regular-file"])
def test_storage_that_cannot_be_written_fails_clearly_with_no_half_partition_and_no_row_changed(
    fake_hub, sync_resources, synced, tmpfs, tmp_path, case
):
    engine, before, applied_before = synced
    if case == "base-dir-under-a-regular-file":
        (tmp_path / "a-file").write_text("not a directory")
        base, reason = tmp_path / "a-file" / "data", "Not a directory"
    else:
        make, reason = CASES[case]
        base = make(tmpfs)
    fake_hub.mutate(add=2, change=2)  # would write rows, if the run got that far
    resources = {**sync_resources, "listing_io_manager": ListingIOManager(base_dir=str(base)),
                 "records_io_manager": RecordsIOManager(base_dir=str(base))}

    result = sync(resources, YESTERDAY)

    assert not result.success
    assert result.failed_steps == ["hf_litert_listing"]
    message = result.error
    assert reason in message and str(base) in message, message
    assert "POCKETAI_STORAGE_URL" in message, message
    assert snapshot(engine) == before and applied_listings(engine) == applied_before
    leftovers = stored_files(base) if base.is_dir() else {}
    assert leftovers == {}, f"half-written partition files left: {sorted(leftovers)}"
