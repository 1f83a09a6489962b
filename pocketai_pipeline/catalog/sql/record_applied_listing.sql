INSERT INTO hf_sync_applied_listings (
    partition_key, fetched_at, listed, created, updated, unchanged, restored, removed,
    skipped_not_owned, removal_blocked, active, removal_unverified, shrink_accepted, duration_seconds
)
VALUES (
    :partition_key, :fetched_at, :listed, :created, :updated, :unchanged, :restored, :removed,
    :skipped_not_owned, :removal_blocked, :active, :removal_unverified, :shrink_accepted, :duration_seconds
)
