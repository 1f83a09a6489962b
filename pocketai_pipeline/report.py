"""Print what the latest sync did, from the Dagster instance: `python -m pocketai_pipeline.report`.

`make sync` (pocketai_pipeline.devserver) prints the same counts line at its end.
"""

import dagster as dg

COUNTS = ("created", "updated", "unchanged", "removed", "restored", "skipped", "stale", "dagster/row_count")


def latest_sync_counts(instance: dg.DagsterInstance) -> dict[str, object] | None:
    event = instance.get_latest_materialization_event(dg.AssetKey("ml_models"))
    if event is None or event.asset_materialization is None:
        return None
    materialization = event.asset_materialization
    metadata = {key: value.value for key, value in materialization.metadata.items()}
    return {"partition": materialization.partition, **{key: metadata.get(key) for key in COUNTS}}


def format_counts(counts: dict[str, object]) -> str:
    """`partition=2026-11-25  created=3  updated=0  …  row_count=2168`: one line, key=value."""
    return "  ".join(f"{key.removeprefix('dagster/')}={value}" for key, value in counts.items())


def main() -> None:
    with dg.DagsterInstance.get() as instance:
        counts = latest_sync_counts(instance)
    if counts is None:
        raise SystemExit("ml_models has never been materialized in this Dagster instance")
    print(format_counts(counts))


if __name__ == "__main__":
    main()
