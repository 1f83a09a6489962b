-- The system user's active models that the listing no longer has and whose removal a lookup of
-- their own confirmed (:confirmed_ids); marked once (contract rule 7).
UPDATE ml_models AS m
SET removed_upstream_at = now(),
    updated_at = now()
WHERE m.author_id = :system_user_id
  AND m.hf_model_id = ANY(CAST(:confirmed_ids AS text[]))
  AND m.removed_upstream_at IS NULL
  AND NOT EXISTS (SELECT 1 FROM hf_listing_stage AS s WHERE s.hf_model_id = m.hf_model_id)
RETURNING m.hf_model_id
