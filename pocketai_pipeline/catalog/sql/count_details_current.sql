-- Active synced models whose files already are those of their current revision: no request needed.
SELECT count(*)
FROM ml_models AS m
JOIN users AS u ON u.id = m.author_id
WHERE u.username = :system_username
  AND m.removed_upstream_at IS NULL
  AND m.hf_sha IS NOT NULL
  AND m.hf_sha = m.files_synced_sha
