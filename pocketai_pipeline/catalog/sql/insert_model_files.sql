-- One model's files at :sha, runtime files `pending` for their facts (rule 13), and the same files in
-- the history (rule 14), which keeps a revision written before (a model back at an older sha).
WITH files AS (
    INSERT INTO ml_model_files (model_id, hf_sha, path, size_bytes, sha256, is_runtime_file, format, facts_status)
    SELECT :model_id, :sha, f.path, f.size_bytes, f.sha256, f.format IS NOT NULL, f.format,
           CASE WHEN f.format IS NOT NULL THEN 'pending' END
    FROM unnest(CAST(:paths AS text[]), CAST(:sizes AS bigint[]), CAST(:sha256s AS text[]), CAST(:formats AS text[]))
         AS f(path, size_bytes, sha256, format)
    RETURNING model_id, hf_sha, path, size_bytes, sha256
)
INSERT INTO ml_model_file_revisions (model_id, hf_sha, path, size_bytes, sha256)
SELECT model_id, hf_sha, path, size_bytes, sha256 FROM files
ON CONFLICT (model_id, hf_sha, path) DO NOTHING
