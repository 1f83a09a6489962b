SELECT max(fetched_at) FROM hf_sync_applied_listings
