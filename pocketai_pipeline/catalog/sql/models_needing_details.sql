-- Active synced models whose files are not those of their current revision (contract rule 12),
-- the most recently modified first. Rows owned by people never appear here (rule 6).
SELECT m.id, m.hf_model_id, m.hf_sha
FROM ml_models AS m
JOIN users AS u ON u.id = m.author_id
WHERE u.username = :system_username
  AND m.hf_model_id IS NOT NULL
  AND m.removed_upstream_at IS NULL
  AND m.hf_sha IS NOT NULL
  AND m.hf_sha IS DISTINCT FROM m.files_synced_sha
ORDER BY m.hf_last_modified DESC NULLS LAST, m.id
