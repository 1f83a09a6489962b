-- Listed models with no active synced row (and no row of a person), and active synced rows the listing lacks.
WITH listed AS (
    SELECT DISTINCT unnest(CAST(:listed_ids AS text[])) AS hf_model_id
),
synced AS (
    SELECT m.hf_model_id
    FROM ml_models AS m
    JOIN users AS u ON u.id = m.author_id
    WHERE u.username = :system_username AND m.hf_model_id IS NOT NULL AND m.removed_upstream_at IS NULL
),
owned_by_people AS (
    SELECT m.hf_model_id
    FROM ml_models AS m
    JOIN users AS u ON u.id = m.author_id
    WHERE u.username <> :system_username AND m.hf_model_id IS NOT NULL
)
SELECT
    ARRAY(SELECT hf_model_id FROM listed EXCEPT SELECT hf_model_id FROM synced
          EXCEPT SELECT hf_model_id FROM owned_by_people ORDER BY 1) AS missing,
    ARRAY(SELECT hf_model_id FROM synced EXCEPT SELECT hf_model_id FROM listed ORDER BY 1) AS unexpected
