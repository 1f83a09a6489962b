-- The last :limit applied listings, newest first: the sync history shown on ml_models.
SELECT partition_key, fetched_at, applied_at, listed, created, updated, removed, restored, active,
       removal_unverified, duration_seconds
FROM hf_sync_applied_listings
ORDER BY applied_at DESC, id DESC
LIMIT :limit
