-- The staged records that have no catalog row yet, owned by the system user (contract rule 1).
-- Gives how many were inserted and the first :kept of their ids (in code point order, as Python sorts):
-- a million ids as Python strings would cost the step hundreds of MB.
WITH inserted AS (
    INSERT INTO ml_models (
        name, hf_model_id, origin_repo_url, author_id, tags, task, license_type,
        downloads, likes, gated, hf_sha, hf_created_at, hf_last_modified,
        hf_license_id, hf_license_name, library_name, base_models, runtime_formats, hf_gated, hf_sync_hash, created_at, updated_at
    )
    SELECT
        s.name, s.hf_model_id, s.origin_repo_url, :system_user_id, CAST(s.tags AS text[]), s.task,
        CAST(s.license_type AS license_type), s.downloads, s.likes, s.gated, s.hf_sha,
        timestamptz 'epoch' + s.hf_created_at_us * interval '1 microsecond',
        timestamptz 'epoch' + s.hf_last_modified_us * interval '1 microsecond',
        s.hf_license_id, s.hf_license_name, s.library_name, CAST(s.base_models AS text[]),
        CAST(s.runtime_formats AS text[]), s.hf_gated, s.hf_sync_hash, now(), now()
    FROM hf_listing_stage AS s
    WHERE NOT EXISTS (SELECT 1 FROM ml_models AS m WHERE m.hf_model_id = s.hf_model_id)
    ORDER BY s.hf_model_id
    ON CONFLICT (hf_model_id) DO NOTHING
    RETURNING hf_model_id
)
SELECT (SELECT count(*) FROM inserted) AS created,
       ARRAY(SELECT hf_model_id FROM inserted ORDER BY hf_model_id COLLATE "C" LIMIT :kept) AS created_ids
