-- Rewrite only the system user's rows that differ from the listing, or that are listed again
-- after being marked removed; an identical row is not written at all (contract rule 5).
WITH changed AS (
    SELECT m.id, m.removed_upstream_at IS NOT NULL AS restored
    FROM ml_models AS m
    JOIN hf_listing_stage AS s ON s.hf_model_id = m.hf_model_id
    WHERE m.author_id = :system_user_id
      AND (
          m.removed_upstream_at IS NOT NULL
          OR (m.name, m.origin_repo_url, m.tags, m.task, m.license_type, m.downloads, m.likes,
              m.gated, m.hf_sha, m.hf_created_at, m.hf_last_modified,
              m.hf_license_id, m.hf_license_name, m.library_name, m.base_models, m.runtime_formats)
             IS DISTINCT FROM
             (s.name, s.origin_repo_url, s.tags, s.task, s.license_type, s.downloads, s.likes,
              s.gated, s.hf_sha, s.hf_created_at, s.hf_last_modified,
              s.hf_license_id, s.hf_license_name, s.library_name, s.base_models, s.runtime_formats)
      )
)
UPDATE ml_models AS m
SET name = s.name,
    origin_repo_url = s.origin_repo_url,
    tags = s.tags,
    task = s.task,
    license_type = s.license_type,
    downloads = s.downloads,
    likes = s.likes,
    gated = s.gated,
    hf_sha = s.hf_sha,
    hf_created_at = s.hf_created_at,
    hf_last_modified = s.hf_last_modified,
    hf_license_id = s.hf_license_id,
    hf_license_name = s.hf_license_name,
    library_name = s.library_name,
    base_models = s.base_models,
    runtime_formats = s.runtime_formats,
    removed_upstream_at = NULL,
    updated_at = now()
FROM changed, hf_listing_stage AS s
WHERE m.id = changed.id
  AND s.hf_model_id = m.hf_model_id
RETURNING m.hf_model_id, changed.restored
