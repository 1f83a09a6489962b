-- Every catalog row with an hf_model_id: its owner (contract rule 6) and whether it is marked removed
-- upstream (rule 7). Read into Arrow, for the questions the listing's ids ask of it.
SELECT m.hf_model_id, m.author_id, m.removed_upstream_at IS NOT NULL AS removed
FROM ml_models AS m
WHERE m.hf_model_id IS NOT NULL
