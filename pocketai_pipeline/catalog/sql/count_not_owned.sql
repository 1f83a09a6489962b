-- Staged records whose catalog row belongs to someone else (a person added it after the merge read
-- the catalog): never touched (contract rule 6).
SELECT count(*)
FROM hf_listing_stage AS s
JOIN ml_models AS m ON m.hf_model_id = s.hf_model_id
WHERE m.author_id <> :system_user_id
