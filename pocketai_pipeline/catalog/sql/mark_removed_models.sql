-- The system user's active models that the listing no longer has and whose removal a lookup of
-- their own confirmed (:unlisted_confirmed_ids, already without the listed ones); marked once
-- (contract rule 7).
UPDATE ml_models AS m
SET removed_upstream_at = now(),
    updated_at = now()
WHERE m.author_id = :system_user_id
  AND m.hf_model_id = ANY(CAST(:unlisted_confirmed_ids AS text[]))
  AND m.removed_upstream_at IS NULL
RETURNING m.hf_model_id
