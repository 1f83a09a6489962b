INSERT INTO ml_models (
    name, hf_model_id, origin_repo_url, author_id, tags, task, license_type,
    downloads, likes, gated, hf_sha, hf_created_at, hf_last_modified,
    hf_license_id, hf_license_name, library_name, base_models, runtime_formats, created_at, updated_at
)
SELECT
    s.name, s.hf_model_id, s.origin_repo_url, :system_user_id, s.tags, s.task, s.license_type,
    s.downloads, s.likes, s.gated, s.hf_sha, s.hf_created_at, s.hf_last_modified,
    s.hf_license_id, s.hf_license_name, s.library_name, s.base_models, s.runtime_formats, now(), now()
FROM hf_listing_stage AS s
WHERE NOT EXISTS (SELECT 1 FROM ml_models AS m WHERE m.hf_model_id = s.hf_model_id)
ORDER BY s.hf_model_id
ON CONFLICT (hf_model_id) DO NOTHING
RETURNING hf_model_id
