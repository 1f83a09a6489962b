INSERT INTO ml_model_files (model_id, hf_sha, path, size_bytes, sha256, is_runtime_file)
SELECT :model_id, :sha, f.path, f.size_bytes, f.sha256, f.is_runtime_file
FROM unnest(CAST(:paths AS text[]), CAST(:sizes AS bigint[]), CAST(:sha256s AS text[]), CAST(:runtime AS boolean[]))
     AS f(path, size_bytes, sha256, is_runtime_file)
