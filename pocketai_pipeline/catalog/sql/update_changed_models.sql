-- Rewrite the system user's staged rows whose content hash differs from the stored one (a synced
-- field changed, or the row was synced before hashes were kept), or that are listed again after
-- being marked removed. Only changed records are staged, and an identical row is never written
-- (contract rule 5). Gives how many were updated and restored, and the first :kept ids of each.
WITH changed AS (
    SELECT m.id, m.removed_upstream_at IS NOT NULL AS restored
    FROM ml_models AS m
    JOIN hf_listing_stage AS s ON s.hf_model_id = m.hf_model_id
    WHERE m.author_id = :system_user_id
      AND (m.removed_upstream_at IS NOT NULL OR m.hf_sync_hash IS DISTINCT FROM s.hf_sync_hash)
),
rewritten AS (
    UPDATE ml_models AS m
    SET name = s.name,
        origin_repo_url = s.origin_repo_url,
        tags = CAST(s.tags AS text[]),
        task = s.task,
        license_type = CAST(s.license_type AS license_type),
        downloads = s.downloads,
        likes = s.likes,
        gated = s.gated,
        hf_sha = s.hf_sha,
        hf_created_at = timestamptz 'epoch' + s.hf_created_at_us * interval '1 microsecond',
        hf_last_modified = timestamptz 'epoch' + s.hf_last_modified_us * interval '1 microsecond',
        hf_license_id = s.hf_license_id,
        hf_license_name = s.hf_license_name,
        library_name = s.library_name,
        base_models = CAST(s.base_models AS text[]),
        runtime_formats = CAST(s.runtime_formats AS text[]),
        hf_gated = s.hf_gated,
        hf_sync_hash = s.hf_sync_hash,
        removed_upstream_at = NULL,
        updated_at = now()
    FROM changed, hf_listing_stage AS s
    WHERE m.id = changed.id
      AND s.hf_model_id = m.hf_model_id
    RETURNING m.hf_model_id, changed.restored
)
SELECT (SELECT count(*) FROM rewritten WHERE NOT restored) AS updated,
       ARRAY(SELECT hf_model_id FROM rewritten WHERE NOT restored ORDER BY hf_model_id COLLATE "C" LIMIT :kept) AS updated_ids,
       (SELECT count(*) FROM rewritten WHERE restored) AS restored,
       ARRAY(SELECT hf_model_id FROM rewritten WHERE restored ORDER BY hf_model_id COLLATE "C" LIMIT :kept) AS restored_ids
