-- Runtime files waiting for their facts (rule 13): of active synced models, at the revision whose files
-- are synced, with what an earlier run read from a .litertlm file of the same sha256, if any.
SELECT f.id, m.hf_model_id, f.hf_sha, f.path, f.size_bytes, f.sha256, f.format,
       h.status AS header_status, h.error AS header_error, h.container_version, h.max_context_tokens,
       h.input_modalities, h.backends, h.target_soc, h.supports_thinking, h.supports_function_calling,
       h.supports_speculative_decoding, h.min_runtime_version
FROM ml_model_files AS f
JOIN ml_models AS m ON m.id = f.model_id
JOIN users AS u ON u.id = m.author_id
LEFT JOIN litertlm_headers AS h ON h.sha256 = f.sha256 AND f.format = 'litert-lm'
WHERE f.facts_status = 'pending'
  AND u.username = :system_username
  AND m.removed_upstream_at IS NULL
  AND m.files_synced_sha = f.hf_sha
ORDER BY m.hf_last_modified DESC NULLS LAST, f.id
