-- The system user's active models, and those of them the listing :listed_ids lacks (contract rule 7).
WITH listed AS (
    SELECT DISTINCT unnest(CAST(:listed_ids AS text[])) AS hf_model_id
),
active AS (
    SELECT m.hf_model_id
    FROM ml_models AS m
    JOIN users AS u ON u.id = m.author_id
    WHERE u.username = :system_username
      AND m.hf_model_id IS NOT NULL
      AND m.removed_upstream_at IS NULL
)
SELECT
    (SELECT count(*) FROM active) AS active_synced,
    ARRAY(SELECT hf_model_id FROM active EXCEPT SELECT hf_model_id FROM listed ORDER BY 1) AS missing
