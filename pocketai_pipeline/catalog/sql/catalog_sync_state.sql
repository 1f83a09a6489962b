-- Every catalog row with an hf_model_id, read once per merge into Arrow: its owner (contract rule 6),
-- whether it is marked removed upstream (rule 7) and its content hash.
SELECT m.hf_model_id, m.author_id, m.removed_upstream_at IS NOT NULL AS removed, m.hf_sync_hash
FROM ml_models AS m
WHERE m.hf_model_id IS NOT NULL
