-- The system user's active models that the listing no longer has; marked once (contract rule 7).
UPDATE ml_models AS m
SET removed_upstream_at = now(),
    updated_at = now()
WHERE m.author_id = :system_user_id
  AND m.hf_model_id IS NOT NULL
  AND m.removed_upstream_at IS NULL
  AND NOT EXISTS (SELECT 1 FROM hf_listing_stage AS s WHERE s.hf_model_id = m.hf_model_id)
RETURNING m.hf_model_id
