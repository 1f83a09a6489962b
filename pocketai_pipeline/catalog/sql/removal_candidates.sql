-- The system user's active models that the listing :listed_ids does not have (contract rule 7).
WITH listed AS (
    SELECT DISTINCT unnest(CAST(:listed_ids AS text[])) AS hf_model_id
)
SELECT m.hf_model_id
FROM ml_models AS m
JOIN users AS u ON u.id = m.author_id
LEFT JOIN listed ON listed.hf_model_id = m.hf_model_id
WHERE u.username = :system_username
  AND m.hf_model_id IS NOT NULL
  AND m.removed_upstream_at IS NULL
  AND listed.hf_model_id IS NULL
ORDER BY m.hf_model_id
