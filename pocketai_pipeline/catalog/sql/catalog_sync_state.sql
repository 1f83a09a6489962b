-- Every catalog row with an hf_model_id, read once per merge with COPY into Arrow: its content hash
-- (hex), its owner (contract rule 6) and whether it is marked removed upstream (rule 7).
SELECT m.hf_model_id, encode(m.hf_sync_hash, 'hex') AS hf_sync_hash, m.author_id,
       m.removed_upstream_at IS NOT NULL AS removed
FROM ml_models AS m
WHERE m.hf_model_id IS NOT NULL
