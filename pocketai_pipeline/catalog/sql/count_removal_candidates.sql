-- Active synced models, and how many of them are missing from the listing :listed_ids.
WITH listed AS (
    SELECT DISTINCT unnest(CAST(:listed_ids AS text[])) AS hf_model_id
)
SELECT
    count(*) AS active_synced,
    count(*) FILTER (WHERE listed.hf_model_id IS NULL) AS would_remove
FROM ml_models AS m
JOIN users AS u ON u.id = m.author_id
LEFT JOIN listed ON listed.hf_model_id = m.hf_model_id
WHERE u.username = :system_username
  AND m.hf_model_id IS NOT NULL
  AND m.removed_upstream_at IS NULL
