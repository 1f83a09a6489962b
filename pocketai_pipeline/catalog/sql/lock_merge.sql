-- Held until the merge transaction ends: two merges never overlap (contract rule 10).
SELECT pg_advisory_xact_lock(hashtext('pocketai_pipeline.merge_records'))
