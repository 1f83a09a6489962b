-- Record that the row's files and description are those of :sha, only if the row is still the
-- system user's and still at :sha (a newer merge may have moved it on). updated_at moves only when
-- the description really changed (rule 5).
UPDATE ml_models
SET files_synced_sha = :sha,
    description = :description,
    updated_at = CASE WHEN description IS DISTINCT FROM :description THEN now() ELSE updated_at END
WHERE id = :model_id
  AND hf_sha = :sha
  AND author_id = (SELECT id FROM users WHERE username = :system_username)
RETURNING id
