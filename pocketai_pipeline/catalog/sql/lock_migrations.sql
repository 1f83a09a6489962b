-- Held until the migrating transaction ends: concurrent migrations run one after another.
SELECT pg_advisory_xact_lock(hashtext('pocketai_pipeline.migrate_to_head'))
