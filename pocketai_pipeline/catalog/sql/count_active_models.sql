SELECT count(*) FROM ml_models WHERE removed_upstream_at IS NULL
